"""Rate–distortion on a folder of 8-bit RGB images: ldmrsic (whole .ldmr file) vs GDAL JPEG2000 (J2K codestream).

    python benchmarks/rd_val.py ../shared/data/ucmerced/val --model NAME [--limit N] [--json out.json]

For each image and setting: bpp = 8 × bytes / pixels, PSNR (peak 255, all pixels and bands)
and MS-SSIM; the table averages over images. Ours is coded through the full product path
(compress_raster → .ldmr → decompress_raster); JPEG2000 is OpenJPEG through GDAL with
REVERSIBLE=NO and YCC=YES, its QUALITY option set for the target bpp (``ldmrsic_core.evaluation.classic``).
Ours is enhanced at decode time when the model has a paired enhancer, unless --no-enhance.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio
import torch
from pytorch_msssim import ms_ssim

from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.evaluation.classic import jpeg2000_roundtrip
from ldmrsic_core.training.data import find_images

JP2_BPP = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)


def read_rgb(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read([1, 2, 3])


def scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    psnr = 10 * math.log10(255**2 / mse) if mse else math.inf
    ta, tb = (torch.from_numpy(x.astype(np.float32))[None] for x in (a, b))
    return psnr, ms_ssim(ta, tb, data_range=255).item()


def ours(src: Path, model: str, quality: float, tmp: Path, enhance: bool) -> tuple[int, np.ndarray]:
    packed, restored = tmp / "x.ldmr", tmp / "x.tif"
    compress_raster(src, packed, quality=quality, model=model, device="cpu", enhance=enhance, overwrite=True)
    decompress_raster(packed, restored, model=model, device="cpu", enhance=enhance, overwrite=True)
    return packed.stat().st_size, read_rgb(restored)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--model", required=True)
    p.add_argument("--qualities", type=float, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--jp2-bpp", type=float, nargs="+", default=list(JP2_BPP))
    p.add_argument("--limit", type=int, default=0, help="Every k-th image so that about this many are used.")
    p.add_argument("--json", type=Path)
    p.add_argument("--no-enhance", action="store_true", help="Our codec alone (no decode-time enhancement).")
    a = p.parse_args()
    files = find_images(a.folder)
    if a.limit and a.limit < len(files):
        files = files[:: math.ceil(len(files) / a.limit)]
    settings = [("ldmrsic", q) for q in a.qualities] + [("jpeg2000", b) for b in a.jp2_bpp]
    totals = {s: np.zeros(3) for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            image = read_rgb(path)
            pixels = image.shape[1] * image.shape[2]
            for codec, setting in settings:
                if codec == "ldmrsic":
                    size, decoded = ours(path, a.model, setting, Path(tmp), not a.no_enhance)
                else:
                    size, decoded = jpeg2000_roundtrip(image, setting)
                totals[(codec, setting)] += (8 * size / pixels, *scores(image, decoded))
    rows = [{"codec": c, "setting": s, "bpp": t[0] / len(files), "psnr": t[1] / len(files),
             "ms_ssim": t[2] / len(files)} for (c, s), t in totals.items()]
    print(f"{len(files)} images from {a.folder}; model {a.model}")
    print("codec | setting | bpp | PSNR dB | MS-SSIM")
    for r in rows:
        print(f"{r['codec']} | {r['setting']:g} | {r['bpp']:.4f} | {r['psnr']:.2f} | {r['ms_ssim']:.4f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
