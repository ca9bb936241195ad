"""The defaults the algorithms show: ldmrsic-geo's own (``ldmrsic_core.defaults``) when QGIS's
Python has the library, else the copy of that module the plugin zip carries (``_defaults.py``,
written by ``scripts/plugin_zip.py``), for a QGIS that runs ldmrsic-geo in an external Python."""

from __future__ import annotations

try:
    from ldmrsic_core import defaults
except ImportError:  # pragma: no cover - only in a QGIS without the library
    from . import _defaults as defaults  # type: ignore[no-redef]

__all__ = ["defaults"]
