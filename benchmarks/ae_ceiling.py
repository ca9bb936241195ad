"""What caps a codec's top rate (issue 17 §2b): the transforms, or the quantisation of the latent?

For each model and image (top-left crop), PSNR of the synthesis of the analysed latent with no
quantisation at all — the autoencoder's ceiling at that preset's gains — next to the PSNR with the
latent quantised as the entropy model codes it. When the two meet at the top preset, finer
quantisation (more bits) cannot help: only what the transforms have learned to keep can.

    python benchmarks/ae_ceiling.py --images scratch/dubai8-x2/image_part_001.png val/golfcourse79.webp \
        --models elic-small-ucm-1 elic-small-mix-3 RUNS/codec-2b-wide/last.pt

``--synthesis-steps N`` asks what the synthesis alone can draw: the latent itself is optimised for
MSE (Adam, no quantisation, N steps from the analysis' latent) and the PSNR printed every N/6 steps.
When that stays far below what a classical codec reaches, g_s is the limit, not g_a (encoder-side
latent refinement could then buy only the difference).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from codec_val import codec  # the same model names, files and run checkpoints
from PIL import Image

from ldmrsic_core.evaluation.metrics import psnr


def psnr_of(a: torch.Tensor, b: torch.Tensor) -> float:
    return psnr(torch.mean((a - b) ** 2).item())


@torch.no_grad()
def ceiling(net: torch.nn.Module, x: torch.Tensor, quality: float) -> tuple[float, float]:
    """(unquantised, quantised) PSNR of ``x`` at ``quality``."""
    gain, inv_gain = net.gains(quality)
    y = net.g_a(x) * gain
    unquantised = net.g_s(y * inv_gain).clamp(0, 1)
    quantised = net.g_s(net.latent_codec(y)["y_hat"] * inv_gain).clamp(0, 1)
    return psnr_of(unquantised, x), psnr_of(quantised, x)


def synthesis_ceiling(net: torch.nn.Module, x: torch.Tensor, steps: int, lr: float = 0.05) -> list[tuple[int, float]]:
    """PSNR of g_s(y) as the latent y is optimised for MSE from g_a(x): (step, PSNR) six times."""
    for param in net.parameters():
        param.requires_grad_(False)
    y = net.g_a(x).detach().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    trace = [(0, psnr_of(net.g_s(y).clamp(0, 1), x))]
    for step in range(1, steps + 1):
        loss = torch.mean((net.g_s(y) - x) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % max(1, steps // 6) == 0 or step == steps:
            trace.append((step, psnr(loss.item())))
    return trace


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--images", nargs="+", type=Path, required=True)
    p.add_argument("--crop", type=int, default=512)
    p.add_argument("--qualities", nargs="+", type=float, default=[1.0, 3.0, 5.0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--synthesis-steps", type=int, default=0,
                   help="also optimise each image's latent for MSE this many steps (what g_s alone can draw)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print("| model | image | " + " | ".join(f"q{q:g} unquantised / quantised" for q in a.qualities) + " |")
    print("|---|---|" + "---|" * len(a.qualities))
    for model in a.models:
        name, net = codec(model)
        for path in a.images:
            pixels = np.asarray(Image.open(path).convert("RGB"))[: a.crop, : a.crop]
            x = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255
            cells = " | ".join("{:.2f} / {:.2f}".format(*ceiling(net.eval(), x, q)) for q in a.qualities)
            print(f"| {name} | {path.name} | {cells} |", flush=True)
            if a.synthesis_steps:
                trace = synthesis_ceiling(net, x, a.synthesis_steps)
                print(f"|   synthesis with an optimised latent | {path.name} | "
                      + ", ".join(f"{s}: {v:.2f}" for s, v in trace) + " |", flush=True)


if __name__ == "__main__":
    main()
