"""The enhancement seed: part of the format, since it fixes the pixels a file decodes to.

Decoding draws the diffusion's initial noise F_T for band group *g* of tile *t* with
``torch.randn`` on the CPU from a generator seeded with ``t · GROUPS_PER_TILE + g``
(docs/FORMAT.md, "Enhancer"). Changing it changes every enhanced decode: it needs a new major.
"""

from __future__ import annotations

#: Room for band groups per tile in the seed (a raster of up to 3 × 4096 bands).
GROUPS_PER_TILE = 4096


def enhancement_seed(tile: int, group: int) -> int:
    """The diffusion noise seed of one band group of one tile: fixed, so decoding is reproducible."""
    return tile * GROUPS_PER_TILE + group
