"""What ``compress --refine STEPS`` buys: real streams of the product's coder (exact entropy parameters,
one stream per image), with and without encoder-side latent refinement, per quality preset.

    python benchmarks/latent_refine.py --val ../shared/data/ucmerced/val --limit 21 --steps 5 10
    python benchmarks/latent_refine.py --images a.png b.png --crop 256 --qualities 3 4 5 --steps 5

Each quality is coded by the codec ``compress`` uses for it (or ``--model``). Rates are bytes of the
coded streams per pixel (no container); PSNR over the whole image; encode seconds per image include
analysis and entropy coding. BD-rate and BD-PSNR are against refinement off.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ldmrsic_core.evaluation.bjontegaard import bd_psnr, bd_rate
from ldmrsic_core.evaluation.metrics import psnr
from ldmrsic_core.models.codec import STRIDE
from ldmrsic_core.tiling import padded
from ldmrsic_core.training.data import load_image
from ldmrsic_core.training.validation import ValidationSet
from ldmrsic_core.zoo.registry import load_codec
from ldmrsic_core.zoo.table import default_model


def images(args) -> list[torch.Tensor]:
    if args.images:
        loaded = [torch.from_numpy(load_image(p)) for p in args.images]
    else:
        loaded = ValidationSet(args.val, args.limit).images
    if args.crop:
        loaded = [centre_crop(x, args.crop) for x in loaded]
    return loaded


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top:top + size, left:left + size]


def code(net, x: torch.Tensor, quality: float, steps: int) -> tuple[float, float, float]:
    """(bpp, PSNR, encode seconds) of one image through the product's exact coder."""
    h, w = x.shape[-2:]
    xp = F.pad(x[None], (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")
    start = time.perf_counter()
    out = net.compress(xp, quality, exact=True, refine=steps)
    seconds = time.perf_counter() - start
    x_hat = net.decompress(out["strings"], net.latent_shape(*xp.shape[-2:]), quality, exact=True)["x_hat"]
    mse = float(torch.mean((x_hat[0, :, :h, :w] - x) ** 2))
    return 8 * sum(len(s[0]) for s in out["strings"]) / (h * w), psnr(mse), seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--val", type=Path, default=Path("../shared/data/ucmerced/val"))
    p.add_argument("--limit", type=int, default=21)
    p.add_argument("--images", nargs="*", type=Path)
    p.add_argument("--crop", type=int, default=0, help="centre crop of this size (0: whole images)")
    p.add_argument("--qualities", nargs="+", type=float, default=[1.0, 2.0, 3.0, 4.0, 5.0])
    p.add_argument("--steps", nargs="+", type=int, default=[5, 10])
    p.add_argument("--model", default=None, help="one codec for every quality [default: compress's choice]")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    pictures = images(a)
    settings = [0, *a.steps]
    table = {s: [] for s in settings}  # per setting: (bpp, PSNR, seconds) per quality
    for q in a.qualities:
        net = load_codec(a.model or default_model(q)).model
        for s in settings:
            rows = np.array([code(net, x, q, s) for x in pictures])
            table[s].append(rows.mean(0))
            print(f"q{q:g} refine {s}: {rows[:, 0].mean():.4f} bpp {rows[:, 1].mean():.2f} dB "
                  f"{rows[:, 2].mean():.2f} s/image", flush=True)
    print(f"\n{len(pictures)} images; bpp of the coded streams, mean PSNR, encode seconds per image "
          f"({a.threads} thread{'s' if a.threads > 1 else ''})")
    print("| refine | " + " | ".join(f"q{q:g}" for q in a.qualities) + " | BD-rate / BD-PSNR vs off |")
    print("|---|" + "---|" * (len(a.qualities) + 1))
    for s in settings:
        cells = " | ".join(f"{b:.4f} / {d:.2f} / {t:.1f} s" for b, d, t in table[s])
        print(f"| {s} | {cells} | {versus(table[0], table[s]) if s else ''} |")


def versus(base: list[np.ndarray], other: list[np.ndarray]) -> str:
    """BD-rate / BD-PSNR of ``other`` against ``base`` (rows of bpp, PSNR, seconds per quality)."""
    if len(base) < 2:
        return "–"
    curves = [r[0] for r in base], [r[1] for r in base], [r[0] for r in other], [r[1] for r in other]
    return f"{bd_rate(*curves):+.2f}% / {bd_psnr(*curves):+.3f} dB"

if __name__ == "__main__":
    main()
