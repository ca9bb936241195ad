"""Blending overlapping tiles with their ramp weights."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ldmrsic_core.tiling import Box, TilePlan


def blend(plan: TilePlan, part: Box, bands: int,
          fetch: Callable[[int], np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Ramp-weighted mean over ``part`` of the tiles ``fetch`` returns (bands×extent, or None to skip),
    and where any tile covered it."""
    acc = np.zeros((bands, *part.shape), dtype=np.float64)
    weight = np.zeros(part.shape, dtype=np.float64)
    for index in plan.touching(part):
        unit = fetch(index)
        if unit is None:
            continue
        extent = plan.extent(index)
        inter = extent.intersect(part)
        if inter is None:
            continue
        src, dst = inter.relative_to(extent).slices, inter.relative_to(part).slices
        w = plan.weights(index)[src]
        acc[(slice(None), *dst)] += unit[(slice(None), *src)] * w
        weight[dst] += w
    covered = weight > 0
    return np.divide(acc, weight, out=np.zeros_like(acc), where=covered), covered
