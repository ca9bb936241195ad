"""ldmrsic-geo: learned compression (ELIC codec + LDM-RSIC enhancement) for geospatial rasters.

Public API::

    compress_raster(input, output=None, *, quality, tile, overlap, bands, model, device, ...)
    decompress_raster(input, output, *, bbox, model, device, cog, allow_damaged, ...)
    file_info(path), read_header(path)

Long operations take ``progress(done, total)``; raise :class:`Cancelled` in it to stop.
"""

from __future__ import annotations

from typing import Any

from ldmrsic_core.errors import (
    Cancelled,
    ContainerError,
    DamagedFileError,
    DamagedTileError,
    InputError,
    LdmrError,
    NotLdmrFileError,
    OutputExistsError,
    UnsupportedVersionError,
    WeightsError,
)

__version__ = "0.1.0"

__all__ = [
    "Cancelled", "ContainerError", "DamagedFileError", "DamagedTileError", "InputError", "LdmrError",
    "NotLdmrFileError", "OutputExistsError", "UnsupportedVersionError", "WeightsError",
    "compress_raster", "decompress_raster", "file_info", "read_header",
]

_LAZY = {  # torch-heavy entry points load on first use, so `info` stays quick
    "compress_raster": "ldmrsic_core.pipeline.compress",
    "decompress_raster": "ldmrsic_core.pipeline.decompress",
    "read_header": "ldmrsic_core.catalog",
    "file_info": "ldmrsic_core.catalog",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ldmrsic_core' has no attribute {name!r}")
