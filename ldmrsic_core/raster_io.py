"""Raster access with rasterio: opening with clear errors, metadata capture and restore,
windowed reads of pixels with their validity, the output GeoTIFF profile, and checking that
an output was really written."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError  # what GDAL errors raise; rasterio does not re-export it
from rasterio.enums import ColorInterp, Resampling
from rasterio.windows import Window

from ldmrsic_core.bands import ValueMapping, check_dtype, default_mapping
from ldmrsic_core.errors import InputError, OutputError
from ldmrsic_core.format.header import MaskKind, RasterInfo
from ldmrsic_core.tiling import Box
from ldmrsic_core.value_curves import BandHistogram, fit_knots

#: GDAL's block cache for our reads and writes. GDAL's default is 5% of the RAM, and reading a
#: scene (or reading back a written one) fills it: the process would grow with the scene up to
#: that size (measured: reading back an 8192² uint8 GeoTIFF, 267 MB peak RSS against 75 MB at 64 MB).
GDAL_CACHE_MB = 128


def bounded_gdal_cache() -> rasterio.Env:
    """A rasterio environment with GDAL's block cache capped at :data:`GDAL_CACHE_MB`.

    rasterio passes an integer GDAL_CACHEMAX to GDAL as bytes (GDAL's own "< 100000 means MB" rule
    applies to strings only): ``GDAL_CACHEMAX=128`` was a 128-byte cache until 2026-12-02."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB << 20)


def open_source(path: Path) -> rasterio.DatasetReader:
    """Open a raster for reading or raise :class:`InputError` saying why it cannot be used."""
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a raster file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path)
    except rasterio.errors.RasterioIOError:
        raise InputError(f"{path} is not a raster GDAL can read") from None
    if src.width < 1 or src.height < 1 or src.count < 1:
        src.close()
        raise InputError(f"{path} has no pixels ({src.width}×{src.height}, {src.count} bands)")
    return src


def describe(src: rasterio.DatasetReader, bands: list[int]) -> RasterInfo:
    """Capture the metadata of the selected 1-based ``bands`` of an open raster."""
    dtypes = {src.dtypes[b - 1] for b in bands}
    if len(dtypes) != 1:
        raise InputError(f"selected bands have different data types ({', '.join(sorted(dtypes))})")
    dtype = dtypes.pop()
    check_dtype(dtype)
    if src.nodata is not None:
        mask_kind = MaskKind.NODATA
    elif np.issubdtype(np.dtype(dtype), np.floating):
        mask_kind = MaskKind.NAN
    elif any(flag != rasterio.enums.MaskFlags.all_valid for b in bands for flag in src.mask_flag_enums[b - 1]):
        mask_kind = MaskKind.DATASET_MASK
    else:
        mask_kind = MaskKind.NONE
    return RasterInfo(
        width=src.width,
        height=src.height,
        dtype=dtype,
        crs_wkt=src.crs.to_wkt() if src.crs else None,
        transform=tuple(src.transform)[:6],
        nodata=None if src.nodata is None else float(src.nodata),
        source_bands=tuple(bands),
        descriptions=tuple(src.descriptions[b - 1] for b in bands),
        colorinterp=tuple(src.colorinterp[b - 1].name for b in bands),
        units=tuple(src.units[b - 1] or None for b in bands),
        scales=tuple(float(src.scales[b - 1]) for b in bands),
        offsets=tuple(float(src.offsets[b - 1]) for b in bands),
        tags=dict(src.tags()),
        band_tags=tuple(_described_tags(src.tags(b)) for b in bands),
        mask_kind=mask_kind,
    )


#: Band tags GDAL derives from the pixels (``gdalinfo -stats``, QGIS's layer statistics): they describe
#: the source's values, not the decoded ones, so they are left for GDAL to compute again.
DERIVED_TAG_PREFIX = "STATISTICS_"


def _described_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if not k.startswith(DERIVED_TAG_PREFIX)}


def window(box: Box) -> Window:
    return Window(box.cols.start, box.rows.start, box.cols.length, box.rows.length)


