"""Finding input rasters: files as given, folders searched recursively — for ``tile``, ``train``,
``eval`` and the benchmarks alike."""

from __future__ import annotations

import math
from pathlib import Path

from ldmrsic_core.errors import InputError

#: Plain images (training tiles, evaluation images).
IMAGE_SUFFIXES = (".png", ".webp", ".tif", ".tiff", ".jpg", ".jpeg")
#: Anything GDAL reads that a user is likely to point at.
RASTER_SUFFIXES = IMAGE_SUFFIXES + (".jp2", ".img", ".vrt")


def find_rasters(inputs: Path | list[Path], *, suffixes: tuple[str, ...] = RASTER_SUFFIXES, limit: int = 0,
                 none_found: str = "no raster or image files among the inputs") -> list[Path]:
    """The files among ``inputs`` (a folder or a list of files and folders): files as given,
    folders searched recursively for ``suffixes``, sorted. ``limit`` keeps about that many,
    spread evenly. :class:`InputError` names a missing input, or says ``none_found``."""
    files: list[Path] = []
    for path in [inputs] if isinstance(inputs, Path) else inputs:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path} does not exist")
    if limit and limit < len(files):
        files = files[:: math.ceil(len(files) / limit)][:limit]
    if not files:
        raise InputError(none_found)
    return files


def find_images(folder: Path) -> list[Path]:
    """The images below a folder of tiles (``train``, validation); :class:`InputError` if none."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of tiles")
    return find_rasters(folder, suffixes=IMAGE_SUFFIXES, none_found=(
        f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); make tiles with `ldmrsic-geo tile`"))
