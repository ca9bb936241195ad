"""Rate and quality targets: the continuous quality that gives a scene a file size or a PSNR.

A target (``--bpp``, ``--ratio`` or ``--psnr``) is met by a search over the quality 1.0–5.0 on
a sample of the scene: up to 16 crops of 256² spread over it on a regular grid (nodata and all,
so the sample weighs nodata areas as the scene does). Each crop's latent is computed once (per codec); each
quality tried codes every crop with the codec's entropy model into a real rANS stream per band
group, as the file has them (the float model: the exact one the file will use gave the same stream
sizes wherever compared) and, for a PSNR target, reconstructs it from the quantised latent and
enhances it as decoding will. The scene's file size is then estimated tile by tile from the
sample's bytes per valid coded pixel (each tile's valid share counted from the masks; nodata costs
next to nothing) and a fixed cost per stream, plus the container's own bytes. Rate grows with
quality, so a regula falsi search (Illinois) on log-rate (or on PSNR) brackets the target in a few
tries. The figures reported after compressing are the real file's; the PSNR stays an estimate (the
original is not decoded again).

Where the default codec hands over to one trained for the top rates from some quality up
(:func:`ldmrsic_core.zoo.table.default_models`), each quality is estimated with the codec and
enhancer that compressing at it will use, so one search spans both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np
import torch

from ldmrsic_core.bands import ValueMapping, from_channels
from ldmrsic_core.errors import InputError
from ldmrsic_core.evaluation.metrics import psnr
from ldmrsic_core.format.binary_header import stored_quality
from ldmrsic_core.format.payload import TilePayload
from ldmrsic_core.models import single_stream
from ldmrsic_core.models.codec import MAX_QUALITY, MIN_QUALITY, STRIDE, VariableRateElic
from ldmrsic_core.pipeline.tile_codec import codec_input, fill_invalid
from ldmrsic_core.tiling import Box, Span, TilePlan, padded

TargetKind = Literal["bpp", "ratio", "psnr"]
TARGET_KINDS = ("bpp", "ratio", "psnr")

#: The sample: at most SAMPLE_GRID × SAMPLE_GRID crops of SAMPLE_CROP² pixels.
SAMPLE_GRID = 4
SAMPLE_CROP = 256
#: The search stops when the estimate is this close to the target (rate: relative; PSNR: dB)
#: or the quality interval is narrower than QUALITY_STEP.
RATE_TOLERANCE = 0.015
PSNR_TOLERANCE = 0.03
QUALITY_STEP = 0.01
MAX_TRIES = 8
#: What a stream costs whatever the tile's size (rANS state flush and word alignment; measured: four
#: 256² crops of an aerial image cost 4–6 bytes per stream more than the 512² tile they make up).
STREAM_FIXED_BYTES = 6
#: The prior slope of log(bpp) per quality unit (the shipped codec: about 0.48) for the first step.
LOG_RATE_SLOPE = 0.48
PSNR_SLOPE = 1.7


@dataclass(frozen=True)
class Target:
    """What the file should achieve: bits per valid pixel, a compression ratio (raw bytes / file
    bytes, "20:1") or a PSNR in dB (at the data's peak, over valid pixels, after enhancement)."""

    kind: TargetKind
    value: float

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise InputError(f"unknown target {self.kind!r}: use one of {', '.join(TARGET_KINDS)}")
        flag = f"--{self.kind}"
        if not math.isfinite(self.value) or self.value <= 0:
            raise InputError(f"{flag} {self.value:g} is not a target: give a positive number")
        if self.kind == "ratio" and self.value < 1:
            raise InputError(f"--ratio {self.value:g} would make the file larger than the raw pixels: give "
                             "a ratio above 1 (20 means 20:1)")

    def __str__(self) -> str:
        return {"bpp": f"{self.value:g} bpp", "ratio": f"{self.value:g}:1", "psnr": f"{self.value:g} dB"}[self.kind]


def parse_target(bpp: float | None = None, ratio: float | None = None, psnr_db: float | None = None) -> Target | None:
    """The one target given (None: none), or :class:`InputError` when several are."""
    given = [Target(kind, float(v)) for kind, v in (("bpp", bpp), ("ratio", ratio), ("psnr", psnr_db))
             if v is not None]
    if len(given) > 1:
        raise InputError(f"give one target, not {' and '.join('--' + t.kind for t in given)}")
    return given[0] if given else None


@dataclass(frozen=True)
class Estimate:
    """The whole file's bits per valid pixel and (when asked) PSNR in dB, estimated at ``quality``."""

    quality: float
    bpp: float
    psnr: float | None


@dataclass(frozen=True)
class TargetChoice:
    """The quality chosen for a target, what the sample predicts there, and what the search cost."""

    target: Target
    quality: float
    estimate: Estimate
    crops: int
    tries: int
    seconds: float


def sample_boxes(height: int, width: int, crop: int = SAMPLE_CROP, grid: int = SAMPLE_GRID) -> list[Box]:
    """Up to ``grid``² crops of ``crop``² spread evenly over the raster (fewer, tiling it, when
    it is small; one crop that is the raster when it is smaller than a crop)."""
    def axis(length: int) -> list[Span]:
        size = min(crop, length)
        count = min(grid, math.ceil(length / size))
        starts = {min(max(0, round((i + 0.5) * length / count - size / 2)), length - size) for i in range(count)}
        return [Span(s, s + size) for s in sorted(starts)]

    return [Box(r, c) for r in axis(height) for c in axis(width)]


Enhance = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class SearchCodec:
    """A codec the search estimates with from ``from_quality`` up, and what decoding then applies to a
    decoded tile (``enhance(unit, quality)``; None: nothing)."""

    from_quality: float
    net: VariableRateElic
    enhance: Enhance | None = None


@dataclass
class _Crop:
    values: np.ndarray  # bands×h×w, source values
    valid: np.ndarray  # bands×h×w
    latents: dict[int, list[torch.Tensor]]  # per codec, per band group: y before the gain (empty: no valid pixel)


class TargetSearch:
    """The sample of one scene and the estimates at any quality (see the module docstring)."""

    def __init__(self, net: VariableRateElic, device: torch.device, crops: list[tuple[np.ndarray, np.ndarray]],
                 mappings: list[ValueMapping], groups: list[list[int]], dtype: str, plan: TilePlan,
                 owned_valid: list[int], raw_bytes: int, overhead: Callable[[list[int]], int],
                 enhance: Enhance | None = None, top_codecs: Sequence[SearchCodec] = ()):
        """``crops``: (values, valid) of each sampled crop; ``owned_valid``: how many pixels of each
        tile's owned box are valid in some band; ``raw_bytes``: the scene's uncompressed size; ``overhead``:
        the container's bytes for given tile payload lengths; ``enhance(unit, quality)``: what
        decoding applies to a decoded tile (None: nothing); ``top_codecs``: codecs that take over from
        ``net`` at higher qualities (each with its enhancement)."""
        self.codecs = [SearchCodec(MIN_QUALITY, net, enhance), *sorted(top_codecs, key=lambda c: c.from_quality)]
        self.device, self.mappings, self.groups, self.dtype = device, mappings, groups, dtype
        for codec in self.codecs:
            single_stream.share_streams(codec.net.latent_codec)  # one stream per band group, as compress writes
        self.plan, self.raw_bytes = plan, raw_bytes
        self.tile_valid = [n / (b.rows.length * b.cols.length) for n, b in zip(owned_valid, map(plan.owned,
                                                                                                range(len(plan))))]
        self.valid_pixels = max(1, sum(owned_valid))
        self.overhead = overhead
        self.crops = [_Crop(v, ok, {}) for v, ok in crops]
        self.tried: dict[float, Estimate] = {}
        self._hats: dict[float, list[list[torch.Tensor]]] = {}  # quality → per crop, per group: quantised y

    def _codec_at(self, quality: float) -> tuple[int, SearchCodec]:
        index = max(i for i, c in enumerate(self.codecs) if c.from_quality <= quality)
        return index, self.codecs[index]

    @torch.no_grad()
    def _latents(self, crop: _Crop, index: int) -> list[torch.Tensor]:
        """The crop's latents by codec ``index`` (analysed on first use: most searches need one codec)."""
        if index not in crop.latents:
            net = self.codecs[index].net
            crop.latents[index] = [] if not crop.valid.any() else [
                net.analyse(codec_input([self._unit(crop)], group, self.device)) for group in self.groups]
        return crop.latents[index]

    def _unit(self, crop: _Crop) -> np.ndarray:
        return fill_invalid(np.stack([m.to_unit(v) for m, v in zip(self.mappings, crop.values)]), crop.valid)

    @torch.no_grad()
    def estimate(self, quality: float, with_psnr: bool) -> Estimate:
        """The file's bpp (and PSNR) at ``quality``, from real streams of the sample."""
        known = self.tried.get(quality)
        if known is None:
            known = self.tried[quality] = Estimate(quality, self._rate(quality), None)
        if with_psnr and known.psnr is None:
            known = self.tried[quality] = Estimate(quality, known.bpp, self._psnr(quality))
        return known

    @torch.no_grad()
    def _rate(self, quality: float) -> float:
        """Code every crop at ``quality`` (keeping its quantised latents for :meth:`_psnr`) and
        estimate the file's bits per valid pixel, tile by tile, from the streams' bytes."""
        index, codec = self._codec_at(quality)
        gain = codec.net.gains(quality)[0]
        stream_bytes = framing = coded_valid = streams_per_crop = 0
        hats = self._hats[quality] = []
        for crop in self.crops:
            h, w = crop.valid.shape[1:]
            streams, kept = [], []
            for y in self._latents(crop, index):
                with single_stream.encoding(1) as coded:
                    out = codec.net.latent_codec.compress(y * gain)
                streams.append(coded.flush())
                kept.append(out["y_hat"])
            hats.append(kept)
            payload = len(TilePayload(crop.valid, streams, (0,) * len(streams)).encode())
            count = sum(len(group) for group in streams)
            size = sum(len(s) for group in streams for s in group)
            streams_per_crop = max(streams_per_crop, count)
            framing += payload - size
            stream_bytes += size - STREAM_FIXED_BYTES * count  # the part that grows with the area
            # nodata costs next to nothing: bytes grow with the valid part of the (padded) coded area
            coded_valid += padded(h, STRIDE) * padded(w, STRIDE) * float(crop.valid.any(axis=0).mean())
        per_pixel = stream_bytes / max(coded_valid, 1.0)
        framing /= len(self.crops)
        streams = STREAM_FIXED_BYTES * streams_per_crop
        lengths = [round(per_pixel * _area(self.plan.extent(i)) * share + framing + (streams if share else 0))
                   for i, share in enumerate(self.tile_valid)]
        return 8 * (sum(lengths) + self.overhead(lengths)) / self.valid_pixels

    @torch.no_grad()
    def _psnr(self, quality: float) -> float:
        """PSNR of the crops reconstructed from their latents at ``quality`` (and enhanced)."""
        codec = self._codec_at(quality)[1]
        inv_gain = codec.net.gains(quality)[1]
        error, counted = 0.0, 0
        for crop, kept in zip(self.crops, self._hats[quality]):
            if not kept:
                continue
            h, w = crop.valid.shape[1:]
            decoded = [codec.net.synthesize(y_hat * inv_gain)[0, :, :h, :w].float().cpu().numpy() for y_hat in kept]
            e, n = self._squared_error(crop, decoded, quality, codec.enhance)
            error, counted = error + e, counted + n
        return psnr(error / counted) if counted else math.inf

    def _squared_error(self, crop: _Crop, decoded: list[np.ndarray], quality: float,
                       enhance: Enhance | None) -> tuple[float, int]:
        """Normalised squared error over the crop's valid values, as ``eval`` measures it."""
        unit = np.concatenate([from_channels(rgb, g) for rgb, g in zip(decoded, self.groups)]).astype(np.float32)
        if enhance is not None:
            unit = enhance(unit, quality)
        total, count = 0.0, 0
        for b, m in enumerate(self.mappings):
            ok = crop.valid[b]
            out = m.from_unit(unit[b][ok], self.dtype).astype(np.float64)
            peak = 255.0 if self.dtype == "uint8" else m.peak
            total += float((((out - crop.values[b][ok].astype(np.float64)) / peak) ** 2).sum())
            count += int(ok.sum())
        return total, count

    def search(self, target: Target) -> TargetChoice:
        """The quality whose estimate meets ``target``; :class:`InputError` when it is out of reach."""
        start = time.perf_counter()
        with_psnr = target.kind == "psnr"
        goal = self._goal(target)
        tolerance = PSNR_TOLERANCE if with_psnr else math.log1p(RATE_TOLERANCE)

        scores: dict[float, float] = {}

        def score(q: float) -> float:  # increasing in quality, 0 at the target
            q = stored_quality(q)  # only qualities a file can store are tried
            e = self.estimate(q, with_psnr)
            scores[q] = (e.psnr - goal) if with_psnr else math.log(e.bpp / goal)
            return scores[q]

        score(3.0)
        slope = PSNR_SLOPE if with_psnr else LOG_RATE_SLOPE
        weight = {}  # Illinois: an end of the bracket kept twice counts half as much each time
        while len(scores) < MAX_TRIES:
            best = min(scores, key=lambda q: abs(scores[q]))
            if abs(scores[best]) <= tolerance:
                break
            below = {q: s for q, s in scores.items() if s < 0}
            above = {q: s for q, s in scores.items() if s >= 0}
            lo, hi = max(below, default=None), min(above, default=None)
            if lo is not None and hi is not None:
                if hi - lo <= QUALITY_STEP:
                    break
                f_lo, f_hi = scores[lo] * weight.get(lo, 1.0), scores[hi] * weight.get(hi, 1.0)
                nxt = lo - f_lo * (hi - lo) / (f_hi - f_lo)
                nxt = min(max(nxt, lo + QUALITY_STEP / 2), hi - QUALITY_STEP / 2)
                kept = lo if score(nxt) >= 0 else hi  # the end that stays in the bracket
                weight[kept] = weight.get(kept, 1.0) / 2
                continue
            if hi is None:  # every try is below the target: step up
                if lo == MAX_QUALITY:
                    self._out_of_reach(target, with_psnr)
                nxt = min(MAX_QUALITY, max(lo + QUALITY_STEP, lo - scores[lo] / _slope(below, slope)))
            else:  # every try is above the target: step down
                if hi == MIN_QUALITY:
                    self._out_of_reach(target, with_psnr)
                nxt = max(MIN_QUALITY, min(hi - QUALITY_STEP, hi - scores[hi] / _slope(above, slope)))
            score(nxt)
        q = min(scores, key=lambda k: abs(scores[k]))
        estimate = self.estimate(q, with_psnr or self._codec_at(q)[1].enhance is not None)
        return TargetChoice(target, q, estimate, len(self.crops), len(scores), time.perf_counter() - start)

    def _goal(self, target: Target) -> float:
        if target.kind == "ratio":  # raw / file = ratio  →  bits per valid pixel of that file size
            return 8 * self.raw_bytes / target.value / self.valid_pixels
        return target.value

    def _out_of_reach(self, target: Target, with_psnr: bool) -> None:
        low, high = self.estimate(MIN_QUALITY, with_psnr), self.estimate(MAX_QUALITY, with_psnr)
        if with_psnr:
            reach = f"{low.psnr:.2f}–{high.psnr:.2f} dB"
        elif target.kind == "ratio":
            ratio = [self.raw_bytes * 8 / (e.bpp * self.valid_pixels) for e in (high, low)]
            reach = f"{ratio[0]:.1f}:1–{ratio[1]:.1f}:1"
        else:
            reach = f"{low.bpp:.4f}–{high.bpp:.4f} bpp"
        raise InputError(f"target {target} is out of this model's reach on this scene ({reach} estimated at "
                         f"quality {MIN_QUALITY:g}–{MAX_QUALITY:g}): give a target in that range, or --quality")


def _slope(points: dict[float, float], prior: float) -> float:
    """The score's slope per quality unit from two tries on one side of the target (else ``prior``)."""
    if len(points) >= 2:
        (q1, s1), (q2, s2) = sorted(points.items(), key=lambda p: abs(p[1]))[:2]
        if q1 != q2 and (s2 - s1) / (q2 - q1) > 0:
            return (s2 - s1) / (q2 - q1)
    return prior


def _area(box: Box) -> int:
    """The pixels coded for a tile: its extent padded to the codec's stride."""
    return padded(box.rows.length, STRIDE) * padded(box.cols.length, STRIDE)


def sample_scene(read: Callable[[Box], tuple[np.ndarray, np.ndarray]], height: int, width: int,
                 crop: int = SAMPLE_CROP) -> list[tuple[np.ndarray, np.ndarray]]:
    """The crops of :func:`sample_boxes` read with ``read(box)`` → (values, valid). Crops no larger
    than the tiles keep the tiles' fixed costs per pixel."""
    return [read(box) for box in sample_boxes(height, width, crop)]
