"""What the 16-pixel tile overlap costs, and whether decoding tiles from one stitched latent removes
seams without it (a prototype measured before any format change).

Three ways to code an image in tiles of ``--tile`` pixels, each tile's latent entropy-coded on its own
(exact streams, as ``.ldmr`` files hold them):

- ``independent``: no overlap; each tile analysed and synthesised alone (seams expected);
- ``joint``: no overlap; each tile analysed alone, but the decoder synthesises every tile from the
  latents of the whole image stitched together (``--margin-cells`` latent cells of its neighbours);
- ``joint+context``: as ``joint``, and the encoder analyses each tile with ``--context`` pixels of its
  neighbours around it, keeping the latent cells of the tile only.

The rate is the codec streams' bytes (the container adds the same few bytes per tile to each); the
product's own figures come from ``ldmrsic-geo compress``, whole files: with a 16-pixel overlap (the
layout of format 4) and with joined tiles (format 5, which built ``joint+context``). "border" is the
PSNR of the 8-pixel bands along tile boundaries.

    python benchmarks/joint_synthesis.py IMAGE... --qualities 3 5 --tile 512
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import torch
import torch.nn.functional as F

from ldmrsic_core.zoo.registry import load_codec
from ldmrsic_core.zoo.table import default_model

CELL = 16  # pixels per latent cell
HYPER = 64  # pixels per hyper-latent cell: the codec's input must be a multiple of it


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1.0 / float(((a - b) ** 2).mean()))


def border_mask(h: int, w: int, tile: int, band: int = 8) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    for edge in range(tile, h, tile):
        mask[edge - band // 2: edge + band // 2] = True
    for edge in range(tile, w, tile):
        mask[:, edge - band // 2: edge + band // 2] = True
    return mask


def starts(length: int, tile: int) -> list[int]:
    return list(range(0, length, tile))


@torch.no_grad()
def code_tiles(net, image: torch.Tensor, tile: int, quality: float, context: int) -> tuple[int, dict]:
    """Each tile's latent (analysed with ``context`` pixels around it) coded alone: total bytes and the
    decoded, de-gained latent cells per tile origin."""
    _, _, h, w = image.shape
    H, W = -(-h // HYPER) * HYPER, -(-w // HYPER) * HYPER
    padded = F.pad(image, (0, W - w, 0, H - h), mode="replicate")  # as the product pads a raster's edge
    gain, inv_gain = net.gains(quality)
    total, latents = 0, {}
    for r in starts(h, tile):
        for c in starts(w, tile):
            th, tw = min(tile, H - r), min(tile, W - c)
            # context from real neighbours only: at the raster's edge the decoder has none either
            r0, c0 = max(0, r - context), max(0, c - context)
            window = padded[:, :, r0: min(H, r + th + context), c0: min(W, c + tw + context)]
            y = net.analyse(window)
            a, b = (r - r0) // CELL, (c - c0) // CELL
            y = y[:, :, a: a + th // CELL, b: b + tw // CELL] * gain
            out = net._code(y, inv_gain, exact=True)
            total += sum(len(s[0]) for s in out["strings"])
            latents[(r, c)] = out["y_hat"]
    return total, latents


@torch.no_grad()
def decode_independent(net, latents: dict, h: int, w: int) -> np.ndarray:
    out = np.zeros((3, h, w), dtype=np.float32)
    for (r, c), y in latents.items():
        x = net.synthesize(y)[0].float().numpy()
        th, tw = min(x.shape[1], h - r), min(x.shape[2], w - c)
        out[:, r: r + th, c: c + tw] = x[:, :th, :tw]
    return out


@torch.no_grad()
def decode_joint(net, latents: dict, h: int, w: int, tile: int, margin: int) -> np.ndarray:
    rows = sorted({r for r, _ in latents})
    cols = sorted({c for _, c in latents})
    grid = torch.cat([torch.cat([latents[(r, c)] for c in cols], dim=3) for r in rows], dim=2)
    out = np.zeros((3, h, w), dtype=np.float32)
    gh, gw = grid.shape[2:]
    for r in rows:
        for c in cols:
            r0, c0 = r // CELL, c // CELL
            r1, c1 = min(gh, r0 + tile // CELL), min(gw, c0 + tile // CELL)
            a0, b0 = max(0, r0 - margin), max(0, c0 - margin)
            a1, b1 = min(gh, r1 + margin), min(gw, c1 + margin)
            x = net.synthesize(grid[:, :, a0:a1, b0:b1])[0].float().numpy()
            y0, x0 = (r0 - a0) * CELL, (c0 - b0) * CELL
            th, tw = min((r1 - r0) * CELL, h - r), min((c1 - c0) * CELL, w - c)
            out[:, r: r + th, c: c + tw] = x[:, y0: y0 + th, x0: x0 + tw]
    return out


def product_file(path: Path, quality: float, tile: int, overlap: int,
                 enhance: bool = False) -> tuple[int, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        coded, decoded = Path(tmp, "x.ldmr"), Path(tmp, "x.tif")
        subprocess.run(["ldmrsic-geo", "--quiet", "compress", str(path), "-o", str(coded), "--quality", str(quality),
                        "--tile", str(tile), "--overlap", str(overlap), "--device", "cpu"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["ldmrsic-geo", "--quiet", "decompress", str(coded), "-o", str(decoded), "--device", "cpu",
                        *([] if enhance else ["--no-enhance"])],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with rasterio.open(decoded) as src:
            return os.path.getsize(coded), src.read().astype(np.float32) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", type=Path, help="8-bit RGB images")
    parser.add_argument("--qualities", nargs="+", type=float, default=[3.0, 5.0])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--context", type=int, default=64, help="encoder context in pixels (multiple of 16)")
    parser.add_argument("--margin-cells", type=int, default=4, help="decoder context in latent cells")
    parser.add_argument("--no-product", action="store_true", help="skip the product's own files")
    parser.add_argument("--enhance", action="store_true", help="decode the product's files with enhancement")
    parser.add_argument("--product-only", action="store_true",
                        help="only the product's files: overlap 16 (format 4's layout) and joined tiles (format 5)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    print("| image | q | method | bytes | vs overlap 16 | PSNR | border PSNR |")
    print("|---|---|---|---|---|---|---|")
    for path in args.images:
        with rasterio.open(path) as src:
            ref = src.read().astype(np.float32) / 255
        h, w = ref.shape[1:]
        border = border_mask(h, w, args.tile)
        image = torch.from_numpy(ref)[None]
        for q in args.qualities:
            net = load_codec(default_model(q)).model.eval()
            rows = []
            if not args.no_product:
                enhanced = ", enhanced" if args.enhance else ""
                size, x = product_file(path, q, args.tile, 16, args.enhance)
                rows.append((f"product, overlap 16{enhanced}", size, x))
                size, x = product_file(path, q, args.tile, 0, args.enhance)
                rows.append((f"product, joined (format 5){enhanced}", size, x))
            if args.product_only:
                _print(path, q, rows, ref, border)
                continue
            size, latents = code_tiles(net, image, args.tile, q, 0)
            rows.append(("independent, overlap 0", size, decode_independent(net, latents, h, w)))
            rows.append((f"joint ({args.margin_cells} cells)", size,
                         decode_joint(net, latents, h, w, args.tile, args.margin_cells)))
            size, latents = code_tiles(net, image, args.tile, q, args.context)
            rows.append((f"joint+context {args.context}px", size,
                         decode_joint(net, latents, h, w, args.tile, args.margin_cells)))
            _print(path, q, rows, ref, border)


def _print(path: Path, q: float, rows: list, ref: np.ndarray, border: np.ndarray) -> None:
    base = rows[0][1]
    for name, size, x in rows:
        x = np.round(np.clip(x, 0, 1) * 255) / 255
        print(f"| {path.stem} | {q:g} | {name} | {size} | {100 * (size / base - 1):+.2f}% | "
              f"{psnr(x, ref):.3f} | {psnr(x[:, border], ref[:, border]):.3f} |", flush=True)


if __name__ == "__main__":
    main()
