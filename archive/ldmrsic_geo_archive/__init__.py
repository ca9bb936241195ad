"""The weights files of ldmrsic-geo's earlier models (those its ``models.json`` marks with
``"package": "ldmrsic-geo-archive"``): names and hashes stay in ldmrsic-geo's table, the files are here."""

from __future__ import annotations

from pathlib import Path


def weights_dir() -> Path:
    """The folder of the archived weights files (the ``ldmrsic_geo.models`` entry point)."""
    return Path(__file__).resolve().parent / "weights"