def read_pixels(src: rasterio.DatasetReader, bands: list[int], box: Box,
                scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pixel values (bands×rows×cols) and their validity (bool, same shape) inside ``box``.

    With ``scale`` > 1, ``box`` is on a grid ``scale`` times coarser than the raster's: each
    value is the mean of a ``scale``² block, valid only if the whole block is.
    """
    win = window(box)
    resampled: dict[str, Any] = {}
    if scale > 1:
        win = Window(win.col_off * scale, win.row_off * scale, win.width * scale, win.height * scale)
        resampled = {"out_shape": (len(bands), box.rows.length, box.cols.length), "resampling": Resampling.average}
    try:
        values = src.read(bands, window=win, **resampled)
        masks = src.read_masks(bands, window=win, **resampled)
        valid = masks == 255 if scale > 1 else masks > 0
    except (rasterio.errors.RasterioError, CPLE_BaseError) as exc:
        cause = exc.__cause__ or exc
        raise InputError(f"cannot read {Path(src.name).name} ({cause}): the file is damaged or truncated") from None
    if np.issubdtype(values.dtype, np.floating):
        valid &= np.isfinite(values)
    return values, valid


def output_profile(info: RasterInfo, height: int, width: int, transform: Any) -> dict[str, Any]:
    """Creation options of the decoded GeoTIFF: tiled, lossless DEFLATE, BigTIFF when needed."""
    floating = np.issubdtype(np.dtype(info.dtype), np.floating)
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": info.count,
        "dtype": info.dtype,
        "crs": rasterio.crs.CRS.from_wkt(info.crs_wkt) if info.crs_wkt else None,
        "transform": transform,
        "nodata": info.nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3 if floating else 2,
        "bigtiff": "IF_SAFER",
    }
    if info.count >= 3 and info.dtype == "uint8" and info.colorinterp[:3] == ("red", "green", "blue"):
        profile["photometric"] = "RGB"
    if info.count > 1:
        profile["interleave"] = "pixel" if info.count <= 4 else "band"
    return profile


#: Creation options the decoder sets from the file itself (the raster's grid and data type).
FIXED_OPTIONS = ("driver", "width", "height", "count", "dtype", "crs", "transform", "nodata")


def parse_creation_options(pairs: Sequence[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` strings (``--co``, as GDAL's tools take them) → creation options with lower-case
    keys, as rasterio takes them; a malformed or reserved one is one :class:`InputError` line."""
    options: dict[str, str] = {}
    for text in pairs or ():
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--co {text!r} is not KEY=VALUE (for example --co COMPRESS=ZSTD)")
        if key.strip().lower() in FIXED_OPTIONS:
            raise InputError(f"--co {key.strip().upper()} is set from the .ldmr file itself; leave it out")
        options[key.strip().lower()] = value.strip()
    return options


def check_creation_options(profile: dict[str, Any], options: dict[str, str], driver: str = "GTiff") -> None:
    """Let GDAL judge ``options`` before any decoding: a one-row raster of the same bands and type is
    written with them in memory; what GDAL refuses is one :class:`InputError` line."""
    if not options:
        return
    import logging
    import re

    from rasterio.io import MemoryFile

    class Complaints(logging.Handler):  # GDAL ignores an unknown option or value with a warning only
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    small = {**profile, "driver": "GTiff", "width": 16, "height": 16, "blockxsize": 16, "blockysize": 16}
    small.pop("bigtiff", None)
    complaints, gdal_log = Complaints(), logging.getLogger("rasterio._env")
    gdal_log.addHandler(complaints)
    try:
        with warnings.catch_warnings(), MemoryFile() as source, MemoryFile() as target:
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with source.open(**small) as dst:
                dst.write(np.zeros((profile["count"], 16, 16), profile["dtype"]))
            with source.open() as src:
                rasterio.shutil.copy(src, target.name, driver=driver, **options)
        problem = "; ".join(re.sub(r"CPLE_\w+ in ", "", m) for m in complaints.messages)
    except (rasterio.errors.RasterioError, CPLE_BaseError, ValueError) as exc:
        problem = re.sub(r"^\S+\.tif: ", "", str(exc.__cause__ or exc))
    finally:
        gdal_log.removeHandler(complaints)
    if problem:
        given = " ".join(f"--co {k.upper()}={v}" for k, v in options.items())
        raise InputError(f"GDAL's {driver} driver refuses {given}: {problem}")


def restore_metadata(dst: rasterio.io.DatasetWriter, info: RasterInfo) -> None:
    """Band descriptions, colour interpretation, units, scales/offsets and tags."""
    for i, desc in enumerate(info.descriptions, start=1):
        if desc:
            dst.set_band_description(i, desc)
    dst.colorinterp = [ColorInterp[name] for name in info.colorinterp]
    if any(info.units):
        dst.units = tuple(u or "" for u in info.units)
    dst.scales = info.scales
    dst.offsets = info.offsets
    if info.tags:
        dst.update_tags(**info.tags)
    for i, tags in enumerate(info.band_tags, start=1):
        if tags:
            dst.update_tags(i, **tags)


def scan_mappings(src: rasterio.DatasetReader, info: RasterInfo, boxes: list[Box],
                  value_range: tuple[float, float] | None = None, scale: int = 1,
                  curves: bool = False) -> list[ValueMapping]:
    """Per-band value mappings: ``value_range`` if given, 0–255 for 8-bit data, else each band's
    valid min–max found by reading ``boxes`` (which should cover the raster, on the grid
    ``scale`` times coarser, see :func:`read_pixels`) one at a time; with ``curves``, through the
    knots of each band's fitted curve (``ldmrsic_core/value_curves.py``; a second pass over the boxes)."""
    if value_range is not None:
        lo, hi = map(float, value_range)
        if not lo < hi:
            raise InputError(f"--value-range {lo:g} {hi:g} is empty: give LO < HI")
        return [ValueMapping(lo, hi)] * info.count
    if info.dtype == "uint8":
        return [default_mapping("uint8", 0, 255)] * info.count
    lo = np.full(info.count, np.inf)
    hi = np.full(info.count, -np.inf)
    for box in boxes:
        values, valid = read_pixels(src, list(info.source_bands), box, scale)
        for b in range(info.count):
            v = values[b][valid[b]]
            if v.size:
                lo[b], hi[b] = min(lo[b], float(v.min())), max(hi[b], float(v.max()))
    linear = [default_mapping(info.dtype, lo[b], hi[b]) for b in range(info.count)]
    if not curves:
        return linear
    integer = np.issubdtype(np.dtype(info.dtype), np.integer) and scale == 1
    histograms = [BandHistogram(m.lo, m.hi, integer) for m in linear]
    for box in boxes:
        values, valid = read_pixels(src, list(info.source_bands), box, scale)
        for b, histogram in enumerate(histograms):
            histogram.add(values[b][valid[b]])
    return [ValueMapping(m.lo, m.hi, fit_knots(h)) for m, h in zip(linear, histograms)]


def valid_counts(src: rasterio.DatasetReader, bands: list[int], boxes: list[Box]) -> list[int]:
    """How many pixels of each box are valid in some of ``bands`` (the masks read box by box)."""
    counts = []
    for box in boxes:
        _, valid = read_pixels(src, bands, box)
        counts.append(int(valid.any(axis=0).sum()))
    return counts


@contextmanager
def open_geotiff(path: Path, profile: dict[str, Any]) -> Iterator[rasterio.io.DatasetWriter]:
    """A GeoTIFF open for writing with ``profile`` (masks stored inside the file); a raster without
    georeferencing stays so, silently."""
    with warnings.catch_warnings(), rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            yield dst


def write_cog(tiff: Path, path: Path, profile: dict[str, Any], target: Path,
              options: dict[str, str] | None = None) -> None:
    """Copy a written GeoTIFF to ``path`` as a Cloud-Optimized GeoTIFF (overviews by averaging), with the
    COG driver's creation ``options`` over the defaults."""
    with write_errors(target):
        rasterio.shutil.copy(tiff, path, **cog_options(profile, options))


def cog_options(profile: dict[str, Any], options: dict[str, str] | None = None) -> dict[str, Any]:
    return {"driver": "COG", "compress": "deflate", "predictor": profile["predictor"], "bigtiff": "IF_SAFER",
            "overview_resampling": "average", **(options or {})}


@contextmanager
def write_errors(target: Path) -> Iterator[None]:
    """Turn GDAL's write failures into one :class:`OutputError` line naming ``target``."""
    try:
        yield
    except (rasterio.errors.RasterioError, CPLE_BaseError) as exc:
        cause = exc.__cause__ or exc
        raise OutputError(f"cannot write {target} ({cause}); is the disk full? No partial output was left") from None


def check_written(path: Path, target: Path) -> None:
    """Read back every block of a just-written raster. GDAL reports some write failures (a disk
    filling up while blocks are flushed at close) only on stderr, leaving a damaged file."""
    with write_errors(target):
        with rasterio.open(path) as src:
            for _, block in src.block_windows(1):
                src.read(window=block)
