"""Where a scene with a nodata collar loses quality: PSNR of the valid pixels by their distance to the
collar, for our decoded file and for GDAL's JPEG2000 aimed at the same size (8-bit scenes).

    ldmrsic-geo compress SCENE.tif -o a.ldmr --quality 3 && ldmrsic-geo decompress a.ldmr -o a.tif --no-enhance
    python benchmarks/collar_psnr.py SCENE.tif a.tif a.ldmr
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage

from ldmrsic_core.evaluation.classic import jpeg2000_roundtrip

BANDS = ((0, 4), (4, 16), (16, 64), (64, np.inf), (0, np.inf))  # distance to the collar, pixels


def psnr(decoded: np.ndarray, original: np.ndarray, where: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean(((decoded - original) ** 2)[:, where])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scene", type=Path)
    p.add_argument("decoded", type=Path, help="our decoded GeoTIFF")
    p.add_argument("ldmr", type=Path, help="the .ldmr file it came from (its size aims JPEG2000)")
    a = p.parse_args()
    with rasterio.open(a.scene) as src:
        original = src.read()
        valid = src.dataset_mask() > 0
    with rasterio.open(a.decoded) as src:
        ours = src.read().astype(np.float64)
    size = a.ldmr.stat().st_size
    jp2_bytes, jp2 = jpeg2000_roundtrip(original, 8 * size / valid.size)
    distance = ndimage.distance_transform_edt(valid)
    print(f"ours {size} B, JPEG2000 {jp2_bytes} B; {valid.mean():.0%} of the pixels valid")
    print("| valid pixels at | count | ours | JPEG2000 |")
    print("|---|---|---|---|")
    reference = original.astype(np.float64)
    for near, far in BANDS:
        where = valid & (distance > near) & (distance <= far)
        print(f"| {near:g}–{far:g} px from the collar | {int(where.sum())} | {psnr(ours, reference, where):.2f} | "
              f"{psnr(jp2.astype(np.float64), reference, where):.2f} |")


if __name__ == "__main__":
    main()
