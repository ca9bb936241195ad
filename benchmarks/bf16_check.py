"""Does bf16 training cost quality? One fixed batch, the same training noise, fp32 against the
trainer's bf16 transforms: loss, estimated bpp, PSNR and the cosine between the two gradients.

    python benchmarks/bf16_check.py --val ../shared/data/ucmerced/val [--model elic-small-ucm-1] [--crop 128]
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import torch

from ldmrsic_core.models.codec import lambda_for_quality
from ldmrsic_core.training.data import TileSet
from ldmrsic_core.training.objective import rd_loss
from ldmrsic_core.zoo.registry import load_codec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--model", default=None, help="codec [default: the bundled default]")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    net = load_codec(a.model).model.train().to(memory_format=torch.channels_last)
    x = TileSet(a.val, a.crop).batch(a.batch, a.crop, random.Random(1)).contiguous(memory_format=torch.channels_last)
    print("| quality | fp32 loss / bpp / PSNR | bf16 loss / bpp / PSNR | gradient cosine (same batch) |")
    print("|---|---|---|---|")
    for quality in (1.0, 3.0, 5.0):
        results = {}
        for bf16 in (False, True):
            torch.manual_seed(0)  # the same uniform training noise both times
            losses = rd_loss(net(x, quality, bf16=bf16), x, lambda_for_quality(quality))
            net.zero_grad()
            losses["loss"].backward()
            grad = torch.cat([q.grad.flatten() for n, q in net.named_parameters()
                              if q.grad is not None and not n.endswith("quantiles")])
            results[bf16] = (losses["loss"].item(), losses["bpp"].item(), -10 * math.log10(losses["mse"].item()), grad)
        cosine = torch.nn.functional.cosine_similarity(results[False][3], results[True][3], dim=0).item()
        f, b = results[False], results[True]
        print(f"| {quality:g} | {f[0]:.4f} / {f[1]:.4f} / {f[2]:.3f} | {b[0]:.4f} / {b[1]:.4f} / {b[2]:.3f} | "
              f"{cosine:.3f} |")


if __name__ == "__main__":
    main()
