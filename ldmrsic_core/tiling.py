"""Tile plans: which pixels each codec tile covers, which it owns, and how tiles blend.

Tiles of ``size`` pixels step by ``stride = size − overlap``. Along one axis of length L,
tile i covers ``[i·stride, min(i·stride + size, L))``; the last tile is shortened to the
raster edge (then padded only to the codec's stride, so no bits go to empty padding).
Each pixel is *owned* by exactly one tile (the split falls in the middle of an overlap);
ownership decides where a tile's lossless validity mask is stored and partitions the
output into windows. Where tiles overlap, linear ramps of width ``overlap`` blend them::

    tile 0  ████████████▓▓▓▒▒░░
    tile 1              ░░▒▒▓▓▓████████████
                        └overlap┘
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ldmrsic_core.defaults import TILE_MULTIPLE
from ldmrsic_core.errors import InputError

#: The codec's total down-sampling (analysis × hyper-analysis): tiles and padded inputs are multiples of it.
STRIDE = TILE_MULTIPLE


@dataclass(frozen=True)
class Span:
    """A half-open pixel interval ``[start, stop)`` along one axis."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    def intersect(self, other: Span) -> Span | None:
        start, stop = max(self.start, other.start), min(self.stop, other.stop)
        return Span(start, stop) if start < stop else None


@dataclass(frozen=True)
class Box:
    """A pixel rectangle: rows × cols."""

    rows: Span
    cols: Span

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.length, self.cols.length

    def intersect(self, other: Box) -> Box | None:
        rows, cols = self.rows.intersect(other.rows), self.cols.intersect(other.cols)
        return Box(rows, cols) if rows and cols else None

    def grown(self, margin: int, within: Box) -> Box:
        """This box with ``margin`` pixels more on every side, clipped to ``within``."""
        rows = Span(max(self.rows.start - margin, within.rows.start), min(self.rows.stop + margin, within.rows.stop))
        cols = Span(max(self.cols.start - margin, within.cols.start), min(self.cols.stop + margin, within.cols.stop))
        return Box(rows, cols)

    def relative_to(self, frame: Box) -> Box:
        """This box in the coordinates of ``frame``'s top-left corner."""
        r, c = frame.rows.start, frame.cols.start
        return Box(Span(self.rows.start - r, self.rows.stop - r), Span(self.cols.start - c, self.cols.stop - c))

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.rows.start, self.rows.stop), slice(self.cols.start, self.cols.stop)


