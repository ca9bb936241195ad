"""Classical codecs through GDAL, in memory: what JPEG2000* enhances and what we compare against.

JPEG2000 is GDAL's JP2OpenJPEG driver writing a raw J2K codestream (CODEC=J2K, irreversible
9/7 wavelet, YCC colour transform for 3-band images) with QUALITY set for a target bit rate
(QUALITY is a percentage of the uncompressed size).
"""

from __future__ import annotations

import warnings

import numpy as np
import rasterio
from rasterio.io import MemoryFile


def jpeg2000_roundtrip(image: np.ndarray, bpp: float) -> tuple[int, np.ndarray]:
    """Code a bands×H×W uint8/uint16 image at ``bpp`` bits per pixel; return (codestream bytes, decoded)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"JPEG2000 round trip takes uint8 or uint16 images, not {image.dtype}")
    bands, height, width = image.shape
    bits = bands * 8 * image.dtype.itemsize
    options = {"CODEC": "J2K", "QUALITY": f"{min(100.0, 100 * bpp / bits):.6g}", "REVERSIBLE": "NO",
               "YCC": "YES" if bands == 3 else "NO"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with MemoryFile(ext=".j2k") as mem:
            with mem.open(driver="JP2OpenJPEG", width=width, height=height, count=bands, dtype=image.dtype.name,
                          **options) as dst:
                dst.write(image)
            size = len(mem.getbuffer())
            with mem.open() as src:
                return size, src.read()
