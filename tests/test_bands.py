"""Band selection, grouping and value mapping."""

from __future__ import annotations

import numpy as np
import pytest

from ldmrsic_core.bands import ValueMapping, check_dtype, from_channels, group_bands, parse_band_list, to_channels
from ldmrsic_core.errors import InputError


def test_groups_of_three():
    assert group_bands(1) == [[0]]
    assert group_bands(4) == [[0, 1, 2], [3]]
    assert group_bands(8) == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_short_groups_repeat_and_average_the_last_band():
    unit = np.stack([np.full((2, 2), 0.1), np.full((2, 2), 0.7)])
    rgb = to_channels(unit, [0, 1])
    assert rgb.shape == (3, 2, 2)
    rgb[1] += 0.02
    rgb[2] -= 0.02
    np.testing.assert_allclose(from_channels(rgb, [0, 1]), unit)


def test_band_list():
    assert parse_band_list("4,3,2", 6) == [4, 3, 2]
    assert parse_band_list(None, 3) == [1, 2, 3]
    for bad in ("0", "7", "a,b", "2,2"):
        with pytest.raises(InputError, match="--bands"):
            parse_band_list(bad, 6)


def test_uint16_mapping_round_trip_and_clipping():
    m = ValueMapping(100.0, 4195.0)
    values = np.array([100, 2000, 4195, 5000, 50], dtype=np.uint16)
    back = m.from_unit(m.to_unit(values), "uint16")
    np.testing.assert_array_equal(back, [100, 2000, 4195, 4195, 100])
    assert m.count_outside(values) == 2


def test_int16_negative_values_and_float_nan():
    m = ValueMapping(-500.0, 300.0)
    values = np.array([-500, -1, 300], dtype=np.int16)
    np.testing.assert_array_equal(m.from_unit(m.to_unit(values), "int16"), values)
    assert m.to_unit(np.array([np.nan]))[0] == 0


def test_complex_is_refused():
    with pytest.raises(InputError, match="complex"):
        check_dtype("complex64")