@dataclass(frozen=True)
class AxisPlan:
    """Tiling of one axis."""

    length: int
    size: int
    overlap: int

    @property
    def stride(self) -> int:
        return self.size - self.overlap

    @property
    def count(self) -> int:
        return max(1, math.ceil((self.length - self.overlap) / self.stride))

    def extent(self, i: int) -> Span:
        start = i * self.stride
        return Span(start, min(start + self.size, self.length))

    def owned(self, i: int) -> Span:
        half = self.overlap // 2
        start = 0 if i == 0 else i * self.stride + half
        stop = self.length if i == self.count - 1 else (i + 1) * self.stride + half
        return Span(start, stop)

    def touching(self, span: Span) -> range:
        """Indices of the tiles whose extent meets ``span``."""
        first = min(self.count - 1, max(0, (span.start - self.size) // self.stride + 1))
        last = min(self.count - 1, (span.stop - 1) // self.stride)
        return range(first, last + 1)

    def weights(self, i: int) -> np.ndarray:
        """Blend weights along this tile's extent: ramps where a neighbour overlaps it."""
        n = self.extent(i).length
        w = np.ones(n, dtype=np.float32)
        if self.overlap:
            ramp = (np.arange(self.overlap, dtype=np.float32) + 0.5) / self.overlap
            if i > 0:
                w[: self.overlap] = ramp
            if i < self.count - 1:
                w[n - self.overlap:] = ramp[::-1]
        return w


@dataclass(frozen=True)
class TilePlan:
    """A raster's tile grid: ``ny`` rows × ``nx`` columns of tiles, numbered row-major."""

    height: int
    width: int
    size: int
    overlap: int

    def __post_init__(self) -> None:
        validate(self.size, self.overlap)
        if self.height < 1 or self.width < 1:
            raise InputError(f"raster has no pixels ({self.width}×{self.height})")

    @property
    def rows(self) -> AxisPlan:
        return AxisPlan(self.height, self.size, self.overlap)

    @property
    def cols(self) -> AxisPlan:
        return AxisPlan(self.width, self.size, self.overlap)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.count, self.cols.count

    def __len__(self) -> int:
        return self.rows.count * self.cols.count

    def index(self, r: int, c: int) -> int:
        return r * self.cols.count + c

    def position(self, index: int) -> tuple[int, int]:
        return divmod(index, self.cols.count)

    def extent(self, index: int) -> Box:
        r, c = self.position(index)
        return Box(self.rows.extent(r), self.cols.extent(c))

    def owned(self, index: int) -> Box:
        r, c = self.position(index)
        return Box(self.rows.owned(r), self.cols.owned(c))

    def weights(self, index: int) -> np.ndarray:
        r, c = self.position(index)
        return np.outer(self.rows.weights(r), self.cols.weights(c))

    def touching(self, box: Box) -> list[int]:
        """Tiles whose extent meets ``box``, in index order."""
        return [self.index(r, c) for r in self.rows.touching(box.rows) for c in self.cols.touching(box.cols)]

    def full(self) -> Box:
        return Box(Span(0, self.height), Span(0, self.width))

    def output_windows(self, box: Box) -> Iterator[tuple[int, Box]]:
        """Partition ``box`` by ownership, in row-major tile order: (owner index, window)."""
        for index in self.touching(box):
            part = self.owned(index).intersect(box)
            if part is not None:
                yield index, part


def validate(size: int, overlap: int, stride: int = STRIDE) -> None:
    """Check tile options; the tile size must be a multiple of the codec stride."""
    if size < stride or size % stride:
        raise InputError(f"tile size {size} is invalid: use a multiple of {stride} (e.g. 256 or 512)")
    if overlap < 0 or 2 * overlap > size:
        raise InputError(f"overlap {overlap} is invalid: use 0 to half the tile size ({size // 2})")


def padded(n: int, stride: int = STRIDE) -> int:
    """``n`` rounded up to a multiple of the codec stride."""
    return -(-n // stride) * stride


def bbox_box(geotransform: tuple[float, ...], height: int, width: int,
             bbox: tuple[float, float, float, float]) -> Box:
    """A bounding box in the raster's CRS → the pixel box covering it (clipped to the raster of
    ``height`` × ``width`` pixels on ``geotransform``)."""
    from affine import Affine
    from rasterio import windows as rwindows
    from rasterio.errors import WindowError

    minx, miny, maxx, maxy = bbox
    if not (minx < maxx and miny < maxy):
        raise InputError(f"--bbox {bbox} is empty: give MINX MINY MAXX MAXY with MINX < MAXX and MINY < MAXY")
    transform = Affine(*geotransform)
    left, top = transform.c, transform.f  # the corners, without affine's deprecated `transform * point`
    right = transform.c + transform.a * width + transform.b * height
    bottom = transform.f + transform.d * width + transform.e * height
    bounds = f"{min(left, right):g} {min(top, bottom):g} {max(left, right):g} {max(top, bottom):g}"
    try:
        win = rwindows.from_bounds(minx, miny, maxx, maxy, transform)
    except WindowError:
        raise InputError(f"--bbox {bbox} cannot be placed on this raster's grid (bounds {bounds}"
                         + ("; it has no georeferencing, so a box is in pixels with y growing upwards"
                            if tuple(geotransform) == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0) else "") + ")") from None
    eps = 1e-6  # bounds taken from pixel edges land on whole pixels up to float error
    rows = Span(math.floor(win.row_off + eps), math.ceil(win.row_off + win.height - eps))
    cols = Span(math.floor(win.col_off + eps), math.ceil(win.col_off + win.width - eps))
    full = Box(Span(0, height), Span(0, width))
    box = Box(rows, cols).intersect(full) if rows.length > 0 and cols.length > 0 else None
    if box is None:
        raise InputError(f"--bbox {bbox} does not overlap the raster (its bounds: {bounds})")
    return box
