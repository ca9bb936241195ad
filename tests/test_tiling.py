"""Tile-plan arithmetic, checked against brute force for arbitrary raster and tile sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldmrsic_core.errors import InputError
from ldmrsic_core.tiling import Box, Span, TilePlan

plans = st.builds(
    lambda h, w, k, frac: TilePlan(h, w, 64 * k, int(frac * 32 * k)),
    st.integers(1, 700), st.integers(1, 700), st.integers(1, 4), st.floats(0, 1),
)


@given(plans)
@settings(max_examples=150, deadline=None)
def test_owned_boxes_partition_the_raster_and_lie_in_their_tiles(plan: TilePlan):
    count = np.zeros((plan.height, plan.width), dtype=np.int32)
    for i in range(len(plan)):
        owned, extent = plan.owned(i), plan.extent(i)
        assert owned.intersect(extent) == owned
        count[owned.rows.start:owned.rows.stop, owned.cols.start:owned.cols.stop] += 1
    assert (count == 1).all()


@given(plans)
@settings(max_examples=150, deadline=None)
def test_blend_weights_sum_to_one_everywhere(plan: TilePlan):
    total = np.zeros((plan.height, plan.width))
    for i in range(len(plan)):
        e = plan.extent(i)
        assert plan.weights(i).shape == e.shape
        total[e.rows.start:e.rows.stop, e.cols.start:e.cols.stop] += plan.weights(i)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


@given(plans, st.data())
@settings(max_examples=150, deadline=None)
def test_touching_matches_brute_force(plan: TilePlan, data):
    r0 = data.draw(st.integers(0, plan.height - 1))
    r1 = data.draw(st.integers(r0 + 1, plan.height))
    c0 = data.draw(st.integers(0, plan.width - 1))
    c1 = data.draw(st.integers(c0 + 1, plan.width))
    box = Box(Span(r0, r1), Span(c0, c1))
    brute = [i for i in range(len(plan)) if plan.extent(i).intersect(box)]
    assert plan.touching(box) == brute


@given(plans)
@settings(max_examples=100, deadline=None)
def test_tiles_are_never_larger_than_the_tile_size_and_wider_than_the_overlap(plan: TilePlan):
    for axis in (plan.rows, plan.cols):
        for i in range(axis.count):
            span = axis.extent(i)
            assert 0 < span.length <= plan.size
            if axis.count > 1:
                assert span.length > plan.overlap


@pytest.mark.parametrize("size, overlap", [(100, 0), (0, 0), (256, -1), (256, 200)])
def test_bad_tile_options_are_refused(size, overlap):
    with pytest.raises(InputError):
        TilePlan(100, 100, size, overlap)
