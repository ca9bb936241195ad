"""``decompress_raster``: an ``.ldmr`` file (or a window of it) → a GeoTIFF.

The output is written window by window, each window being the part of the requested area
a tile owns; the tiles that overlap a window are decoded (each once, kept in a small cache)
and blended with their ramp weights. Only the tiles a window touches are read.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import rasterio.shutil
from rasterio import windows as rwindows
from rasterio.transform import Affine

from ldmrsic_core.blending import TileCache, blend
from ldmrsic_core.container import ContainerReader
from ldmrsic_core.device import resolve_device
from ldmrsic_core.enhance.enhancer import quality_level
from ldmrsic_core.enhance.weights import LoadedEnhancer, check_pairing, load_enhancer
from ldmrsic_core.errors import (
    DamagedTileError,
    InputError,
    LatentMismatchError,
    WeightsError,
)
from ldmrsic_core.header import Header, exact_entropy
from ldmrsic_core.models.registry import LoadedCodec, load_codec, named_weights
from ldmrsic_core.outputs import atomic_output, check_output, temporary_sibling
from ldmrsic_core.raster_io import check_written, output_profile, restore_metadata, window, write_errors
from ldmrsic_core.tile_codec import CodedGroups, decode_groups, enhance_groups
from ldmrsic_core.tile_payload import PayloadError, TilePayload
from ldmrsic_core.tiling import Box, Span

Progress = Callable[[int, int], None]

#: Context (pixels) MEN sees around each codec tile, across its borders.
ENHANCE_MARGIN = 32


class DamagedTileWarning(UserWarning):
    """A damaged tile was replaced by nodata (``allow_damaged``)."""


@dataclass(frozen=True)
class DecompressResult:
    output: Path
    width: int
    height: int
    tiles_read: int
    damaged_tiles: tuple[int, ...]
    enhancer: str | None = None


def codec_for(header: Header, model: str | Path | None, device) -> LoadedCodec:
    """The weights a file was made with: ``model`` if given (hash checked), else a bundled match."""
    need = header.codec
    if model is None:
        match = [w.name for w in named_weights().values() if w.sha256 == need.sha256]
        if not match:
            raise WeightsError(
                f"weights not available: this file needs model {need.model!r} (SHA-256 {need.sha256}); "
                "pass --model PATH to that weights file"
            )
        model = match[0]
    try:
        return load_codec(model, device, expect_sha256=need.sha256)
    except WeightsError as exc:
        raise WeightsError(f"weights not available: this file needs model {need.model!r} "
                           f"(SHA-256 {need.sha256}); {exc}") from None


def enhancer_for(header: Header, enhance: bool, enhancer: str | Path | None, device) -> LoadedEnhancer | None:
    """The decode-time enhancer: ``enhancer`` if given, else the one the file names (hash checked)."""
    if not enhance:
        return None
    if enhancer is not None:
        return check_pairing(load_enhancer(enhancer, device), header.codec.model, header.codec.sha256)
    need = header.enhancer
    if need is None:
        return None
    match = [w.name for w in named_weights().values() if w.sha256 == need.sha256]
    if not match:
        raise WeightsError(
            f"this file is enhanced at decode time by {need.model!r} (SHA-256 {need.sha256}), which is not "
            "installed; pass --no-enhance to decode without it or --enhancer NAME|PATH to choose one"
        )
    return load_enhancer(match[0], device, expect_sha256=need.sha256)


def bbox_box(header: Header, bbox: tuple[float, float, float, float]) -> Box:
    """A bounding box in the raster's CRS → the pixel box covering it (clipped to the raster)."""
    minx, miny, maxx, maxy = bbox
    if not (minx < maxx and miny < maxy):
        raise InputError(f"--bbox {bbox} is empty: give MINX MINY MAXX MAXY with MINX < MAXX and MINY < MAXY")
    transform = Affine(*header.raster.transform)
    win = rwindows.from_bounds(minx, miny, maxx, maxy, transform)
    eps = 1e-6  # bounds taken from pixel edges land on whole pixels up to float error
    rows = Span(math.floor(win.row_off + eps), math.ceil(win.row_off + win.height - eps))
    cols = Span(math.floor(win.col_off + eps), math.ceil(win.col_off + win.width - eps))
    full = Box(Span(0, header.raster.height), Span(0, header.raster.width))
    box = Box(rows, cols).intersect(full) if rows.length > 0 and cols.length > 0 else None
    if box is None:
        raise InputError(f"--bbox {bbox} does not overlap the raster")
    return box


