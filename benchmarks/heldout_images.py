"""Held-out whole images for `eval` (issue 17 §2), and the codec alone on one crop of them.

    python benchmarks/heldout_images.py prepare ../shared/data/aerial_extra/dubai/Tile_8 scratch/dubai8-x2 --scale 2
    python benchmarks/heldout_images.py crop scratch/dubai8-x2/image_part_001.png elic-small-mix-3 elic-small-ucm-1

``prepare`` writes each image downsampled by a whole factor (block mean, as ``tile --scale`` does for
the training tiles) as a lossless PNG. ``crop`` codes the top-left 512² crop at qualities 3 and 5 with
each model (real streams, exact entropy parameters) and prints stream bpp and PSNR of the codec alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def prepare(source: Path, target: Path, scale: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif")):
        a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
        h, w = a.shape[0] // scale * scale, a.shape[1] // scale * scale
        small = a[:h, :w].reshape(h // scale, scale, w // scale, scale, 3).mean(axis=(1, 3))
        Image.fromarray(np.round(small).astype(np.uint8)).save(target / f"{path.stem}.png")
        print(f"{path.name} → {target / (path.stem + '.png')} ({w // scale}×{h // scale})")


@torch.no_grad()
def crop(image: Path, models: list[str], size: int = 512) -> None:
    from ldmrsic_core.zoo.registry import load_codec

    pixels = np.asarray(Image.open(image).convert("RGB"))[:size, :size].astype(np.float32) / 255
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    for name in models:
        net = load_codec(name).model
        for quality in (3.0, 5.0):
            coded = net.compress(x, quality, exact=True)
            bits = 8 * sum(len(s[0]) for s in coded["strings"])
            mse = float(((net.synthesize(coded["y_hat"]) - x) ** 2).mean())
            print(f"{name} q{quality:g}: {bits / (h * w):.3f} bpp, {10 * np.log10(1 / mse):.2f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--scale", type=int, default=2)
    p = sub.add_parser("crop")
    p.add_argument("image", type=Path)
    p.add_argument("models", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "prepare":
        prepare(args.source, args.target, args.scale)
    else:
        crop(args.image, args.models)


if __name__ == "__main__":
    main()
