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


def gdal_encode(image: np.ndarray, driver: str, ext: str, **options: str) -> bytes:
    """A bands×H×W image → the bytes GDAL's ``driver`` writes (in memory, no georeferencing)."""
    bands, height, width = image.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with MemoryFile(ext=ext) as mem:
            with mem.open(driver=driver, width=width, height=height, count=bands, dtype=image.dtype.name,
                          **options) as dst:
                dst.write(image)
            return bytes(mem.getbuffer())


def gdal_decode(data: bytes) -> np.ndarray:
    """Bytes of any GDAL-readable image → bands×H×W."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with MemoryFile(data) as mem, mem.open() as src:
            return src.read()


def jpeg2000_options(image: np.ndarray, bpp: float) -> dict[str, str]:
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"JPEG2000 takes uint8 or uint16 images, not {image.dtype}")
    bits = image.shape[0] * 8 * image.dtype.itemsize
    return {"CODEC": "J2K", "QUALITY": f"{min(100.0, 100 * bpp / bits):.6g}", "REVERSIBLE": "NO",
            "YCC": "YES" if image.shape[0] == 3 else "NO"}


def jpeg2000_roundtrip(image: np.ndarray, bpp: float) -> tuple[int, np.ndarray]:
    """Code a bands×H×W uint8/uint16 image at ``bpp`` bits per pixel; return (codestream bytes, decoded)."""
    data = gdal_encode(image, "JP2OpenJPEG", ".j2k", **jpeg2000_options(image, bpp))
    return len(data), gdal_decode(data)
