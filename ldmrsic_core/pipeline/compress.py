"""``compress_raster``: a raster → an ``.ldmr`` file, tile by tile with windowed reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ldmrsic_core import __version__, defaults
from ldmrsic_core.bands import group_bands, parse_band_list
from ldmrsic_core.device import resolve_device
from ldmrsic_core.enhance.enhancer import quality_level
from ldmrsic_core.errors import InputError
from ldmrsic_core.format.binary_header import stored_quality
from ldmrsic_core.format.container import ContainerWriter, container_bytes
from ldmrsic_core.format.header import ENTROPY_SCHEME, CodecInfo, EnhancerInfo, Header, MaskKind, RasterInfo
from ldmrsic_core.format.versions import VERSION
from ldmrsic_core.models.codec import check_quality, lambda_for_quality
from ldmrsic_core.models.refine import check_refine_steps
from ldmrsic_core.outputs import atomic_output, check_output
from ldmrsic_core.pipeline.executors import open_runner, resolve_tile_batch
from ldmrsic_core.pipeline.joined import analysis_window, is_joined
from ldmrsic_core.pipeline.targets import (
    SAMPLE_CROP,
    SearchCodec,
    Target,
    TargetChoice,
    TargetSearch,
    sample_scene,
)
from ldmrsic_core.pipeline.tile_codec import enhance_groups
from ldmrsic_core.pipeline.tile_jobs import EncodeSettings, encode_tiles
from ldmrsic_core.raster_io import (
    bounded_gdal_cache,
    describe,
    open_source,
    read_pixels,
    scan_mappings,
    valid_counts,
)
from ldmrsic_core.tiling import TilePlan, validate
from ldmrsic_core.value_curves import wants_curves
from ldmrsic_core.zoo.cache import model_ref, shared_model
from ldmrsic_core.zoo.enhancers import LoadedEnhancer, check_pairing, default_enhancer
from ldmrsic_core.zoo.table import bundled_hashes, default_model, default_models, named_weights

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
    valid_pixels: int | None = None
    raw_bytes: int | None = None
    quality: float | None = None
    target: TargetChoice | None = None

    @property
    def bpp(self) -> float:
        """Bits of the whole file per pixel (all bands together)."""
        return 8 * self.bytes / self.pixels

    @property
    def valid_bpp(self) -> float:
        """Bits of the whole file per pixel valid in some band (what ``--bpp`` aims at)."""
        return 8 * self.bytes / self.valid_pixels if self.valid_pixels else float("inf")

    @property
    def ratio(self) -> float:
        """Uncompressed size of the coded bands over the file's size (what ``--ratio`` aims at)."""
        return (self.raw_bytes or 0) / self.bytes


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
    value_curve: str = defaults.VALUE_CURVE,
    enhance: bool = True,
    enhancer: str | Path | None = None,
    allow_empty: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: str = defaults.PRECISION,
    target: Target | tuple[str, float] | None = None,
    tile_batch: int | None = None,
    refine: int = defaults.REFINE,
) -> CompressResult:
    """Compress a raster into an ``.ldmr`` file (default: ``input`` with suffix ``.ldmr``).

    The header names the decode-time enhancer (``enhancer``, or by default the installed one
    trained for this codec); ``enhance=False`` names none. No bits are spent on it. A raster
    without any valid pixel is refused unless ``allow_empty`` (then only its grid and metadata
    are stored). Tiles are read ahead and coded as jobs: ``jobs`` at a time in this process, or on
    a Dask cluster (``workers`` local worker processes, or the one at ``scheduler``); the file's
    bytes are the same either way. Tiles without ``overlap`` (the default) are joined: each is analysed
    with its neighbours around it and decoded from theirs too, so they need no overlap to hide seams
    (:mod:`ldmrsic_core.pipeline.joined`); with an overlap they are coded alone and blended. Each job
    codes ``tile_batch`` tiles (default: 1 on the CPU, :data:`defaults.TILE_BATCH_GPU` on a GPU) in one
    model call per step; the bytes may depend on it.
    ``precision`` is that of the float analysis transform
    (:mod:`ldmrsic_core.precision`: ``auto`` is bf16 where the device has it); the bytes depend on
    it and on the device, and the file decodes on any machine either way. With a ``target`` (a file
    size or PSNR, :mod:`ldmrsic_core.pipeline.targets`) the quality is chosen by a search on a sample
    of the scene instead (``quality`` is then ignored; ``("bpp", 0.3)`` is ``Target("bpp", 0.3)``); the
    result says what was chosen. ``refine`` spends that many optimisation steps per tile on the encoder
    side for a smaller file at the same quality (:mod:`ldmrsic_core.models.refine`; 0: off); a target's
    search estimates without it, so such a file comes out a little smaller or better than the estimate.
    Bands wider than 8 bits are mapped to the codec's range through a curve fitted to their values
    (``value_curve="fitted"``, :mod:`ldmrsic_core.value_curves`) or linearly from their valid min–max
    (``"linear"``); ``value_range`` maps every band linearly from that range instead.
    """
    if target is not None and not isinstance(target, Target):
        target = Target(*target)
    source = Path(input)
    output_path = Path(output) if output is not None else source.with_suffix(".ldmr")
    check_output(output_path, overwrite, (source,))  # fail fast; atomic_output checks again at the end
    quality = stored_quality(check_quality(quality)) if target is None else defaults.QUALITY
    validate(tile, overlap)
    check_refine_steps(refine)
    curves = wants_curves(value_curve)
    torch_device = resolve_device(device)
    batch = resolve_tile_batch(tile_batch, torch_device)
    if model is None and enhance and enhancer is not None:  # a named enhancer brings its own default codec
        model = _default_codec_of(enhancer, torch_device)
    # Without a named model the bundled default for the quality codes: a codec trained for the top rates
    # may take over from a quality up (a target's search estimates each quality with its own codec).
    if model is not None or target is None:
        candidates = [(defaults.MIN_QUALITY, model if model is not None else default_model(quality))]
    else:
        candidates = list(default_models()) or [(defaults.MIN_QUALITY, None)]
    codec_at = {q: shared_model("codec", name, torch_device) for q, name in candidates}
    enhancer_at = {q: _chosen_enhancer(net.name, net.sha256, enhance, enhancer, torch_device)
                   for q, net in codec_at.items()}

    def codec_for(q: float) -> float:  # the key of the codec that codes quality q
        return max((k for k in codec_at if k <= q), default=min(codec_at))

    with bounded_gdal_cache(), open_source(source) as src:
        selected = parse_band_list(",".join(map(str, bands)) if isinstance(bands, list) else bands, src.count)
        info = describe(src, selected)
        plan = TilePlan(info.height, info.width, tile, overlap)
        mappings = scan_mappings(src, info, [plan.owned(i) for i in range(len(plan))], value_range,
                                 curves=curves)
        groups = tuple(tuple(g) for g in group_bands(info.count))
        choice = None
        if target is not None:
            lowest = min(codec_at)
            header = _header(info, codec_at[lowest], quality, tile, overlap, groups, mappings, (0,) * info.count,
                             enhancer_at[lowest][0])
            crops = sample_scene(lambda box: read_pixels(src, selected, box), info.height, info.width,
                                 min(tile, SAMPLE_CROP))
            owned = [plan.owned(i) for i in range(len(plan))]
            owned_valid = ([b.rows.length * b.cols.length for b in owned] if info.mask_kind == MaskKind.NONE
                           else valid_counts(src, selected, owned))
            enhancements = {q: _estimate_enhancement(enhancer_at[q][1], groups, torch_device, precision)
                            for q in codec_at}
            choice = TargetSearch(
                codec_at[lowest].model, torch_device, crops, mappings, [list(g) for g in groups], info.dtype, plan,
                owned_valid, _raw_bytes(info), lambda lengths: container_bytes(header, lengths, bundled_hashes()),
                enhancements[lowest], [SearchCodec(q, codec_at[q].model, enhancements[q]) for q in codec_at
                                       if q != lowest],
            ).search(target)
            quality = stored_quality(choice.quality)
        codec = codec_at[codec_for(quality)]
        enhancement = enhancer_at[codec_for(quality)][0]
        codec_ref = model_ref(model if model is not None else codec.name, codec, device, "codec", precision)
        joining = is_joined(overlap, VERSION)
        settings = EncodeSettings(codec_ref, tuple(mappings), groups, quality, refine, joining)

        def tile_jobs():  # read ahead in this thread while the jobs run
            for index in range(len(plan)):
                window = analysis_window(plan, index) if joining else plan.extent(index)
                values, valid = read_pixels(src, selected, window)
                yield values, valid, plan.owned(index).relative_to(window)

        clipped = np.zeros(info.count, dtype=np.int64)
        any_valid, valid_pixels = False, 0
        with open_runner(jobs, workers, scheduler) as runner, \
                atomic_output(output_path, overwrite, inputs=(source,)) as tmp, \
                ContainerWriter(tmp, len(plan)) as writer:
            for index, coded in enumerate(runner.map_batched(encode_tiles, settings, tile_jobs(), batch)):
                writer.add_tile(index, coded.payload)
                clipped += coded.clipped
                any_valid = any_valid or coded.any_valid
                valid_pixels += coded.valid_pixels
                if progress:
                    progress(index + 1, len(plan))
            if not any_valid and not allow_empty:
                raise InputError(f"{source.name} has no valid pixel (every value is nodata or masked): there is "
                                 "nothing to compress; pass --allow-empty to store its grid and metadata anyway")
            header = _header(info, codec, quality, tile, overlap, groups, mappings, tuple(int(c) for c in clipped),
                             enhancement)
            writer.finish(header, bundled_hashes())
    size = output_path.stat().st_size
    notes = tuple(note for ok, note in (
        (info.crs_wkt, f"{source.name} has no CRS; the decoded raster will have none either"),
        (codec.trained, f"model {codec.name} is untrained (random weights): expect poor quality"),
    ) if not ok)
    return CompressResult(output_path, size, info.width * info.height, len(plan), header.clipped, notes,
                          valid_pixels, _raw_bytes(info), quality, choice)


