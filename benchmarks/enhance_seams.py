"""Seams before and after decode-time enhancement: PSNR along tile borders vs tile interiors.

Compresses each scene once (tiles with the given overlap; overlap 0 shows raw codec seams),
decodes it with ``--no-enhance`` and with the enhancer, and prints overall / border / interior
PSNR for both, plus the enhancement's decode time. Example::

    python benchmarks/enhance_seams.py ../shared/data/scenes/naip_rgbn_uint8_2020.tif \\
        --quality 1 --tile 256 --overlap 0 16 --enhancer ldmrsic-enh-1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ldmrsic_core import compress_raster, decompress_raster, read_header
from ldmrsic_core.evaluation.metrics import compare


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenes", nargs="+", type=Path)
    p.add_argument("--quality", type=float, nargs="+", default=[1.0])
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--overlap", type=int, nargs="+", default=[0, 16])
    p.add_argument("--model", default=None)
    p.add_argument("--enhancer", required=True)
    args = p.parse_args()
    print("| scene | q | overlap | bpp | decode | PSNR | border | interior | border − interior | decode s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for scene in args.scenes:
            for q in args.quality:
                for overlap in args.overlap:
                    packed = Path(tmp) / "x.ldmr"
                    result = compress_raster(scene, packed, quality=q, tile=args.tile, overlap=overlap,
                                             model=args.model, enhancer=args.enhancer, device="cpu", overwrite=True)
                    plan = read_header(packed).plan
                    for label, enhance in (("codec", False), ("enhanced", True)):
                        out = Path(tmp) / f"{label}.tif"
                        start = time.perf_counter()
                        decompress_raster(packed, out, model=args.model, enhance=enhance, device="cpu", overwrite=True)
                        seconds = time.perf_counter() - start
                        m = compare(scene, out, plan)
                        print(f"| {scene.stem} | {q:g} | {overlap} | {result.bpp:.4f} | {label} | {m['psnr']:.2f} | "
                              f"{m['psnr_tile_borders']:.2f} | {m['psnr_tile_interiors']:.2f} | "
                              f"{m['psnr_tile_borders'] - m['psnr_tile_interiors']:+.2f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
