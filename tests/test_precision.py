"""Float precision of the learned transforms: fp32 stays the reference, bf16 is deterministic and
decodes exactly wherever it was encoded (the entropy model never runs in bf16)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch

import ldmrsic_core.precision as precision_module
from conftest import write_raster
from ldmrsic_cli.main import main
from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.errors import InputError
from ldmrsic_core.precision import resolve_precision
from ldmrsic_core.zoo.enhancers import load_enhancer
from ldmrsic_core.zoo.registry import load_codec

CPU = torch.device("cpu")


@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:150, 0:170]
    data = np.stack([np.sin(xx / (7 + b)) * np.cos(yy / 5) * 70 + 120 + rng.normal(0, 5, xx.shape)
                     for b in range(3)]).clip(0, 255).astype("uint8")
    return write_raster(tmp_path / "scene.tif", data)


def _read(path):
    with rasterio.open(path) as src:
        return src.read().astype(np.int64)


def test_auto_is_bf16_only_where_the_device_has_it(monkeypatch):
    monkeypatch.setattr(precision_module, "native_bf16", lambda device: True)
    assert resolve_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(precision_module, "native_bf16", lambda device: False)
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16" and resolve_precision("fp32", CPU) == "fp32"
    with pytest.raises(InputError, match="unknown precision 'half': use auto, fp32, bf16"):
        resolve_precision("half", CPU)


@torch.no_grad()
def test_fp32_is_the_reference_computation(tiny_weights):
    net = load_codec(tiny_weights).model
    net.set_precision("fp32")
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    y = net.g_a(x)
    assert torch.equal(net.analyse(x), y)
    assert torch.equal(net.synthesize(y), net.g_s(y).clamp(0, 1))


@torch.no_grad()
def test_bf16_hands_float32_to_the_quantiser_and_the_output(tiny_weights):
    net = load_codec(tiny_weights).model
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    reference = net.analyse(x)
    net.set_precision("bf16")
    y = net.analyse(x)
    pixels = net.synthesize(y)
    assert y.dtype == pixels.dtype == torch.float32 and pixels.is_contiguous()
    assert float((y - reference).abs().max()) < 0.05 * float(reference.abs().max())
    net.set_precision("fp32")  # and back: the reference again, bit for bit
    assert torch.equal(net.analyse(x), reference)


@torch.no_grad()
def test_the_enhancer_in_bf16_is_close_to_fp32(paired_enhancer):
    model = load_enhancer(paired_enhancer).model
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    reference = model.enhance(x, [5], 0.5)
    model.set_precision("bf16")
    out = model.enhance(x, [5], 0.5)
    assert out.dtype == torch.float32 and out.shape == reference.shape
    assert float((out - reference).abs().max()) < 0.02


def test_a_bf16_file_is_deterministic_and_decodes_exactly_in_either_precision(scene, tiny_weights, paired_enhancer,
                                                                               tmp_path):
    options = {"model": tiny_weights, "tile": 64, "overlap": 16, "device": "cpu"}
    files = {name: compress_raster(scene, tmp_path / f"{name}.ldmr", precision=p, jobs=j, **options).output
             for name, p, j in (("fp32", "fp32", 1), ("bf16", "bf16", 1), ("bf16-2", "bf16", 2))}
    assert files["bf16"].read_bytes() == files["bf16-2"].read_bytes()  # deterministic, any number of jobs
    decoded = {}
    for coded in ("fp32", "bf16"):
        for decoder in ("fp32", "bf16"):  # a latent CRC mismatch would raise: decoding is exact
            out = decompress_raster(files[coded], tmp_path / f"{coded}-{decoder}.tif", model=tiny_weights,
                                    device="cpu", precision=decoder).output
            decoded[coded, decoder] = _read(out)
    for coded in ("fp32", "bf16"):
        difference = np.abs(decoded[coded, "fp32"] - decoded[coded, "bf16"])
        assert difference.mean() < 1.0  # the synthesis and enhancement round differently, nothing more


def test_the_cli_takes_a_precision_and_refuses_an_unknown_one(scene, tiny_weights, tmp_path, capsys):
    out = tmp_path / "x.ldmr"
    assert main(["compress", str(scene), "-o", str(out), "--model", str(tiny_weights), "--precision", "bf16",
                 "--tile", "64", "--overlap", "16"]) == 0
    code = main(["decompress", str(out), "-o", str(tmp_path / "x.tif"), "--model", str(tiny_weights),
                 "--precision", "half"])
    assert code == 2 and "'half' is not one of 'auto', 'fp32', 'bf16'" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()
