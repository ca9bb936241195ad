"""The shipped default model: found by name, verified by hash, and used when no --model is given."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import rasterio

from conftest import DATA
from ldmrsic_cli.main import main
from ldmrsic_core.errors import WeightsError
from ldmrsic_core.zoo.registry import load_codec
from ldmrsic_core.zoo.table import default_model, named_weights, package_model_dir


def test_a_trained_default_model_is_bundled_with_its_hash():
    name = default_model()
    assert name is not None
    weights = named_weights()[name]
    assert weights.bundled and weights.path.is_file()
    assert hashlib.sha256(weights.path.read_bytes()).hexdigest() == weights.sha256
    codec = load_codec(name)
    assert codec.trained and codec.config.name == weights.config


def test_compress_and_decompress_work_out_of_the_box(tmp_path):
    packed, restored = tmp_path / "x.ldmr", tmp_path / "x.tif"
    assert main(["--quiet", "compress", str(DATA / "rgb_uint8_nodata.tif"), "-o", str(packed)]) == 0
    assert main(["--quiet", "decompress", str(packed), "-o", str(restored)]) == 0
    header = json.loads(json.dumps(__import__("ldmrsic_core").file_info(packed)))
    assert header["model"]["name"] == default_model()
    with rasterio.open(restored) as r:
        assert r.count == 3


def test_a_tampered_bundled_file_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(package_model_dir(), folder)
    name = default_model()
    path = folder / named_weights()[name].path.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    monkeypatch.setattr("ldmrsic_core.zoo.table.package_model_dir", lambda: folder)
    with pytest.raises(WeightsError, match="damaged or replaced"):
        load_codec(name)


def test_bundled_enhancers_pair_with_the_default_codec_and_jpeg2000():
    from ldmrsic_core.zoo.enhancers import default_enhancer, load_enhancer

    codec = load_codec(default_model())
    for source, codec_sha in (("ldmrsic", codec.sha256), ("jpeg2000", None)):
        name = default_enhancer(source, codec_sha)
        assert name is not None, source
        weights = named_weights()[name]
        assert weights.bundled and hashlib.sha256(weights.path.read_bytes()).hexdigest() == weights.sha256
        enhancer = load_enhancer(name)
        assert enhancer.source == source and enhancer.codec_sha256 == codec_sha
        assert enhancer.conditioned and enhancer.validation  # on its level, with its measured gains


def test_out_of_the_box_files_name_the_bundled_enhancer(tmp_path):
    from ldmrsic_core import read_header
    from ldmrsic_core.zoo.enhancers import default_enhancer

    packed = tmp_path / "x.ldmr"
    assert main(["--quiet", "compress", str(DATA / "l8_uint16_1band.tif"), "-o", str(packed)]) == 0
    header = read_header(packed)
    assert header.enhancer is not None
    assert header.enhancer.model == default_enhancer("ldmrsic", header.codec.sha256)
