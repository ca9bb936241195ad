"""The exact convolutions as int8 GEMMs: the float64 convolution's numbers, bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import rasterio
import torch
from compressai.layers import CheckerboardMaskedConv2d
from torch import nn

import ldmrsic_core.models.exact as exact_module
import ldmrsic_core.models.exact_int as exact_int_module
from conftest import DATA
from ldmrsic_core.models.exact import GRID_BITS, exact_latent_codec, quantize_layer, to_grid
from ldmrsic_core.models.exact_int import (
    attach_integer_conv,
    balanced_digits,
    digit_count,
    integer_eligible,
    integer_gemm_available,
    integer_gemm_pays,
)
from ldmrsic_core.zoo.registry import load_codec


@pytest.mark.parametrize("value", [0, 1, -1, 127, -128, 128, -129, 32639, 32640, -32896, -32897, 2**26, -(2**26)])
def test_balanced_digits_represent_every_integer_they_are_counted_for(value):
    count = digit_count(abs(value))
    digits = balanced_digits(torch.tensor([value], dtype=torch.int64), count)
    assert all(d.dtype == torch.int8 for d in digits)
    assert sum(int(d[0]) * 256**i for i, d in enumerate(digits)) == value
    if count > 1:  # and no fewer digits would do
        assert digit_count(abs(value)) == count and abs(value) > (127 * (256 ** (count - 1) - 1)) // 255


def _snapped_pair(layer: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The layer snapped for exact arithmetic, as float64 reference and as integer GEMMs."""
    nn.init.normal_(layer.weight, std=0.05)
    nn.init.normal_(layer.bias, std=0.5)
    layer = layer.double()
    bits = quantize_layer(layer)
    fast = copy.deepcopy(layer)
    attach_integer_conv(fast, GRID_BITS, bits)
    return layer, fast


@pytest.mark.parametrize("make", [
    lambda: nn.Conv2d(24, 16, 5, padding=2),
    lambda: nn.Conv2d(7, 5, 3, padding=0),
    lambda: nn.Conv2d(6, 9, (3, 5), padding=(1, 2)),
    lambda: CheckerboardMaskedConv2d(12, 10, 5, padding=2),
    lambda: nn.ConvTranspose2d(12, 20, 3, padding=1),
    lambda: nn.ConvTranspose2d(8, 6, 5, padding=2),
], ids=["conv5x5", "conv3x3-valid", "conv3x5", "checkerboard", "transposed3x3", "transposed5x5"])
@pytest.mark.parametrize("magnitude", [0.0, 0.01, 3.0, 2000.0], ids=["zeros", "small", "usual", "4-digit"])
def test_an_integer_convolution_computes_the_float64_convolutions_number(make, magnitude):
    torch.manual_seed(1)
    reference, fast = _snapped_pair(make())
    x = to_grid(torch.randn(2, reference.in_channels, 9, 11, dtype=torch.float64) * magnitude)
    assert integer_eligible(reference)
    assert torch.equal(fast(x), reference(x))


def test_layers_the_integer_path_does_not_evaluate_are_left_to_float64():
    for layer in (nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.Conv2d(8, 8, 3, groups=2),
                  nn.ConvTranspose2d(8, 8, 5, stride=2, padding=2, output_padding=1),
                  nn.Conv2d(8, 8, 3, padding=1, padding_mode="replicate")):
        assert not integer_eligible(layer)
        with pytest.raises(ValueError, match="not evaluated"):
            attach_integer_conv(layer.double(), GRID_BITS, torch.zeros(8))


def test_the_integer_path_runs_only_where_it_pays(monkeypatch):
    """int8 GEMMs are measured against float64 ones once per process; a CPU where they are slow (AVX2
    without VNNI: 17× slower) or missing gets the float64 convolutions, which give the same numbers."""
    assert isinstance(integer_gemm_pays(), bool)
    net = load_codec("elic-small-ucm-1").model
    for pays in (True, False):
        monkeypatch.setattr(exact_module, "integer_gemm_pays", lambda pays=pays: pays and integer_gemm_available())
        codec = exact_latent_codec(net.latent_codec, "cpu")
        used = any(hasattr(m, "_int_weight_digits") for m in codec.modules())
        assert used == (pays and integer_gemm_available())
    integer_gemm_pays.cache_clear()
    try:
        monkeypatch.setattr(exact_int_module, "integer_gemm_available", lambda: False)
        assert integer_gemm_pays() is False
    finally:
        integer_gemm_pays.cache_clear()


def test_the_shipped_codec_codes_a_tile_to_the_same_streams_and_latents_either_way(monkeypatch):
    """The integer path changes no bit: the same streams and latents as the float64 convolutions."""
    monkeypatch.setattr(exact_module, "integer_gemm_pays", integer_gemm_available)  # also where it is slower
    net = load_codec("elic-small-ucm-1").model
    with rasterio.open(DATA / "naip_uint8_4band.tif") as src:
        pixels = src.read([1, 2, 3], window=((0, 64), (0, 128))).astype(np.float32) / 255
    with torch.no_grad():
        y = (net.analyse(torch.from_numpy(pixels)[None]) * net.gains(4.0)[0]).double()
        fast = exact_latent_codec(net.latent_codec, "cpu")
        integer = sorted(name for name, m in fast.named_modules() if hasattr(m, "_int_weight_digits"))
        assert integer == sorted([f"y.channel_context.y{k}.{i}" for k in range(1, 5) for i in (0, 2, 4)]
                                 + [f"y.latent_codec.y{k}.context_prediction" for k in range(5)] + ["hyper.h_s.4"])
        monkeypatch.setattr(exact_module, "integer_eligible", lambda layer: False)
        slow = exact_latent_codec(net.latent_codec, "cpu")
        assert not any(hasattr(m, "_int_weight_digits") for m in slow.modules())
        a, b = fast.compress(y), slow.compress(y)
        assert a["strings"] == b["strings"] and torch.equal(a["y_hat"], b["y_hat"])
        assert torch.equal(fast.decompress(a["strings"], a["shape"])["y_hat"], a["y_hat"])
