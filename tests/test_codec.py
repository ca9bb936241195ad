"""The variable-rate codec: exact entropy-coding round trips, quality handling, weights files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ldmrsic_core.errors import InputError, WeightsError
from ldmrsic_core.models.codec import LAMBDAS, lambda_for_quality
from ldmrsic_core.pipeline.tile_codec import decode_groups, encode_groups
from ldmrsic_core.zoo.registry import load_codec


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("quality", [1.0, 2.5, 5.0])
def test_decoder_reproduces_the_encoders_reconstruction(tiny_weights, quality, exact):
    net = load_codec(tiny_weights).model
    x = torch.rand(2, 3, 128, 192, generator=torch.Generator().manual_seed(7))
    enc = net.compress(x, quality, exact=exact)
    dec = net.decompress(enc["strings"], net.latent_shape(128, 192), quality, exact=exact)
    assert torch.equal(dec["x_hat"], net.synthesize(enc["y_hat"]))
    assert dec.get("checksums") == enc.get("checksums") and (enc.get("checksums") is not None) == exact


@pytest.mark.parametrize("exact", [False, True])
def test_coding_leaves_the_weights_in_place_so_jobs_can_share_one_model(tiny_weights, exact):
    # Tile jobs run on threads with one model: a forward that rebinds a weight (CompressAI's masked
    # convolution did, at every call) lets another thread's convolution read freed memory.
    net = load_codec(tiny_weights).model
    before = {name: (p.data_ptr(), p._version) for name, p in net.named_parameters()}
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    enc = net.compress(x, 3.0, exact=exact)
    net.decompress(enc["strings"], net.latent_shape(64, 64), 3.0, exact=exact)
    assert {name: (p.data_ptr(), p._version) for name, p in net.named_parameters()} == before


def test_tiles_of_any_size_are_padded_and_cropped(tiny_weights):
    net = load_codec(tiny_weights).model
    unit = np.random.default_rng(0).random((4, 37, 101)).astype(np.float32)
    groups = [[0, 1, 2], [3]]
    [coded] = encode_groups(net, [unit], groups, 3.0, torch.device("cpu"))
    assert len(coded.streams) == 2 and len(coded.checksums) == 2
    [(back, mismatched)] = decode_groups(net, [coded], groups, (37, 101), 3.0)
    assert mismatched == []
    assert back.shape == unit.shape and back.dtype == np.float32
    assert (back >= 0).all() and (back <= 1).all()


def test_gains_interpolate_between_presets(tiny_weights):
    net = load_codec(tiny_weights).model
    g1, _ = net.gains(1.0)
    g2, _ = net.gains(2.0)
    g15, _ = net.gains(1.5)
    torch.testing.assert_close(g15, (g1 * g2).sqrt())
    assert lambda_for_quality(1.0) == pytest.approx(LAMBDAS[0])
    assert lambda_for_quality(5.0) == pytest.approx(LAMBDAS[4])
    assert LAMBDAS[1] < lambda_for_quality(2.5) < LAMBDAS[2]


def test_rate_grows_with_quality_from_the_initial_gains(tiny_weights):
    net = load_codec(tiny_weights).model
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    sizes = [sum(len(s[0]) for s in net.compress(x, q)["strings"]) for q in (1.0, 3.0, 5.0)]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("quality", [0.5, 5.5, float("nan")])
def test_quality_out_of_range(tiny_weights, quality):
    with pytest.raises(InputError, match="quality"):
        load_codec(tiny_weights).model.gains(quality)


def test_weights_are_verified_by_hash(tiny_weights, tmp_path):
    with pytest.raises(WeightsError, match="not the ones"):
        load_codec(tiny_weights, expect_sha256="0" * 64)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="not a readable weights file"):
        load_codec(broken)
    with pytest.raises(WeightsError, match="neither a known model name"):
        load_codec(tmp_path / "missing.pt")
