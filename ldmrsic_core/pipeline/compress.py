"""``compress_raster``: a raster → an ``.ldmr`` file, tile by tile with windowed reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ldmrsic_core import __version__, defaults
from ldmrsic_core.bands import group_bands, parse_band_list
from ldmrsic_core.device import resolve_device
from ldmrsic_core.errors import InputError
from ldmrsic_core.format.container import ContainerWriter
from ldmrsic_core.format.header import ENTROPY_SCHEME, CodecInfo, EnhancerInfo, Header
from ldmrsic_core.models.codec import check_quality, lambda_for_quality
from ldmrsic_core.outputs import atomic_output, check_output
from ldmrsic_core.pipeline.executors import open_runner
from ldmrsic_core.pipeline.tile_jobs import EncodeSettings, encode_tile
from ldmrsic_core.raster_io import bounded_gdal_cache, describe, open_source, read_pixels, scan_mappings
from ldmrsic_core.tiling import TilePlan, validate
from ldmrsic_core.zoo.cache import model_ref
from ldmrsic_core.zoo.enhancers import check_pairing, default_enhancer, load_enhancer
from ldmrsic_core.zoo.registry import load_codec
from ldmrsic_core.zoo.table import bundled_hashes

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)``; raise :class:`~ldmrsic_core.errors.Cancelled` in it to stop."""


@dataclass(frozen=True)
class CompressResult:
    output: Path
    bytes: int
    pixels: int
    tiles: int
    clipped: tuple[int, ...]
    notes: tuple[str, ...] = ()

    @property
    def bpp(self) -> float:
        """Bits of the whole file per pixel (all bands together)."""
        return 8 * self.bytes / self.pixels


def compress_raster(
    input: str | Path,
    output: str | Path | None = None,
    *,
    quality: float = defaults.QUALITY,
    tile: int = defaults.TILE,
    overlap: int = defaults.OVERLAP,
    bands: str | list[int] | None = None,
    model: str | Path | None = None,
    device: str = "auto",
    value_range: tuple[float, float] | None = None,
    enhance: bool = True,
    enhancer: str | Path | None = None,
    allow_empty: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: str = defaults.PRECISION,
) -> CompressResult:
    """Compress a raster into an ``.ldmr`` file (default: ``input`` with suffix ``.ldmr``).

    The header names the decode-time enhancer (``enhancer``, or by default the installed one
    trained for this codec); ``enhance=False`` names none. No bits are spent on it. A raster
    without any valid pixel is refused unless ``allow_empty`` (then only its grid and metadata
    are stored). Tiles are read ahead and coded as jobs: ``jobs`` at a time in this process, or on
    a Dask cluster (``workers`` local worker processes, or the one at ``scheduler``); the file's
    bytes are the same either way. ``precision`` is that of the float analysis transform
    (:mod:`ldmrsic_core.precision`: ``auto`` is bf16 where the device has it); the bytes depend on
    it and on the device, and the file decodes on any machine either way.
    """
    source = Path(input)
    target = Path(output) if output is not None else source.with_suffix(".ldmr")
    check_output(target, overwrite, (source,))  # fail fast; atomic_output checks again at the end
    quality = check_quality(quality)
    validate(tile, overlap)
    codec = load_codec(model, resolve_device(device))
    codec_ref = model_ref(model if model is not None else codec.name, codec, device, "codec", precision)
    enhancement = _chosen_enhancer(codec.name, codec.sha256, enhance, enhancer)
    with bounded_gdal_cache(), open_source(source) as src:
        selected = parse_band_list(",".join(map(str, bands)) if isinstance(bands, list) else bands, src.count)
        info = describe(src, selected)
        plan = TilePlan(info.height, info.width, tile, overlap)
        mappings = scan_mappings(src, info, [plan.owned(i) for i in range(len(plan))], value_range)
        groups = tuple(tuple(g) for g in group_bands(info.count))
        settings = EncodeSettings(codec_ref, tuple(mappings), groups, quality)

        def tile_jobs():  # read ahead in this thread while the jobs run
            for index in range(len(plan)):
                extent = plan.extent(index)
                values, valid = read_pixels(src, selected, extent)
                yield settings, values, valid, plan.owned(index).relative_to(extent)

        clipped = np.zeros(info.count, dtype=np.int64)
        any_valid = False
        with open_runner(jobs, workers, scheduler) as runner, \
                atomic_output(target, overwrite, inputs=(source,)) as tmp, \
                ContainerWriter(tmp, len(plan)) as writer:
            for index, coded in enumerate(runner.map_ordered(encode_tile, tile_jobs())):
                writer.add_tile(index, coded.payload)
                clipped += coded.clipped
                any_valid = any_valid or coded.any_valid
                if progress:
                    progress(index + 1, len(plan))
            if not any_valid and not allow_empty:
                raise InputError(f"{source.name} has no valid pixel (every value is nodata or masked): there is "
                                 "nothing to compress; pass --allow-empty to store its grid and metadata anyway")
            header = Header(
                raster=info,
                codec=CodecInfo(codec.name, codec.sha256, codec.config.name, quality, lambda_for_quality(quality)),
                tile_size=tile,
                overlap=overlap,
                groups=groups,
                mappings=tuple(mappings),
                clipped=tuple(int(c) for c in clipped),
                software=f"ldmrsic-geo {__version__}",
                enhancer=enhancement,
                entropy=ENTROPY_SCHEME,
            )
            writer.finish(header, bundled_hashes())
    size = target.stat().st_size
    notes = tuple(note for ok, note in (
        (info.crs_wkt, f"{source.name} has no CRS; the decoded raster will have none either"),
        (codec.trained, f"model {codec.name} is untrained (random weights): expect poor quality"),
    ) if not ok)
    return CompressResult(target, size, info.width * info.height, len(plan), header.clipped, notes)


def _chosen_enhancer(codec_name: str, codec_sha256: str, enhance: bool,
                     enhancer: str | Path | None) -> EnhancerInfo | None:
    if not enhance:
        return None
    name = enhancer if enhancer is not None else default_enhancer("ldmrsic", codec_sha256)
    if name is None:
        return None
    loaded = check_pairing(load_enhancer(name), codec_name, codec_sha256)
    return EnhancerInfo(loaded.name, loaded.sha256, loaded.config.name)
