"""The order of decode work, so that memory does not grow with the scene.

An output window (the part of the requested box a tile owns) blends the tiles around it; an
enhanced tile needs the decoded tiles around it (:data:`ENHANCE_MARGIN` pixels of context).
Windows are produced row by row within vertical *stripes* of at most ``columns`` tile
columns, so what is held at once — a few tile rows of one stripe — is bounded by the stripe
width, never by the scene's width or height::

    ┌──────────┬──────────┬─────┐   each stripe row-major; tiles next to a stripe border are
    │ stripe 0 │ stripe 1 │  2  │   decoded for both stripes (a small, bounded extra cost),
    │  →→→→→   │  →→→→→   │ →→  │   which leaves every output pixel unchanged
    └──────────┴──────────┴─────┘

Results arrive as ordered streams (:class:`OrderedResults`) pulled only as far as a consumer
needs, and each is dropped once its last consumer has used it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from ldmrsic_core.tiling import Box, TilePlan

T = TypeVar("T")

#: Context (pixels) the enhancement sees around each codec tile, across its borders.
ENHANCE_MARGIN = 32
#: Tile rows of one stripe held at once (decoded and enhanced), for sizing stripes.
ROWS_HELD = 8


@dataclass(frozen=True)
class Stripe:
    """The work for a band of tile columns: output windows, tiles to enhance and to decode (row-major)."""

    windows: tuple[tuple[int, Box], ...]
    enhance: tuple[int, ...]
    decode: tuple[int, ...]


def context_box(plan: TilePlan, index: int) -> Box:
    """The region the enhancement of tile ``index`` sees: its extent and a margin around it."""
    return plan.extent(index).grown(ENHANCE_MARGIN, plan.full())


def stripe_columns(plan: TilePlan, bands: int, budget_bytes: int) -> int:
    """Tile columns per stripe so that :data:`ROWS_HELD` rows of float32 tiles fit in the budget."""
    tile_bytes = 4 * bands * plan.size * plan.size
    return max(1, budget_bytes // (ROWS_HELD * tile_bytes))


def stripes(plan: TilePlan, box: Box, enhancing: bool, columns: int) -> list[Stripe]:
    """Split the output windows of ``box`` into stripes of ``columns`` owner columns."""
    by_column: dict[int, list[tuple[int, Box]]] = {}
    for owner, part in plan.output_windows(box):
        by_column.setdefault(plan.position(owner)[1], []).append((owner, part))
    owner_columns = sorted(by_column)
    result = []
    for start in range(0, len(owner_columns), columns):
        windows = sorted((w for c in owner_columns[start:start + columns] for w in by_column[c]),
                         key=lambda w: w[0])
        blended = sorted({i for _, part in windows for i in plan.touching(part)})
        if enhancing:
            decode = sorted({i for e in blended for i in plan.touching(context_box(plan, e))})
            result.append(Stripe(tuple(windows), tuple(blended), tuple(decode)))
        else:
            result.append(Stripe(tuple(windows), (), tuple(blended)))
    return result


class OrderedResults(Generic[T]):
    """Results for tiles in increasing index order, pulled from ``results`` as far as asked, each
    dropped after ``uses[index]`` calls of :meth:`release` (its consumers are done with it)."""

    def __init__(self, tiles: tuple[int, ...], results: Iterator[T], uses: dict[int, int]):
        self._pending = iter(tiles)
        self._results = results
        self._held: dict[int, T] = {}
        self._uses = dict(uses)
        self.received = 0

    def get(self, index: int) -> T:
        while index not in self._held:
            tile = next(self._pending)  # StopIteration here is a scheduling bug: index was not planned
            self._held[tile] = next(self._results)
            self.received += 1
        return self._held[index]

    def release(self, indices) -> None:
        for i in indices:
            self._uses[i] -= 1
            if self._uses[i] == 0:
                self._held.pop(i, None)

    @property
    def held(self) -> int:
        return len(self._held)


def use_counts(consumers: list[list[int]]) -> dict[int, int]:
    """How many consumers need each tile (each consumer lists the tiles it needs)."""
    counts: dict[int, int] = {}
    for needs in consumers:
        for i in needs:
            counts[i] = counts.get(i, 0) + 1
    return counts