def decompress_raster(
    input: str | Path,
    output: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    model: str | Path | None = None,
    device: str = "auto",
    cog: bool = False,
    allow_damaged: bool = False,
    enhance: bool = True,
    enhancer: str | Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DecompressResult:
    """Decode an ``.ldmr`` file to a tiled GeoTIFF (or a COG), optionally only inside ``bbox``.

    With ``enhance`` (the default) the decoded tiles go through the LDM-RSIC enhancement the
    file names (or ``enhancer``); its noise is seeded per tile, so output pixels are reproducible.
    """
    source, target = Path(input), Path(output)
    check_output(target, overwrite, (source,))  # fail fast; atomic_output checks again at the end
    torch_device = resolve_device(device)
    with ContainerReader(source) as reader:
        header = Header.from_json(reader.header)
        if len(reader.entries) != len(header.plan):
            raise InputError(f"{source.name}: the tile index does not match the tile grid")
        exact = exact_entropy(header, reader.version, source.name)
        codec = codec_for(header, model, torch_device)
        enhancing = enhancer_for(header, enhance, enhancer, torch_device)
        box = bbox_box(header, bbox) if bbox else header.plan.full()
        decoder = _TileDecoder(reader, header, codec, torch_device, allow_damaged, enhancing, exact)
        info = header.raster
        transform = Affine(*info.transform) @ Affine.translation(box.cols.start, box.rows.start)
        profile = output_profile(info, box.rows.length, box.cols.length, transform)
        fill = info.nodata if info.nodata is not None else (np.nan if info.mask_kind == "nan" else 0)
        write_mask = info.nodata is None and (info.mask_kind == "dataset-mask" or
                                              (allow_damaged and info.mask_kind != "nan"))
        parts = list(header.plan.output_windows(box))
        with atomic_output(target, overwrite, inputs=(source,)) as tmp:
            tiff = temporary_sibling(target, ".tif.part") if cog else tmp
            try:
                with write_errors(target), rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), \
                        _open_for_writing(tiff, profile) as dst:
                    restore_metadata(dst, info)
                    if enhancing:
                        dst.update_tags(LDMRSIC_ENHANCER=f"{enhancing.name} sha256:{enhancing.sha256}")
                    for done, (owner, part) in enumerate(parts, start=1):
                        values, valid = decoder.window(owner, part)
                        values[~valid] = fill
                        local = part.relative_to(box)
                        dst.write(values, window=window(local))
                        if write_mask:
                            dst.write_mask(valid.all(axis=0).astype(np.uint8) * 255, window=window(local))
                        if progress:
                            progress(done, len(parts))
                if cog:
                    with write_errors(target):
                        rasterio.shutil.copy(tiff, tmp, driver="COG", compress="deflate",
                                             predictor=profile["predictor"], bigtiff="IF_SAFER",
                                             overview_resampling="average")
                check_written(tmp, target)
            finally:
                if cog:
                    tiff.unlink(missing_ok=True)
    return DecompressResult(target, box.cols.length, box.rows.length, decoder.tiles_read,
                            tuple(sorted(decoder.damaged)), enhancing.name if enhancing else None)


def _open_for_writing(path: Path, profile: dict) -> rasterio.io.DatasetWriter:
    with warnings.catch_warnings():  # a raster without georeferencing stays so, silently
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        return rasterio.open(path, "w", **profile)


