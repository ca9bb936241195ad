"""``file_info``: what an ``.ldmr`` file holds, as plain JSON-ready data (no model needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ldmrsic_core.format.container import ContainerReader
from ldmrsic_core.format.header import Header
from ldmrsic_core.format.versions import is_joined

Names = Mapping[str, tuple[str, str]]
"""Weights SHA-256 → (name, configuration), for headers that store hashes only (format 3)."""


def read_header(path: str | Path, names: Names | None = None) -> Header:
    """The typed header of an ``.ldmr`` file (``ldmrsic_core.read_header`` names the installed models)."""
    with ContainerReader(path, dict(names or {})) as reader:
        return reader.typed_header


def file_info(path: str | Path, names: Names | None = None) -> dict[str, Any]:
    """Header, rate and tile statistics of an ``.ldmr`` file (``ldmrsic_core.file_info`` names the
    installed models)."""
    with ContainerReader(path, dict(names or {})) as reader:
        header = reader.typed_header
        size = reader.size
        payload_bytes = sum(e.length for e in reader.entries)
        info = header.raster
        rows, cols = header.plan.shape
        return {
            "file": str(path),
            "format_version": "{}.{}".format(*reader.version),
            "bytes": size,
            "bpp": 8 * size / (info.width * info.height),
            "ratio": info.width * info.height * info.count * np.dtype(info.dtype).itemsize / size,
            "width": info.width,
            "height": info.height,
            "bands": info.count,
            "dtype": info.dtype,
            "crs": info.crs_wkt,
            "transform": list(info.transform),
            "nodata": header.to_json()["raster"]["nodata"],
            "quality": header.codec.quality,
            "entropy_parameters": header.entropy,
            "model": {"name": header.codec.model, "config": header.codec.config, "sha256": header.codec.sha256},
            "enhancer": (None if header.enhancer is None else
                         {"name": header.enhancer.model, "config": header.enhancer.config,
                          "sha256": header.enhancer.sha256}),
            "tiles": {"size": header.tile_size, "overlap": header.overlap,
                      "joined": is_joined(header.overlap, reader.version), "rows": rows, "cols": cols,
                      "count": len(reader.entries), "payload_bytes": payload_bytes,
                      "container_bytes": size - payload_bytes},
            "overhead": {"header_bytes": reader.header_bytes, "container_bytes": size - payload_bytes,
                         "container_bpp": 8 * (size - payload_bytes) / (info.width * info.height),
                         "share": (size - payload_bytes) / size},
            "clipped_values": list(header.clipped),
            "header": reader.header,
        }
