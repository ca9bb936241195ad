"""PSNR at the data's own peak and the tile-border split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import write_raster
from ldmrsic_core.evaluation.metrics import compare
from ldmrsic_core.tiling import TilePlan


def test_psnr_of_a_known_error(tmp_path):
    base = np.full((2, 40, 50), 1000, dtype=np.uint16)
    base[:, :, 25:] = 3000  # peak (max − min) = 2000 in both bands
    noisy = base.copy()
    noisy[0, ::2] += 20  # half the pixels of one band off by 1% of the peak
    a = write_raster(tmp_path / "a.tif", base)
    b = write_raster(tmp_path / "b.tif", noisy)
    mse = 0.25 * (20 / 2000) ** 2
    assert compare(a, b)["psnr"] == pytest.approx(10 * math.log10(1 / mse))
    assert compare(a, a)["psnr"] == math.inf


def test_nodata_pixels_are_ignored_and_errors_near_tile_borders_are_split_out(tmp_path):
    base = np.full((1, 128, 128), 100, dtype=np.uint8)
    base[0, :, :3] = 0  # nodata column strip
    other = base.copy()
    other[0, :, :3] = 77  # differences under nodata do not count
    other[0, 10:20, 62:66] = 110  # error only next to the column border at 64
    a = write_raster(tmp_path / "a.tif", base, nodata=0)
    b = write_raster(tmp_path / "b.tif", other, nodata=0)
    result = compare(a, b, TilePlan(128, 128, 64, 0))
    assert result["psnr_tile_interiors"] == math.inf
    assert result["psnr_tile_borders"] < result["psnr"] < math.inf
    assert math.isnan(compare(a, b, TilePlan(128, 128, 64, 0), seam_width=0)["psnr_tile_borders"])