def _header(info: RasterInfo, codec, quality: float, tile: int, overlap: int, groups, mappings,
            clipped: tuple[int, ...], enhancement: EnhancerInfo | None) -> Header:
    return Header(
        raster=info,
        codec=CodecInfo(codec.name, codec.sha256, codec.config.name, quality, lambda_for_quality(quality)),
        tile_size=tile,
        overlap=overlap,
        groups=groups,
        mappings=tuple(mappings),
        clipped=clipped,
        software=f"ldmrsic-geo {__version__}",
        enhancer=enhancement,
        entropy=ENTROPY_SCHEME,
    )


def _raw_bytes(info: RasterInfo) -> int:
    return info.width * info.height * info.count * np.dtype(info.dtype).itemsize


def _chosen_enhancer(codec_name: str, codec_sha256: str, enhance: bool, enhancer: str | Path | None,
                     device) -> tuple[EnhancerInfo | None, LoadedEnhancer | None]:
    if not enhance:
        return None, None
    name = enhancer if enhancer is not None else default_enhancer("ldmrsic", codec_sha256)
    if name is None:
        return None, None
    loaded = check_pairing(shared_model("enhancer", name, device), codec_name, codec_sha256)
    return EnhancerInfo(loaded.name, loaded.sha256, loaded.config.name), loaded


def _default_codec_of(enhancer: str | Path, device) -> str | None:
    """The bundled default codec (of any quality) that ``enhancer`` was trained for; None if none is."""
    paired = shared_model("enhancer", enhancer, device).codec_sha256
    named = named_weights()
    return next((name for _, name in default_models() if named[name].sha256 == paired), None)


def _estimate_enhancement(loaded: LoadedEnhancer | None, groups, device, precision: str):
    """What decoding does to a tile, for a target's PSNR estimate (None: no enhancer named)."""
    if loaded is None:
        return None
    from ldmrsic_core.precision import resolve_precision

    loaded.model.set_precision(resolve_precision(precision, device))

    def enhance(unit: np.ndarray, quality: float) -> np.ndarray:
        level = quality_level(quality) if loaded.conditioned else None
        return enhance_groups(loaded.model, [unit], [list(g) for g in groups], [0], device, level)[0]

    return enhance
