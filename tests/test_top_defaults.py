"""A codec trained for the top rates taking over the default from a quality up (models.json's
``top_defaults``): which codec compress picks, that files name it and decode, and that a target's
search spans both codecs."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from conftest import write_raster
from ldmrsic_core import compress_raster, decompress_raster, file_info
from ldmrsic_core.errors import WeightsError
from ldmrsic_core.pipeline.targets import Target
from ldmrsic_core.zoo.registry import load_codec, read_weights, save_weights
from ldmrsic_core.zoo.table import default_model, default_models

TILING = {"tile": 128, "overlap": 16}


@pytest.fixture
def bundled(tmp_path, monkeypatch, tiny_weights):
    """A package model folder: the tiny codec as the default and, from quality 4, a copy whose
    synthesis is scaled by 1% (other weights and hash, the same rates) as the top-rate codec."""
    folder = tmp_path / "package"
    folder.mkdir()
    shutil.copy(tiny_weights, folder / "base.pt")
    top = load_codec(tiny_weights).model
    with torch.no_grad():
        last = [m for m in top.g_s.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)][-1]
        last.weight.mul_(1.01)
    save_weights(top, "elic-tiny", folder / "top.pt", name="top", trained=False)
    table = {"default": "base", "top_defaults": [{"from_quality": 4.0, "model": "top"}], "models": {
        name: {"file": f"{name}.pt", "sha256": read_weights(folder / f"{name}.pt")[1], "config": "elic-tiny"}
        for name in ("base", "top")}}
    (folder / "models.json").write_text(json.dumps(table))
    monkeypatch.setattr("ldmrsic_core.zoo.table.package_model_dir", lambda: folder)
    return folder


@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:192, 0:256]
    data = np.clip(120 + 50 * np.sin(xx / 9) * np.cos(yy / 13) + rng.normal(0, 3, (3, 192, 256)), 1, 255)
    return write_raster(tmp_path / "scene.tif", data.astype("uint8"))


def _codec_of(path) -> str:
    """The codec a file names (a bundled one: by name, through its hash)."""
    return file_info(path)["model"]["name"]


def test_the_default_codec_depends_on_the_quality(bundled):
    assert default_models() == ((1.0, "base"), (4.0, "top"))
    assert [default_model(q) for q in (1.0, 3.999, 4.0, 5.0)] == ["base", "base", "top", "top"]
    assert default_model() == "base"


@pytest.mark.parametrize("entry", [{"from_quality": 4.0, "model": "missing"}, {"from_quality": 1.0, "model": "top"},
                                   {"from_quality": 5.5, "model": "top"}])
def test_a_bad_top_default_is_one_clear_error(bundled, entry):
    table_path = bundled / "models.json"
    table = json.loads(table_path.read_text())
    table["top_defaults"] = [entry]
    table_path.write_text(json.dumps(table))
    with pytest.raises(WeightsError, match="top default .* reinstall ldmrsic-geo"):
        default_models()


def test_files_name_the_codec_of_their_quality_and_decode(bundled, scene, tmp_path):
    outputs = {}
    for quality in (3.0, 4.5):
        packed = tmp_path / f"q{quality}.ldmr"
        compress_raster(scene, packed, quality=quality, **TILING)
        decompress_raster(packed, tmp_path / f"q{quality}.tif")  # the codec is found by the file's hash
        outputs[quality] = _codec_of(packed)
    assert outputs == {3.0: "base", 4.5: "top"}
    named = tmp_path / "named.ldmr"
    compress_raster(scene, named, quality=4.5, model="base", **TILING)  # a named codec codes every quality
    assert _codec_of(named) == "base"


def test_a_named_enhancer_chooses_the_default_codec_it_was_trained_for(bundled, scene, tmp_path):
    from conftest import tiny_enhancer

    base_sha = read_weights(bundled / "base.pt")[1]
    enhancer = tiny_enhancer(tmp_path / "base-enh.pt", "ldmrsic", base_sha)
    packed = tmp_path / "e.ldmr"
    compress_raster(scene, packed, quality=4.5, enhancer=str(enhancer), **TILING)  # top's quality, base's enhancer
    assert _codec_of(packed) == "base" and file_info(packed)["enhancer"]["name"] == "base-enh"
    target = compress_raster(scene, tmp_path / "t.ldmr", target=Target("bpp", 2.0), enhancer=str(enhancer), **TILING)
    assert _codec_of(target.output) == "base"
    with pytest.raises(WeightsError, match="not that of model 'top'"):  # a named codec is not overridden
        compress_raster(scene, tmp_path / "x.ldmr", quality=4.5, model="top", enhancer=str(enhancer), **TILING)


def test_a_rate_target_searches_across_both_codecs(bundled, scene, tmp_path):
    low = compress_raster(scene, tmp_path / "lo.ldmr", quality=4.2, **TILING).valid_bpp
    high = compress_raster(scene, tmp_path / "hi.ldmr", quality=5.0, **TILING).valid_bpp
    top = compress_raster(scene, tmp_path / "t.ldmr", target=Target("bpp", math.sqrt(low * high)), **TILING)
    assert 4.2 < top.quality < 5.0 and _codec_of(top.output) == "top"
    floor = compress_raster(scene, tmp_path / "f.ldmr", quality=1.0, **TILING).valid_bpp
    mid = compress_raster(scene, tmp_path / "m.ldmr", quality=3.0, **TILING).valid_bpp
    base = compress_raster(scene, tmp_path / "b.ldmr", target=Target("bpp", math.sqrt(floor * mid)), **TILING)
    assert 1.0 < base.quality < 3.0 and _codec_of(base.output) == "base"
    assert abs(base.valid_bpp / math.sqrt(floor * mid) - 1) < 0.05


def test_models_lists_the_top_default(bundled, capsys):
    from ldmrsic_cli.main import main

    assert main(["models"]) == 0
    listing = json.loads(capsys.readouterr().out)["models"]
    assert listing["base"]["default"] is True and listing["top"]["default_from_quality"] == 4.0
    assert "default_from_quality" not in listing["base"]


def test_the_bundled_table_reads():
    """The shipped models.json: a default, and top defaults only of bundled codecs above quality 1."""
    chain = default_models()
    assert chain and chain[0][0] == 1.0 and all(a[0] < b[0] for a, b in zip(chain, chain[1:]))
