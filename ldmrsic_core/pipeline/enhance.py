"""``enhance_raster``: JPEG2000* — LDM-RSIC enhancement of a raster decoded by a classical codec.

The raster (for example a ``gdal_translate -of JP2OpenJPEG`` output or a JPEG2000 satellite
product) is read in overlapping tiles with windowed reads; each tile is enhanced by a model
trained on that codec's output (noise seeded per tile), tiles are blended with ramp weights
and written window by window. Georeferencing, dtype, nodata, band metadata and invalid
pixels are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio

from ldmrsic_core import defaults
from ldmrsic_core.bands import group_bands, parse_band_list
from ldmrsic_core.block_writer import BlockWriter
from ldmrsic_core.device import resolve_device
from ldmrsic_core.enhance.enhancer import bpp_level
from ldmrsic_core.errors import InputError, WeightsError
from ldmrsic_core.format.header import MaskKind
from ldmrsic_core.outputs import atomic_output, check_output
from ldmrsic_core.pipeline.blending import blend
from ldmrsic_core.pipeline.executors import open_runner, resolve_tile_batch
from ldmrsic_core.pipeline.schedule import OrderedResults, stripe_columns, stripes, use_counts
from ldmrsic_core.pipeline.tile_jobs import EnhanceSettings, enhance_tiles
from ldmrsic_core.raster_io import (
    bounded_gdal_cache,
    check_written,
    describe,
    open_source,
    output_profile,
    read_pixels,
    restore_metadata,
    scan_mappings,
    write_errors,
)
from ldmrsic_core.tiling import TilePlan, validate
from ldmrsic_core.zoo.cache import model_ref
from ldmrsic_core.zoo.enhancers import default_enhancer, load_enhancer

#: Memory for the enhanced tiles held at once (sets the stripe width, see :mod:`.schedule`).
ENHANCE_MEMORY = 512 << 20

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EnhanceResult:
    output: Path
    width: int
    height: int
    tiles: int
    enhancer: str
    notes: tuple[str, ...] = ()


def enhance_raster(
    input: str | Path,
    output: str | Path,
    *,
    source: str = "jpeg2000",
    enhancer: str | Path | None = None,
    tile: int = defaults.ENHANCE_TILE,
    overlap: int = defaults.ENHANCE_OVERLAP,
    value_range: tuple[float, float] | None = None,
    source_bpp: float | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: str = defaults.PRECISION,
    tile_batch: int | None = None,
) -> EnhanceResult:
    """Enhance every band of a raster that ``source`` (a classical codec) decoded; write a GeoTIFF.

    The model is told the rate the raster was coded at: ``source_bpp`` if given, else the size of
    the JPEG2000 file itself (bits per pixel, all bands together). Tiles are enhanced as jobs
    (``jobs``, ``workers``, ``scheduler``, ``tile_batch``: see
    :func:`~ldmrsic_core.pipeline.compress.compress_raster`), in ``precision`` (:mod:`ldmrsic_core.precision`)."""
    src_path, target = Path(input), Path(output)
    check_output(target, overwrite, (src_path,))
    validate(tile, overlap)
    if source not in defaults.ENHANCE_SOURCES:
        known = ", ".join(defaults.ENHANCE_SOURCES)
        raise WeightsError(f"--source {source} is not supported; enhancement exists for: {known}")
    torch_device = resolve_device(device)
    batch = resolve_tile_batch(tile_batch, torch_device)
    name = enhancer if enhancer is not None else default_enhancer(source)
    if name is None:
        raise WeightsError(f"no enhancement model for {source} is installed; pass --enhancer NAME|PATH "
                           "(train one with `ldmrsic-geo train --stage prior/ldm --source jpeg2000`)")
    model = load_enhancer(name, torch_device)
    if model.source != source:
        raise WeightsError(f"enhancer {model.name} restores {model.source} output, not {source}")
    notes: list[str] = []
    with bounded_gdal_cache(), open_source(src_path) as src:
        level = None
        if model.conditioned:
            rate = source_bpp if source_bpp is not None else _coded_bpp(src, src_path)
            level = bpp_level(rate)
            measured = model.measured_gain(rate)
            if measured and measured[1] < 0:
                notes.append(f"{src_path.name} was coded at {rate:.3f} bpp; near {measured[0]:.2f} bpp {model.name} "
                             f"was measured to lower PSNR by {-measured[1]:.2f} dB on its validation images")
        selected = parse_band_list(None, src.count)
        info = describe(src, selected)
        plan = TilePlan(info.height, info.width, tile, overlap)
        mappings = scan_mappings(src, info, [plan.owned(i) for i in range(len(plan))], value_range)
        settings = EnhanceSettings(model_ref(name, model, device, "enhancer", precision),
                                   tuple(tuple(g) for g in group_bands(info.count)), level)

        def enhance_jobs(tiles: tuple[int, ...]):  # read ahead in this thread while the jobs run
            for index in tiles:
                extent = plan.extent(index)
                values, _ = read_pixels(src, selected, extent)
                unit = np.nan_to_num(np.stack([m.to_unit(v) for m, v in zip(mappings, values)]))
                yield index, unit, extent.relative_to(extent)

        profile = output_profile(info, info.height, info.width, src.transform)
        total = sum(1 for _ in plan.output_windows(plan.full()))
        columns = stripe_columns(plan, info.count, ENHANCE_MEMORY)
        any_valid, done = False, 0
        with open_runner(jobs, workers, scheduler) as runner, \
                atomic_output(target, overwrite, inputs=(src_path,)) as tmp:
            with write_errors(target), rasterio.open(tmp, "w", **profile) as dst:
                restore_metadata(dst, info)
                dst.update_tags(LDMRSIC_ENHANCER=f"{model.name} sha256:{model.sha256}")
                writer = BlockWriter(dst, with_mask=info.mask_kind == MaskKind.DATASET_MASK)
                for stripe in stripes(plan, plan.full(), False, columns):  # stripe.decode: the tiles to enhance
                    blended = [plan.touching(part) for _, part in stripe.windows]
                    results = runner.map_batched(enhance_tiles, settings, enhance_jobs(stripe.decode), batch)
                    enhanced = OrderedResults(stripe.decode, results, use_counts(blended))
                    for (_, part), needs in zip(stripe.windows, blended):
                        original, valid = read_pixels(src, selected, part)
                        out = original
                        if valid.any():  # windows without a valid pixel are copied as they are
                            any_valid = True
                            unit, _ = blend(plan, part, info.count, enhanced.get)
                            restored = np.stack([m.from_unit(unit[b], info.dtype) for b, m in enumerate(mappings)])
                            out = np.where(valid, restored, original)
                        enhanced.release(needs)
                        writer.write(part, out, valid)
                        done += 1
                        if progress:
                            progress(done, total)
                writer.close()
                if not any_valid:
                    raise InputError(f"{src_path.name} has no valid pixel (every value is nodata or masked): "
                                     "there is nothing to enhance")
            check_written(tmp, target)
    return EnhanceResult(target, info.width, info.height, len(plan), model.name, tuple(notes))


def _coded_bpp(src: rasterio.DatasetReader, path: Path) -> float:
    if src.driver not in ("JP2OpenJPEG", "JPEG2000", "JP2ECW", "JP2KAK", "JP2Lura"):
        raise InputError(f"{path.name} is not a JPEG2000 file ({src.driver}), so the rate it was coded at is "
                         "unknown: pass --source-bpp (bits per pixel, all bands together)")
    return 8 * path.stat().st_size / (src.width * src.height)
