"""Joined tiles (format 5): tiles without overlap that decode without seams.

Overlapping tiles code their shared pixels twice (4–6% of a whole image's bytes at 512-pixel tiles
with 16 pixels of overlap, BENCHMARKS.md). Joined tiles share nothing and are coded one by one, as
before, but each side sees its neighbours:

- the encoder analyses each tile with :data:`CONTEXT` pixels of the raster around it (fewer at the
  raster's edge) and codes only the tile's own latent cells;
- the decoder synthesises each tile from its own latent stitched to :data:`MARGIN` cells of each
  neighbour's, then keeps the tile's pixels::

      ┌─────┬─────────────┬─────┐
      │  ↘  │  ↓ 4 cells  │  ↙  │   the synthesis window of the middle tile: its latent and a
      ├─────┼─────────────┼─────┤   margin of its neighbours' (absent at the raster's edge);
      │  →  │    tile     │  ←  │   only the tile's pixels are kept
      ├─────┼─────────────┼─────┤
      │  ↗  │      ↑      │  ↖  │
      └─────┴─────────────┴─────┘

Every pixel is then made by the same window a whole-image decode would use near it, so borders
are as good as tile interiors (held-out whole images: border bands within 0.005–0.08 dB of format
4's overlapped tiles, with 4.0–4.6% fewer bytes; BENCHMARKS.md). A neighbour without a latent (no
valid pixel, or damaged and ``--allow-damaged``) is treated as the raster's edge on its side; a
missing corner neighbour alone leaves zero cells. Both numbers are fixed by the format: changing
them changes decoded pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ldmrsic_core.format.versions import is_joined
from ldmrsic_core.tiling import Box, Span, TilePlan

__all__ = ["CELL", "CONTEXT", "MARGIN", "analysis_window", "coded_cells", "is_joined", "neighbourhood",
           "synthesis_window"]

#: Pixels of the raster around a tile that the encoder's analysis sees (a multiple of the codec stride).
CONTEXT = 64
#: Latent cells of each neighbour the decoder's synthesis sees.
MARGIN = 4
#: Pixels per latent cell.
CELL = 16

Latents = Sequence[np.ndarray]  # one de-gained latent (M×h×w, float32) per band group


def analysis_window(plan: TilePlan, index: int) -> Box:
    """The pixels the encoder analyses for tile ``index``: its extent and :data:`CONTEXT` around it."""
    return plan.extent(index).grown(CONTEXT, plan.full())


def coded_cells(tile: Box, padded_shape: tuple[int, int]) -> tuple[slice, slice]:
    """The latent cells of a tile at ``tile`` (relative to its analysis window, which starts on the
    codec stride) whose padded size is ``padded_shape``."""
    rows, cols = (slice(span.start // CELL, (span.start + size) // CELL)
                  for span, size in zip((tile.rows, tile.cols), padded_shape))
    return rows, cols


def neighbourhood(plan: TilePlan, index: int) -> list[int]:
    """Tile ``index`` and the neighbours whose latents its synthesis reads, in index order."""
    r, c = plan.position(index)
    rows, cols = plan.shape
    return [plan.index(i, j) for i in range(max(0, r - 1), min(rows, r + 2))
            for j in range(max(0, c - 1), min(cols, c + 2))]


def synthesis_window(plan: TilePlan, index: int,
                     latents_of: Callable[[int], Latents | None]) -> tuple[list[np.ndarray], Box]:
    """Tile ``index``'s latent stitched to :data:`MARGIN` cells of its neighbours' (``latents_of``:
    a tile's latents, or None where it has none), per band group, and the crop of the synthesis that
    is the tile's extent."""
    r, c = plan.position(index)
    rows, cols = plan.shape
    own = latents_of(index)
    assert own is not None, "a tile without a latent has nothing to synthesise"

    def at(dr: int, dc: int) -> Latents | None:
        i, j = r + dr, c + dc
        return latents_of(plan.index(i, j)) if 0 <= i < rows and 0 <= j < cols else None

    up, down = at(-1, 0) is not None, at(1, 0) is not None
    left, right = at(0, -1) is not None, at(0, 1) is not None
    row_parts = [dr for dr, wanted in ((-1, up), (0, True), (1, down)) if wanted]
    col_parts = [dc for dc, wanted in ((-1, left), (0, True), (1, right)) if wanted]
    windows = []
    for g, tile in enumerate(own):
        height = {-1: MARGIN, 0: tile.shape[1], 1: MARGIN}
        width = {-1: MARGIN, 0: tile.shape[2], 1: MARGIN}
        blocks = [[_block(at(dr, dc), g, dr, dc, (tile.shape[0], height[dr], width[dc])) for dc in col_parts]
                  for dr in row_parts]
        windows.append(np.concatenate([np.concatenate(row, axis=2) for row in blocks], axis=1))
    top, start = (MARGIN * CELL if up else 0), (MARGIN * CELL if left else 0)
    h, w = plan.extent(index).shape
    return windows, Box(Span(top, top + h), Span(start, start + w))


def _block(latents: Latents | None, group: int, dr: int, dc: int, shape: tuple[int, int, int]) -> np.ndarray:
    """The part of a neighbour's latent (``dr``, ``dc``: where it lies) next to the tile; zeros if it has none."""
    if latents is None:
        return np.zeros(shape, dtype=np.float32)
    _, h, w = shape
    latent = latents[group]
    rows = slice(latent.shape[1] - h, None) if dr < 0 else slice(0, h)
    cols = slice(latent.shape[2] - w, None) if dc < 0 else slice(0, w)
    return latent[:, rows, cols]
