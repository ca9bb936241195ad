"""Fitted value curves (format 6): the fit from a histogram filled tile by tile, the mapping's round trip
without clipping, the header field, and compress choosing them for bands wider than 8 bits only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import rasterio
from test_format3 import full_header

from conftest import write_raster
from ldmrsic_core import compress_raster, decompress_raster, file_info, read_header
from ldmrsic_core.bands import ValueMapping
from ldmrsic_core.errors import InputError
from ldmrsic_core.format.binary_header import decode_header, encode_header
from ldmrsic_core.value_curves import BandHistogram, fit_knots


def long_tailed(shape=(256, 256), seed=0) -> np.ndarray:
    """uint16 values: a bulk around 700 and a bright tail to 6 000 in 0.05% of the pixels (glints, clouds)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(700, 120, shape)
    tail = rng.random(shape) < 0.0005
    values[tail] = rng.uniform(1500, 6000, int(tail.sum()))
    return np.clip(values, 250, None).astype("uint16")


def fitted(values: np.ndarray, integer: bool = True) -> ValueMapping:
    histogram = BandHistogram(float(values.min()), float(values.max()), integer)
    histogram.add(values)
    return ValueMapping(histogram.lo, histogram.hi, fit_knots(histogram))


def test_a_histogram_filled_tile_by_tile_is_the_whole_bands():
    values = long_tailed()
    whole, parts = (BandHistogram(float(values.min()), float(values.max()), True) for _ in range(2))
    whole.add(values)
    for part in np.array_split(values, 7):
        parts.add(part)
    assert np.array_equal(whole.counts, parts.counts) and whole.counts.sum() == values.size
    assert whole.bins == int(values.max()) - int(values.min()) + 1  # one bin per integer value


def test_a_long_tail_gets_less_of_the_range_and_nothing_is_clipped():
    values = long_tailed()
    mapping = fitted(values)
    assert mapping.knots, "a long-tailed band gets a curve"
    bulk = (values > np.percentile(values, 1)) & (values < np.percentile(values, 99))
    linear = ValueMapping(mapping.lo, mapping.hi)
    spread = np.ptp(mapping.to_unit(values[bulk])) / np.ptp(linear.to_unit(values[bulk]))
    assert spread > 2  # the common values get several times more of [0, 1] than the linear map gives them
    unit = mapping.to_unit(values)
    assert unit.min() == 0 and unit.max() == 1 and mapping.count_outside(values) == 0
    assert np.array_equal(mapping.from_unit(unit, "uint16"), values)  # the curve inverts exactly at float32
    assert np.all(np.diff(mapping.to_unit(np.arange(250, 6001))) >= 0)  # monotone


def test_a_band_without_tails_keeps_its_linear_map():
    uniform = np.random.default_rng(1).uniform(-3.0, 7.0, (200, 200))
    assert fitted(uniform, integer=False).knots == ()
    assert fitted(np.full((8, 8), 5, "uint16")).knots == ()  # a constant band


def test_knots_must_increase():
    with pytest.raises(ValueError, match="increase strictly"):
        ValueMapping(0.0, 10.0, ((5.0, 0.5), (4.0, 0.6)))
    with pytest.raises(ValueError, match="increase strictly"):
        ValueMapping(0.0, 10.0, ((5.0, 1.0),))


def test_the_header_keeps_curves_from_format_6_only():
    header = full_header()
    curved = dataclasses.replace(header, mappings=(fitted(long_tailed()),) + header.mappings[1:])
    assert decode_header(encode_header(curved, version=(6, 0)), version=(6, 0)) == curved
    assert decode_header(encode_header(header, version=(6, 0)), version=(6, 0)) == header
    with pytest.raises(ValueError, match="format 5 has no value curves"):
        encode_header(curved, version=(5, 0))


def test_compress_fits_curves_for_wide_bands_and_decodes_through_them(tmp_path, tiny_weights):
    data = np.stack([long_tailed(seed=0), long_tailed(seed=1)])
    source = write_raster(tmp_path / "s2.tif", data)
    packed = compress_raster(source, tmp_path / "s2.ldmr", model=tiny_weights, tile=128, device="cpu",
                             enhance=False).output
    header = read_header(packed)
    assert all(m.knots for m in header.mappings) and file_info(packed)["format_version"] == "6.0"
    assert header.clipped == (0, 0)
    restored = decompress_raster(packed, tmp_path / "out.tif", model=tiny_weights, device="cpu").output
    with rasterio.open(restored) as out:
        decoded = out.read()
    assert decoded.dtype == np.uint16 and decoded.min() >= data.min() and decoded.max() <= data.max()
    plain = compress_raster(source, tmp_path / "lin.ldmr", model=tiny_weights, tile=128, device="cpu",
                            enhance=False, value_curve="linear").output
    assert all(not m.knots for m in read_header(plain).mappings)
    given = compress_raster(source, tmp_path / "range.ldmr", model=tiny_weights, tile=128, device="cpu",
                            enhance=False, value_range=(0, 4000)).output
    assert [(m.lo, m.hi, m.knots) for m in read_header(given).mappings] == [(0.0, 4000.0, ())] * 2


def test_eight_bit_data_keeps_0_to_255(tmp_path, tiny_weights):
    data = np.random.default_rng(2).integers(0, 256, (3, 64, 64)).astype("uint8")
    packed = compress_raster(write_raster(tmp_path / "rgb.tif", data), tmp_path / "rgb.ldmr", model=tiny_weights,
                             tile=64, device="cpu", enhance=False).output
    assert read_header(packed).mappings == (ValueMapping(0.0, 255.0),) * 3


def test_an_unknown_value_curve_is_one_clear_error(tmp_path, tiny_weights):
    source = write_raster(tmp_path / "s.tif", long_tailed()[None])
    with pytest.raises(InputError, match="value curve 'cubic': use one of fitted, linear"):
        compress_raster(source, tmp_path / "s.ldmr", model=tiny_weights, device="cpu", value_curve="cubic")
    assert not (tmp_path / "s.ldmr").exists()