class _TileDecoder:
    """Decodes tiles on demand (each at most once while it is needed), enhances and blends them.

    Enhancement runs per codec tile on its extent grown by :data:`ENHANCE_MARGIN`, taken from
    the blended codec output, so MEN sees across tile borders; enhanced tiles are blended with
    the same ramps.
    """

    def __init__(self, reader: ContainerReader, header: Header, codec: LoadedCodec, device, allow_damaged: bool,
                 enhancer: LoadedEnhancer | None = None, exact: bool = True):
        self.reader, self.header, self.codec, self.device = reader, header, codec, device
        self.exact = exact
        self.allow_damaged = allow_damaged
        self.enhancer = enhancer
        self.plan = header.plan
        self.groups = [list(g) for g in header.groups]
        row = self.plan.shape[1]
        # A window needs the tiles of three tile rows (its own and both neighbours); enhancing a
        # tile of the next row needs decoded tiles one row further. Smaller caches re-decode.
        self.decoded = TileCache(4 * row + 4 if enhancer else 3 * row + 3)
        self.enhanced = TileCache(3 * row + 3)
        self.damaged: set[int] = set()
        self.tiles_read = 0

    def tile(self, index: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(unit bands×h×w over the extent or None when empty/damaged, validity over the owned box or None if damaged)."""
        return self.decoded.get_or(index, self._decode)

    def _decode(self, index: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        extent, owned = self.plan.extent(index), self.plan.owned(index)
        self.tiles_read += 1
        try:
            payload = TilePayload.decode(self.reader.read_tile(index), self.header.raster.count, owned.shape,
                                         checksummed=self.exact)
            if payload.groups and len(payload.groups) != len(self.groups):
                raise DamagedTileError(index, "wrong number of band groups")
            unit = None
            if payload.groups:
                unit, mismatched = decode_groups(self.codec.model, CodedGroups(payload.groups, payload.checksums),
                                                 self.groups, extent.shape, self.header.codec.quality)
                if mismatched:
                    raise LatentMismatchError(index, mismatched)
        except (DamagedTileError, PayloadError) as exc:
            error = exc if isinstance(exc, DamagedTileError) else DamagedTileError(index, str(exc))
            if not self.allow_damaged:
                raise error from None
            warnings.warn(f"{error}; filled with nodata", DamagedTileWarning, stacklevel=2)
            self.damaged.add(index)
            return None, None
        return unit, payload.valid

    def _enhance(self, index: int) -> np.ndarray | None:
        if self.tile(index)[0] is None:
            return None
        extent = self.plan.extent(index)
        context = extent.grown(ENHANCE_MARGIN, self.plan.full())
        unit, _ = blend(self.plan, context, self.header.raster.count, lambda i: self.tile(i)[0])
        level = quality_level(self.header.codec.quality) if self.enhancer.conditioned else None
        out = enhance_groups(self.enhancer.model, unit, self.groups, index, self.device, level)
        return out[(slice(None), *extent.relative_to(context).slices)]

    def window(self, owner: int, part: Box) -> tuple[np.ndarray, np.ndarray]:
        """Values (output dtype) and validity of ``part``, which lies inside tile ``owner``'s owned box."""
        bands = self.header.raster.count
        fetch = (lambda i: self.enhanced.get_or(i, self._enhance)) if self.enhancer else (lambda i: self.tile(i)[0])
        unit, covered = blend(self.plan, part, bands, fetch)
        _, owner_valid = self.tile(owner)
        owned = self.plan.owned(owner)
        if owner_valid is None:
            valid = np.zeros((bands, *part.shape), dtype=bool)
        else:
            valid = owner_valid[(slice(None), *part.relative_to(owned).slices)].copy()
        valid &= covered
        dtype = self.header.raster.dtype
        values = np.stack([m.from_unit(unit[b], dtype) for b, m in enumerate(self.header.mappings)])
        nodata = self.header.raster.nodata
        if nodata is not None and not np.isnan(nodata):
            # A valid pixel that decodes to the nodata value would become a hole: step it off.
            values[valid & (values == nodata)] = _next_to(nodata, dtype)
        return values, valid


def _next_to(nodata: float, dtype: str) -> float:
    """The representable value nearest to ``nodata`` (towards the data's interior)."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        return nodata + 1 if nodata < np.iinfo(dtype).max else nodata - 1
    kind = np.dtype(dtype).type
    return float(np.nextafter(kind(nodata), kind(np.inf) if nodata < 0 else kind(-np.inf)))
