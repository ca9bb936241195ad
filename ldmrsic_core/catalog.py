"""``read_header`` and ``file_info`` as the public API offers them: the format's readers with the
installed models' names filled in (a format 3 header names its models by SHA-256 only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ldmrsic_core.format import info
from ldmrsic_core.format.header import Header
from ldmrsic_core.zoo.table import installed_names


def read_header(path: str | Path) -> Header:
    """The typed header of an ``.ldmr`` file."""
    return info.read_header(path, installed_names())


def file_info(path: str | Path) -> dict[str, Any]:
    """Header, rate and tile statistics of an ``.ldmr`` file, as JSON-ready data (no model needed)."""
    return info.file_info(path, installed_names())
