"""``decompress_raster``: an ``.ldmr`` file (or a window of it) → a GeoTIFF.

The output is written window by window, each window being the part of the requested area
a tile owns; the tiles that overlap a window are decoded (each once, kept in a small cache)
and blended with their ramp weights. Only the tiles a window touches are read — and, for joined
tiles (:mod:`.joined`), the ring of neighbours whose latents their synthesis reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rasterio.transform import Affine

from ldmrsic_core import defaults
from ldmrsic_core.block_writer import BlockWriter
from ldmrsic_core.device import resolve_device
from ldmrsic_core.enhance.enhancer import quality_level
from ldmrsic_core.errors import DamagedTileError, InputError
from ldmrsic_core.format.container import ContainerReader
from ldmrsic_core.format.header import Header, MaskKind, exact_entropy
from ldmrsic_core.outputs import atomic_output, check_output, temporary_sibling
from ldmrsic_core.pipeline.blending import blend
from ldmrsic_core.pipeline.executors import TileRunner, open_runner, resolve_tile_batch
from ldmrsic_core.pipeline.joined import is_joined, neighbourhood, synthesis_window
from ldmrsic_core.pipeline.schedule import OrderedResults, Stripe, context_box, stripe_columns, stripes, use_counts
from ldmrsic_core.pipeline.tile_jobs import (
    DecodedTile,
    DecodeSettings,
    EnhanceSettings,
    SynthesisSettings,
    decode_tiles,
    enhance_tiles,
    synthesise_tiles,
)
from ldmrsic_core.raster_io import (
    bounded_gdal_cache,
    check_creation_options,
    check_written,
    cog_options,
    open_geotiff,
    output_profile,
    restore_metadata,
    write_cog,
    write_errors,
)
from ldmrsic_core.tiling import Box, bbox_box
from ldmrsic_core.zoo.resolve import codec_for, enhancer_for
from ldmrsic_core.zoo.table import installed_names

Progress = Callable[[int, int], None]

#: Memory for the decoded and enhanced tiles held at once (sets the stripe width, see :mod:`.schedule`).
DECODE_MEMORY = 512 << 20


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
    jobs: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: str = defaults.PRECISION,
    creation_options: dict[str, str] | None = None,
    tile_batch: int | None = None,
) -> DecompressResult:
    """Decode an ``.ldmr`` file to a tiled GeoTIFF (or a COG), optionally only inside ``bbox``.

    With ``enhance`` (the default) the decoded tiles go through the LDM-RSIC enhancement the
    file names (or ``enhancer``); its noise is seeded per tile, so output pixels are reproducible.
    Tiles are decoded as jobs: ``jobs`` at a time in this process, or on a Dask cluster (``workers``
    local worker processes, or the one at ``scheduler``); the output is the same either way. Each job
    decodes ``tile_batch`` tiles (default: 1 on the CPU, :data:`defaults.TILE_BATCH_GPU` on a GPU)
    together, one model call per step of the context model for all of them; the latents never
    depend on it, the pixels may in their last bits.
    ``precision`` is that of the synthesis transform and the enhancer (:mod:`ldmrsic_core.precision`);
    it changes pixels in their last bits, never the decoded latents. ``creation_options`` (GDAL's,
    lower-case keys: ``{"compress": "zstd"}``) replace the output's defaults (tiled 256², DEFLATE with
    a predictor); with ``cog`` they are the COG driver's.
    """
    source, target = Path(input), Path(output)
    check_output(target, overwrite, (source,))  # fail fast; atomic_output checks again at the end
    batch = resolve_tile_batch(tile_batch, resolve_device(device))
    with ContainerReader(source, installed_names()) as reader:
        header = reader.typed_header
        if len(reader.entries) != len(header.plan):
            raise InputError(f"{source.name}: the tile index does not match the tile grid")
        exact = exact_entropy(header, reader.version, source.name)
        codec = codec_for(header, model, device, precision)
        enhancing = enhancer_for(header, enhance, enhancer, device, precision)
        box = bbox_box(header.raster.transform, header.raster.height, header.raster.width, bbox) if bbox \
            else header.plan.full()
        groups = tuple(tuple(g) for g in header.groups)
        joining = is_joined(header.overlap, reader.version)
        decode = DecodeSettings(codec, header.raster.count, groups, header.codec.quality, exact, joining)
        enhance_settings = None
        if enhancing:
            level = quality_level(header.codec.quality) if enhancing[1].conditioned else None
            enhance_settings = EnhanceSettings(enhancing[0], groups, level)
        info = header.raster
        transform = Affine(*info.transform) @ Affine.translation(box.cols.start, box.rows.start)
        profile = output_profile(info, box.rows.length, box.cols.length, transform)
        options = dict(creation_options or {})
        if cog:
            check_creation_options(profile, {k: v for k, v in cog_options(profile, options).items() if k != "driver"},
                                   "COG")
        else:
            profile.update(options)
            check_creation_options(profile, options)
        fill = info.nodata if info.nodata is not None else (np.nan if info.mask_kind == MaskKind.NAN else 0)
        write_mask = info.nodata is None and (info.mask_kind == MaskKind.DATASET_MASK or
                                              (allow_damaged and info.mask_kind != MaskKind.NAN))
        total = sum(1 for _ in header.plan.output_windows(box))
        with open_runner(jobs, workers, scheduler) as runner, bounded_gdal_cache(), \
                atomic_output(target, overwrite, inputs=(source,)) as tmp:
            source_of_windows = _WindowSource(reader, header, runner, decode, enhance_settings, allow_damaged, batch,
                                              SynthesisSettings(codec, groups) if joining else None)
            tiff = temporary_sibling(target, ".tif.part") if cog else tmp
            try:
                with write_errors(target), open_geotiff(tiff, profile) as dst:
                    restore_metadata(dst, info)
                    if enhancing:
                        dst.update_tags(LDMRSIC_ENHANCER=f"{enhancing[1].name} sha256:{enhancing[1].sha256}")
                    writer = BlockWriter(dst, with_mask=write_mask)
                    for done, (part, values, valid) in enumerate(source_of_windows.windows(box), start=1):
                        values[~valid] = fill
                        writer.write(part.relative_to(box), values, valid)
                        if progress:
                            progress(done, total)
                    writer.close()
                if cog:
                    write_cog(tiff, tmp, profile, target, options)
                check_written(tmp, target)
            finally:
                if cog:
                    tiff.unlink(missing_ok=True)
    return DecompressResult(target, box.cols.length, box.rows.length, source_of_windows.tiles_read,
                            tuple(sorted(source_of_windows.damaged)), enhancing[1].name if enhancing else None)


class _WindowSource:
    """Output windows with their decoded (and enhanced) pixels, stripe by stripe (:mod:`.schedule`):
    tiles are decoded and enhanced as jobs on ``runner``, each held only while it is needed."""

    def __init__(self, reader: ContainerReader, header: Header, runner: TileRunner, decode: DecodeSettings,
                 enhance: EnhanceSettings | None, allow_damaged: bool, batch: int = 1,
                 synthesis: SynthesisSettings | None = None):
        self.reader, self.header, self.runner, self.batch = reader, header, runner, batch
        self.decode_settings, self.enhance_settings, self.synthesis = decode, enhance, synthesis
        self.allow_damaged = allow_damaged
        self.plan = header.plan
        self.damaged: set[int] = set()
        self.tiles_read = 0

    def windows(self, box: Box) -> Iterator[tuple[Box, np.ndarray, np.ndarray]]:
        """(window, values in the output dtype, validity) for every output window of ``box``."""
        columns = stripe_columns(self.plan, self.header.raster.count, DECODE_MEMORY)
        for stripe in stripes(self.plan, box, self.enhance_settings is not None, columns):
            yield from self._stripe(stripe)

    def _stripe(self, stripe: Stripe) -> Iterator[tuple[Box, np.ndarray, np.ndarray]]:
        plan, bands = self.plan, self.header.raster.count
        blended = [plan.touching(part) for _, part in stripe.windows]
        owners = [[owner] for owner, _ in stripe.windows]
        if self.enhance_settings is None:
            decoded = self._decoded(stripe.decode, use_counts(blended + owners))
            fetch = lambda i: decoded.get(i).unit  # noqa: E731
            done = decoded.release
        else:
            contexts = [plan.touching(context_box(plan, e)) for e in stripe.enhance]
            decoded = self._decoded(stripe.decode, use_counts(contexts + owners))
            enhanced = OrderedResults(stripe.enhance, self.runner.map_batched(
                enhance_tiles, self.enhance_settings, self._enhance_jobs(stripe, decoded, contexts), self.batch),
                use_counts(blended))
            fetch, done = enhanced.get, enhanced.release
        for (owner, part), needs in zip(stripe.windows, blended):
            unit, covered = blend(plan, part, bands, fetch)
            valid = self._valid(owner, part, decoded.get(owner).valid) & covered
            done(needs)
            decoded.release([owner])
            yield part, self._values(unit, valid), valid

    def _decoded(self, tiles: tuple[int, ...], uses: dict[int, int]) -> OrderedResults[DecodedTile]:
        if self.synthesis is None:
            self.tiles_read += len(tiles)
            return OrderedResults(tiles, self._checked(self.runner.map_batched(
                decode_tiles, self.decode_settings, self._decode_jobs(tiles), self.batch)), uses)
        # Joined tiles: entropy-decode each tile of the neighbourhoods once, then synthesise each tile
        # from its neighbourhood's latents, each latent held until its last neighbour is made.
        neighbourhoods = [neighbourhood(self.plan, index) for index in tiles]
        needed = tuple(sorted({i for near in neighbourhoods for i in near}))
        self.tiles_read += len(needed)
        latents = OrderedResults(needed, self._checked(self.runner.map_batched(
            decode_tiles, self.decode_settings, self._decode_jobs(needed), self.batch)), use_counts(neighbourhoods))
        return OrderedResults(tiles, self.runner.map_batched(
            synthesise_tiles, self.synthesis, self._synthesis_jobs(tiles, neighbourhoods, latents), self.batch), uses)

    def _synthesis_jobs(self, tiles: tuple[int, ...], neighbourhoods: list[list[int]],
                        latents: OrderedResults[DecodedTile]) -> Iterator[tuple]:
        for index, near in zip(tiles, neighbourhoods):
            tile, windows, crop = latents.get(index), None, None
            if tile.latents is not None:
                windows, crop = synthesis_window(self.plan, index, lambda i: latents.get(i).latents)
            latents.release(near)
            yield tile, windows, crop

    def _decode_jobs(self, tiles: tuple[int, ...]) -> Iterator[tuple]:
        for index in tiles:
            try:
                payload: bytes | DamagedTileError = self.reader.read_tile(index)
            except DamagedTileError as exc:
                payload = exc
            yield index, payload, self.plan.extent(index).shape, self.plan.owned(index).shape

    def _checked(self, results: Iterator[DecodedTile]) -> Iterator[DecodedTile]:
        """Stop at a damaged tile, or (``allow_damaged``) warn and pass it on as empty."""
        for result in results:
            if result.error is not None:
                if not self.allow_damaged:
                    raise result.error
                warnings.warn(f"{result.error}; filled with nodata", DamagedTileWarning, stacklevel=2)
                self.damaged.add(result.error.index)
            yield result

    def _enhance_jobs(self, stripe: Stripe, decoded: OrderedResults[DecodedTile],
                      contexts: list[list[int]]) -> Iterator[tuple]:
        plan, bands = self.plan, self.header.raster.count
        for index, needs in zip(stripe.enhance, contexts):
            context, crop = None, plan.extent(index).relative_to(context_box(plan, index))
            if decoded.get(index).unit is not None:
                blended, _ = blend(plan, context_box(plan, index), bands, lambda i: decoded.get(i).unit)
                context = blended.astype(np.float32)  # what MEN takes: half the bytes to hold or send
            decoded.release(needs)
            yield index, context, crop

    def _valid(self, owner: int, part: Box, owner_valid: np.ndarray | None) -> np.ndarray:
        if owner_valid is None:
            return np.zeros((self.header.raster.count, *part.shape), dtype=bool)
        return owner_valid[(slice(None), *part.relative_to(self.plan.owned(owner)).slices)].copy()

    def _values(self, unit: np.ndarray, valid: np.ndarray) -> np.ndarray:
        dtype = self.header.raster.dtype
        values = np.stack([m.from_unit(unit[b], dtype) for b, m in enumerate(self.header.mappings)])
        nodata = self.header.raster.nodata
        if nodata is not None and not np.isnan(nodata):
            # A valid pixel that decodes to the nodata value would become a hole: step it off.
            values[valid & (values == nodata)] = _next_to(nodata, dtype)
        return values


def _next_to(nodata: float, dtype: str) -> float:
    """The representable value nearest to ``nodata`` (towards the data's interior)."""
    if np.issubdtype(np.dtype(dtype), np.integer):
        return nodata + 1 if nodata < np.iinfo(dtype).max else nodata - 1
    kind = np.dtype(dtype).type
    return float(np.nextafter(kind(nodata), kind(np.inf) if nodata < 0 else kind(-np.inf)))
