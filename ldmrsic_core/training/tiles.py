"""``cut_tiles``: rasters and plain images → lossless training tiles plus a manifest.

Tiles go through the same band selection, grouping and value mapping as ``compress``, so
the codec trains on what it will code: 8-bit data as RGB PNG, wider data mapped to [0, 1]
(through each band's fitted value curve by default, as ``compress`` maps it) and stored as
16-bit 3-band DEFLATE TIFF. Tiles with too few valid pixels are skipped; the
invalid pixels of kept tiles are filled as ``compress`` fills them. ``manifest.jsonl`` has a
line per tile: file, source, window, bands, mapping ([lo, hi] per band), knots (the interior
knots of each band's curve, empty for a linear map) and valid fraction.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError  # what GDAL errors raise; rasterio does not re-export it

from ldmrsic_core import defaults
from ldmrsic_core.bands import group_bands, parse_band_list, to_channels
from ldmrsic_core.errors import InputError, OutputError, OutputExistsError
from ldmrsic_core.inputs import find_rasters
from ldmrsic_core.outputs import check_folder_writable, temporary_sibling
from ldmrsic_core.pipeline.tile_codec import fill_invalid
from ldmrsic_core.raster_io import describe, open_source, read_pixels, scan_mappings
from ldmrsic_core.tiling import Box, Span
from ldmrsic_core.value_curves import wants_curves

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class TileReport:
    sources: int
    written: int
    skipped: int
    manifest: Path


def tile_positions(length: int, size: int, stride: int) -> list[int]:
    """Starts of tiles along an axis, the last one flush with the edge (one tile if shorter)."""
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def cut_tiles(inputs: list[Path], out: Path, *, size: int = 256, stride: int | None = None,
              bands: str | None = None, min_valid: float = 0.9, scale: int = 1,
              value_curve: str = defaults.VALUE_CURVE, overwrite: bool = False,
              progress: Callable[[int, int], None] | None = None) -> TileReport:
    """Cut every input into ``size``² tiles (edge tiles down to half size kept) under ``out``.

    ``scale`` > 1 downsamples first (each tile pixel the mean of ``scale``² source pixels): JPEG
    sources lose most of their own block artifacts that way, and a codec should not learn those.
    ``value_curve`` maps bands wider than 8 bits as ``compress`` does ("fitted" or "linear").
    """
    stride = stride or size
    if size < 16 or stride < 1:
        raise InputError(f"--size {size} / --stride {stride} are invalid: use a size ≥ 16 and a positive stride")
    if scale < 1:
        raise InputError(f"--scale {scale} is invalid: use a whole factor of 1 or more")
    if not 0 <= min_valid <= 1:
        raise InputError(f"--min-valid {min_valid} is invalid: use a fraction from 0 to 1")
    curves = wants_curves(value_curve)
    files = find_rasters(inputs)
    check_folder_writable(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST
    if manifest.exists() and not overwrite:
        raise OutputExistsError(f"{manifest} exists; pass --overwrite to cut tiles into {out} again")
    written: list[Path] = []
    try:
        lines, skipped = _cut_all(files, out, size, stride, bands, min_valid, scale, curves, written, progress)
        if not lines:
            raise InputError(f"no tile of {', '.join(p.name for p in files)} has {min_valid:.0%} valid pixels "
                             "(or any, if --min-valid is 0): nothing was written; lower --min-valid or check nodata")
        tmp = temporary_sibling(manifest)
        try:
            tmp.write_text("".join(json.dumps(line) + "\n" for line in lines))
            os.replace(tmp, manifest)
        finally:
            tmp.unlink(missing_ok=True)
    except BaseException:  # a failed or interrupted run leaves no tiles of its own behind
        for path in written:
            path.unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    return TileReport(len(files), len(lines), skipped, manifest)


def _cut_all(files: list[Path], out: Path, size: int, stride: int, bands: str | None, min_valid: float,
             scale: int, curves: bool, written: list[Path],
             progress: Callable[[int, int], None] | None) -> tuple[list[dict], int]:
    lines, skipped = [], 0
    for number, path in enumerate(files):
        with open_source(path) as src:
            info = describe(src, parse_band_list(bands, src.count))
            height, width = info.height // scale, info.width // scale
            if min(height, width) < 1:
                raise InputError(f"{path} ({info.width}×{info.height}) is smaller than --scale {scale}")
            rows = tile_positions(height, size, stride)
            cols = tile_positions(width, size, stride)
            def box_at(r: int, c: int) -> Box:
                return Box(Span(r, min(r + size, height)), Span(c, min(c + size, width)))

            boxes = [box_at(r, c) for r in rows for c in cols]
            boxes = [b for b in boxes if min(b.shape) >= min(size // 2, height, width)]
            cover = [box_at(r, c) for r in range(0, height, size) for c in range(0, width, size)]
            mappings = scan_mappings(src, info, cover, scale=scale, curves=curves)  # each pixel once, as compress
            for box in boxes:
                values, valid = read_pixels(src, list(info.source_bands), box, scale)
                fraction = float(valid.all(axis=0).mean())
                if fraction < min_valid or fraction == 0:
                    skipped += 1
                    continue
                unit = fill_invalid(np.stack([m.to_unit(v) for m, v in zip(mappings, values)]), valid)
                for g, group in enumerate(group_bands(info.count)):
                    name = f"{number:05d}_{path.stem}_r{box.rows.start}_c{box.cols.start}_g{g}"
                    file = _write_tile(out / name, to_channels(unit, group), info.dtype == "uint8")
                    written.append(file)
                    lines.append({"file": file.name, "source": str(path), "scale": scale, "window": [
                        box.cols.start * scale, box.rows.start * scale, box.cols.length * scale,
                        box.rows.length * scale],
                        "bands": [info.source_bands[i] for i in group],
                        "mapping": [[mappings[i].lo, mappings[i].hi] for i in group],
                        "knots": [[list(k) for k in mappings[i].knots] for i in group],
                        "valid_fraction": round(fraction, 4)})
        if progress:
            progress(number + 1, len(files))
    return lines, skipped


def _write_tile(stem: Path, rgb: np.ndarray, eight_bit: bool) -> Path:
    """A 3×h×w unit-range image as 8-bit PNG or 16-bit DEFLATE TIFF, written atomically."""
    if eight_bit:
        path, data, driver, options = stem.with_suffix(".png"), np.rint(rgb * 255).astype("uint8"), "PNG", {}
    else:
        path, data, driver, options = (stem.with_suffix(".tif"), np.rint(rgb * 65535).astype("uint16"), "GTiff",
                                       {"compress": "deflate", "predictor": 2})
    tmp = temporary_sibling(path, path.suffix)
    try:
        with warnings.catch_warnings():  # tiles carry no georeferencing on purpose
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.MemoryFile() as memory, memory.open(  # PNG is create-copy only: build in memory
                    driver="GTiff", width=data.shape[2], height=data.shape[1], count=3, dtype=data.dtype) as mem:
                mem.write(data)
                rasterio.shutil.copy(mem, tmp, driver=driver, **options)
        os.replace(tmp, path)
    except (rasterio.errors.RasterioError, CPLE_BaseError) as exc:  # GDAL's write errors (a full disk is one)
        raise OutputError(f"cannot write tile {path} ({exc}); is the disk full? "
                          "No tiles of this run were kept") from None
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".aux.xml").unlink(missing_ok=True)
    return path
