"""Training and validation images: a folder of lossless tiles (PNG, WebP, TIFF), in memory.

Read through GDAL. 8-bit images are scaled by 1/255, 16-bit ones (tiles of wider data,
already mapped by ``ldmrsic-geo tile``) by 1/65535. Grey images become three equal channels.
Where rasterio is not installed (a lent GPU machine: its wheel alone is 36 MB of the 64 MiB a device
call carries, issue 17 §6) PNG, WebP and JPEG tiles are read through Pillow instead, to the same pixels.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import torch

try:
    import rasterio
except ImportError:  # no GDAL on this machine: Pillow reads the tiles (module docstring)
    rasterio = None

from ldmrsic_core.errors import InputError
from ldmrsic_core.inputs import find_images

__all__ = ["TileSet", "find_images", "load_image"]

def load_image(path: Path) -> np.ndarray:
    """An image as float32 3×H×W in [0, 1] (8-bit scaled by 1/255, 16-bit by 1/65535)."""
    if rasterio is None:
        data = read_with_pillow(path)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    data = src.read(list(range(1, min(src.count, 3) + 1)))
        except rasterio.errors.RasterioIOError:
            raise InputError(f"{path} is not a readable image") from None
    scale = {np.dtype("uint8"): 255.0, np.dtype("uint16"): 65535.0}.get(data.dtype)
    if scale is None:
        raise InputError(f"{path} has {data.dtype} pixels; tiles must be 8- or 16-bit "
                         "(cut them with `ldmrsic-geo tile`)")
    if data.shape[0] < 3:
        data = np.concatenate([data, np.repeat(data[-1:], 3 - data.shape[0], axis=0)])
    return data.astype(np.float32) / scale


def read_with_pillow(path: Path) -> np.ndarray:
    """Up to three bands of a PNG, WebP or JPEG as C×H×W in their own dtype, as GDAL reads them."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            sixteen = img.mode in ("I;16", "I") and img.format == "PNG"  # Pillow opens 16-bit PNGs as I
            if img.mode not in ("L", "RGB", "RGBA") and not sixteen:
                raise InputError(f"{path} is a {img.format} {img.mode} image: without rasterio (GDAL) only "
                                 "8-bit grey, RGB and RGBA and 16-bit grey PNG tiles can be read; install rasterio")
            data = np.asarray(img).astype(np.uint16) if sixteen else np.asarray(img)
    except (OSError, UnidentifiedImageError):
        raise InputError(f"{path} is not a readable image") from None
    if data.ndim == 2:
        return data[None]
    return np.ascontiguousarray(data[:, :, :3].transpose(2, 0, 1))


class TileSet:
    """All images of a folder, kept as uint8/uint16 arrays to bound memory."""

    def __init__(self, folder: Path, min_size: int):
        self.files = find_images(folder)
        self.images = []
        for path in self.files:
            img = load_image(path)
            if min(img.shape[1:]) >= min_size:
                self.images.append(img)
        if not self.images:
            raise InputError(f"no image in {folder} is at least {min_size}×{min_size} pixels; lower --crop")

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, size: int, crop: int, rng: random.Random, single_band: float = 0.0) -> torch.Tensor:
        """Random crops with random flips and 90° rotations, B×3×crop×crop. A ``single_band`` fraction of
        them is one of its bands repeated three times: how the product codes a lone band (a panchromatic
        or single-band scene, ``bands.to_channels``). With 0 the draws are those of earlier versions."""
        out = []
        for _ in range(size):
            img = self.images[rng.randrange(len(self.images))]
            h, w = img.shape[1:]
            y, x = rng.randint(0, h - crop), rng.randint(0, w - crop)
            patch = img[:, y:y + crop, x:x + crop]
            if rng.random() < 0.5:
                patch = patch[:, :, ::-1]
            patch = np.rot90(patch, rng.randrange(4), axes=(1, 2))
            if single_band and rng.random() < single_band:
                patch = patch[[rng.randrange(patch.shape[0])] * 3]
            out.append(torch.from_numpy(np.ascontiguousarray(patch)))
        return torch.stack(out)
