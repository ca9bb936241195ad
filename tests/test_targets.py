"""Rate and quality targets (``compress --bpp/--ratio/--psnr``) on the tiny untrained codec."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest
import torch

from conftest import DATA, write_raster
from ldmrsic_cli.main import main
from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.errors import InputError
from ldmrsic_core.evaluation.metrics import compare
from ldmrsic_core.pipeline.targets import (
    MAX_TRIES,
    SAMPLE_GRID,
    Target,
    TargetSearch,
    parse_target,
    sample_boxes,
    sample_scene,
)
from ldmrsic_core.raster_io import open_source, read_pixels, valid_counts
from ldmrsic_core.tiling import TilePlan
from ldmrsic_core.zoo.registry import load_codec

TILING = {"tile": 128, "overlap": 16}


@pytest.fixture
def scene(tmp_path):
    """A 320×384 RGB uint8 scene with texture that varies over it, and a nodata corner."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:320, 0:384]
    base = 120 + 60 * np.sin(xx / 11) * np.cos(yy / 17) + rng.normal(0, 1 + xx / 40, (3, 320, 384))
    data = np.clip(base, 1, 255).astype("uint8")
    data[:, :64, :96] = 0
    return write_raster(tmp_path / "scene.tif", data, nodata=0)


def test_sample_boxes_spread_over_the_raster_and_stay_inside():
    boxes = sample_boxes(3000, 5000)
    assert len(boxes) == SAMPLE_GRID ** 2
    assert all(b.shape == (256, 256) and b.rows.stop <= 3000 and b.cols.stop <= 5000 for b in boxes)
    assert min(b.rows.start for b in boxes) < 500 and max(b.rows.stop for b in boxes) > 2500
    assert min(b.cols.start for b in boxes) < 800 and max(b.cols.stop for b in boxes) > 4200
    small = sample_boxes(100, 700)
    assert [b.shape for b in small] == [(100, 256)] * 3 and small[-1].cols.stop == 700
    assert [b.shape for b in sample_boxes(40, 50)] == [(40, 50)]


@pytest.mark.parametrize("kwargs, message", [
    ({"bpp": 0}, "--bpp 0 is not a target"),
    ({"bpp": -0.3}, "--bpp -0.3 is not a target"),
    ({"psnr_db": math.nan}, "--psnr nan is not a target"),
    ({"ratio": 0.5}, "larger than the raw pixels"),
    ({"bpp": 0.3, "ratio": 10}, "give one target, not --bpp and --ratio"),
])
def test_bad_targets_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        parse_target(**kwargs)


def _search(path, weights, with_enhancer=None) -> TargetSearch:
    codec = load_codec(weights, torch.device("cpu"))
    with open_source(path) as src:
        bands = [1, 2, 3]
        crops = sample_scene(lambda box: read_pixels(src, bands, box), src.height, src.width, TILING["tile"])
        from ldmrsic_core.bands import default_mapping
        mappings = [default_mapping("uint8", 0, 255)] * 3
        plan = TilePlan(src.height, src.width, TILING["tile"], TILING["overlap"])
        owned_valid = valid_counts(src, bands, [plan.owned(i) for i in range(len(plan))])
        return TargetSearch(codec.model, torch.device("cpu"), crops, mappings, [[0, 1, 2]], "uint8", plan,
                            owned_valid, src.height * src.width * 3, lambda lengths: 100, with_enhancer)


def test_estimated_rate_grows_with_quality(scene, tiny_weights):
    search = _search(scene, tiny_weights)
    estimates = [search.estimate(q, False) for q in (1.0, 2.0, 3.5, 5.0)]
    assert all(a.bpp < b.bpp for a, b in zip(estimates, estimates[1:]))
    assert search.valid_pixels == 320 * 384 - 64 * 96  # the nodata corner is not counted


def test_estimated_psnr_grows_with_quality_for_the_bundled_codec():
    search = _search(DATA / "rgb_uint8_nodata.tif", None)  # an untrained codec's PSNR means nothing
    psnrs = [search.estimate(q, True).psnr for q in (1.0, 2.5, 4.0, 5.0)]
    assert all(a < b for a, b in zip(psnrs, psnrs[1:]))


def test_a_rate_target_lands_close_on_the_real_file(scene, tiny_weights, tmp_path):
    search = _search(scene, tiny_weights)
    low, high = search.estimate(1.0, False).bpp, search.estimate(5.0, False).bpp
    goal = math.sqrt(low * high)
    result = compress_raster(scene, tmp_path / "t.ldmr", model=tiny_weights, target=Target("bpp", goal),
                             **TILING)
    # converged (tolerance or bracket width) before the budget: this untrained model's rate steps by up
    # to 5% within 0.01 of quality near the goal, so the last tries narrow a bracket around a step
    assert result.target is not None and 1.0 < result.target.quality < 5.0 and result.target.tries < MAX_TRIES
    assert result.quality == result.target.quality
    assert abs(result.valid_bpp / goal - 1) < 0.05  # the sample is the whole scene here: only the model's noise
    assert result.valid_pixels == 320 * 384 - 64 * 96
    ratio = compress_raster(scene, tmp_path / "r.ldmr", model=tiny_weights, target=Target("ratio", result.ratio),
                            **TILING)
    assert abs(ratio.bytes / result.bytes - 1) < 0.05


def test_a_psnr_target_is_met_by_the_decoded_enhanced_file(tmp_path):
    """The bundled codec and the enhancer it names; the sample is the whole (small) scene."""
    scene = DATA / "rgb_uint8_nodata.tif"
    goal = 21.6  # this noisy Landsat clip spans about 20.8–22.6 dB from quality 1 to 5
    result = compress_raster(scene, tmp_path / "p.ldmr", target=Target("psnr", goal), precision="fp32")
    assert abs(result.target.estimate.psnr - goal) < 0.1
    decompress_raster(tmp_path / "p.ldmr", tmp_path / "p.tif", precision="fp32")
    assert abs(compare(scene, tmp_path / "p.tif")["psnr"] - goal) < 0.3


def test_a_target_out_of_reach_says_the_range_and_writes_nothing(scene, tiny_weights, tmp_path):
    for target, reach in ((Target("bpp", 50.0), " bpp estimated"), (Target("psnr", 90.0), " dB estimated"),
                          (Target("ratio", 1e6), ":1 estimated")):
        pattern = re.escape(f"target {target} is out of this model's reach on this scene") + ".*" + re.escape(reach)
        with pytest.raises(InputError, match=pattern):
            compress_raster(scene, tmp_path / "x.ldmr", model=tiny_weights, target=target, **TILING)
        assert not list(tmp_path.glob("x.ldmr*"))


def test_cli_targets(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.tif"
    shutil.copy(DATA / "naip_uint8_4band.tif", src)
    run = lambda *a: main(["--quiet", *map(str, a)])  # noqa: E731
    assert run("compress", src, "-o", tmp_path / "a.ldmr", "--model", tiny_weights, "--ratio", "8") == 0
    line = capsys.readouterr().err
    assert ":1, quality " in line and "for 8:1" in line and "search:" in line
    for args, message in ((["--bpp", "0"], "--bpp 0 is not a target"),
                          (["--bpp", "0.3", "--psnr", "30"], "give one target, not --bpp and --psnr"),
                          (["--bpp", "0.3", "-q", "2"], "give --quality or --bpp, not both"),
                          (["--psnr", "99"], "out of this model's reach")):
        assert run("compress", src, "-o", tmp_path / "b.ldmr", "--model", tiny_weights, *args) != 0
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
        assert not (tmp_path / "b.ldmr").exists()
