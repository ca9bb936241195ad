"""Decode anywhere: exact entropy parameters, latent checksums per tile, format 1 still read."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from torch import nn

import ldmrsic_core.models.codec as codec_module
from conftest import DATA
from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.errors import LatentMismatchError, UnsupportedVersionError
from ldmrsic_core.format.container import ContainerReader
from ldmrsic_core.format.header import ENTROPY_SCHEME, Header, exact_entropy
from ldmrsic_core.format.payload import TilePayload
from ldmrsic_core.format.versions import VERSION
from ldmrsic_core.models.exact import (
    ACT_LIMIT,
    GRID_BITS,
    ExactArithmeticError,
    other_summation_order,
    quantize_layer,
    to_grid,
)
from ldmrsic_core.zoo.registry import load_codec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))
from harness import reseal  # noqa: E402

SCENE = DATA / "naip_uint8_4band.tif"
# fp32: the float-parameter comparison below is about the entropy arithmetic, not bf16's rounding.
TILING = {"tile": 64, "overlap": 8, "device": "cpu", "enhance": False, "precision": "fp32"}
DECODE = {"device": "cpu", "precision": "fp32"}


def _exponents(layer: nn.Conv2d) -> torch.Tensor:
    """Per output channel: the e with every weight an integer multiple of 2^-e (found, not assumed)."""
    flat = layer.weight.reshape(layer.out_channels, -1)
    e = torch.zeros(layer.out_channels, dtype=torch.float64)
    while not torch.equal(flat * 2 ** e[:, None], torch.round(flat * 2 ** e[:, None])):
        e += 1
    return e


def test_a_quantised_layer_computes_the_exact_integer_result():
    torch.manual_seed(0)
    layer = nn.Conv2d(8, 4, 3, padding=1).double()
    nn.init.normal_(layer.weight, std=0.3)
    quantize_layer(layer)
    x = to_grid(torch.randn(1, 8, 6, 6, dtype=torch.float64) * 3000)
    x[0, 0, 0, :3] = torch.tensor([ACT_LIMIT, -ACT_LIMIT, ACT_LIMIT])  # the extremes the bound allows
    out = layer(x)
    # The same sum in int64: inputs × 2^G and weights × 2^e are integers.
    e = _exponents(layer)
    xi = torch.round(x * 2**GRID_BITS).to(torch.int64)
    cols = torch.nn.functional.unfold(xi.double(), 3, padding=1).to(torch.int64)[0]  # (8·9) × 36
    wi = torch.round(layer.weight.reshape(4, -1) * 2 ** e[:, None]).to(torch.int64)
    bi = torch.round(layer.bias * 2 ** (e + GRID_BITS)).to(torch.int64)
    expected = (wi @ cols + bi[:, None]).reshape(4, 6, 6)
    got = out[0] * 2 ** (e + GRID_BITS)[:, None, None]
    assert torch.equal(got, expected.double())


def test_a_fan_in_too_large_for_the_grid_is_refused():
    layer = nn.Conv2d(2048, 2, 3).double()  # 18 432 equal weights per output: under 12 bits each
    nn.init.constant_(layer.weight, 0.01)
    with pytest.raises(ExactArithmeticError, match="significant bits"):
        quantize_layer(layer)


def _coded(tiny_weights, quality=4.0):
    net = load_codec(tiny_weights).model
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(3))
    return net, net.latent_shape(128, 128), net.compress(x, quality, exact=True), net.compress(x, quality)


@torch.no_grad()
def test_exact_latents_do_not_depend_on_the_summation_order(tiny_weights):
    net, shape, exact, _ = _coded(tiny_weights)
    reference = net.exact_latent(exact["strings"], shape)
    with other_summation_order(net.exact_latent_codec()):
        other = net.exact_latent(exact["strings"], shape)
        checksums = net.decompress(exact["strings"], shape, 4.0, exact=True)["checksums"]
    assert torch.equal(reference, other) and checksums == exact["checksums"]


def test_float_latents_do_depend_on_it(tiny_weights):
    """The problem the exact path solves, shown on the same model: the float decoder's ŷ changes."""
    net, shape, _, floating = _coded(tiny_weights)
    with torch.no_grad():
        reference = net.latent_codec.decompress(floating["strings"], shape)["y_hat"]
        with other_summation_order(net.latent_codec):
            other = net.latent_codec.decompress(floating["strings"], shape)["y_hat"]
    assert not torch.equal(reference, other)


def test_exact_latents_do_not_depend_on_the_thread_count(tiny_weights):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        net, shape, exact, _ = _coded(tiny_weights)
        torch.set_num_threads(2)
        assert net.decompress(exact["strings"], shape, 4.0, exact=True)["checksums"] == exact["checksums"]
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
@pytest.mark.parametrize("integer_gemm", [True, False])
def test_latents_coded_together_get_the_streams_and_latents_they_get_alone(tiny_weights, monkeypatch, integer_gemm):
    """What batching tiles on a device rests on: the exact networks give each latent of a batch the
    numbers it gets alone, so its streams, decoded latent and checksum do not depend on the batch."""
    import ldmrsic_core.models.exact as exact_module
    from ldmrsic_core.models.exact_int import integer_gemm_available

    # the integer path where torch has it, even on a CPU where it is slower than the float one
    available = integer_gemm_available()
    monkeypatch.setattr(exact_module, "integer_gemm_pays", lambda: integer_gemm and available)
    net = load_codec(tiny_weights).model
    gain, _ = net.gains(4.0)
    x = torch.rand(3, 3, 128, 128, generator=torch.Generator().manual_seed(11))
    x[1] *= 0.1  # a dull tile next to busy ones: another digit count in the integer path
    y = torch.cat([net.analyse(x[i:i + 1]) for i in range(3)]) * gain
    codec, shape = net.exact_latent_codec(), net.latent_shape(128, 128)
    together = codec.compress(y.double())
    alone = [codec.compress(y[i:i + 1].double()) for i in range(3)]
    for i, single in enumerate(alone):
        assert [s[i] for s in together["strings"]] == [s[0] for s in single["strings"]]
    decoded = codec.decompress(together["strings"], shape)["y_hat"]
    assert torch.equal(decoded, torch.cat([s["y_hat"] for s in alone])) and torch.equal(decoded, together["y_hat"])
    checksums = net.decompress(together["strings"], shape, 4.0, exact=True)["checksums"]
    assert checksums == [net.decompress(s["strings"], shape, 4.0, exact=True)["checksums"][0] for s in alone]


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


@pytest.fixture(scope="module")
def packed(tmp_path_factory, tiny_weights) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("exact")
    path = compress_raster(SCENE, folder / "x.ldmr", model=tiny_weights, **TILING).output
    decoded = decompress_raster(path, folder / "x.tif", model=tiny_weights, **DECODE).output
    return path, _read(decoded)


def test_files_record_the_arithmetic_and_a_checksum_per_group(packed):
    path, _ = packed
    with ContainerReader(path) as reader:
        header = Header.from_json(reader.header)
        assert reader.version == VERSION and header.entropy == ENTROPY_SCHEME
        payload = TilePayload.decode(reader.read_tile(0), header.raster.count, header.plan.owned(0).shape,
                                     checksummed=True)
    assert len(payload.checksums) == len(payload.groups) == len(header.groups)


def test_a_decoder_that_sums_in_another_order_writes_the_same_pixels(packed, tiny_weights, tmp_path, monkeypatch):
    path, reference = packed
    with contextlib.ExitStack() as stack:
        build = codec_module.exact_latent_codec

        def other_device(latent_codec, device):
            exact = build(latent_codec, device)
            stack.enter_context(other_summation_order(exact))
            return exact

        monkeypatch.setattr(codec_module, "exact_latent_codec", other_device)
        out = decompress_raster(path, tmp_path / "o.tif", model=tiny_weights, **DECODE).output
        assert np.array_equal(_read(out), reference)


def _with_wrong_checksum(path: Path, tile: int, target: Path) -> None:
    with ContainerReader(path) as reader:
        header = Header.from_json(reader.header)
        entry = reader.entries[tile]
        payload = TilePayload.decode(reader.read_tile(tile), header.raster.count, header.plan.owned(tile).shape,
                                     checksummed=True)
    wrong = TilePayload(payload.valid, payload.groups, (payload.checksums[0] ^ 1, *payload.checksums[1:]))
    data = bytearray(path.read_bytes())
    data[entry.offset:entry.offset + entry.length] = wrong.encode()
    target.write_bytes(reseal(bytes(data)))  # CRCs recomputed: only the latent check can notice


def test_a_latent_mismatch_is_reported_by_tile_and_never_silent(packed, tiny_weights, tmp_path):
    path, reference = packed
    bad = tmp_path / "bad.ldmr"
    _with_wrong_checksum(path, 2, bad)
    with pytest.raises(LatentMismatchError, match=r"tile 2: .*band group\(s\) 0"):
        decompress_raster(bad, tmp_path / "o.tif", model=tiny_weights, **DECODE)
    assert not (tmp_path / "o.tif").exists()
    with pytest.warns(UserWarning, match="tile 2"):
        result = decompress_raster(bad, tmp_path / "o.tif", model=tiny_weights, **DECODE, allow_damaged=True)
    assert result.damaged_tiles == (2,)
    with ContainerReader(path) as reader:
        owned = Header.from_json(reader.header).plan.owned(0)
    recovered = _read(result.output)
    assert np.array_equal(recovered[(slice(None), *owned.slices)], reference[(slice(None), *owned.slices)])


def test_a_device_that_computes_other_parameters_is_caught(packed, tiny_weights, tmp_path, monkeypatch):
    """One grid step more on one predicted mean — the smallest difference there can be."""
    build = codec_module.exact_latent_codec

    def off_by_one_step(latent_codec, device):
        exact = build(latent_codec, device)
        last = exact.latent_codec["y"].latent_codec["y0"].entropy_parameters[-1]
        last.bias.data[-1] += 2.0**-GRID_BITS  # the last channel is a mean
        return exact

    monkeypatch.setattr(codec_module, "exact_latent_codec", off_by_one_step)
    with pytest.raises(LatentMismatchError, match="tile 0"):
        decompress_raster(packed[0], tmp_path / "o.tif", model=tiny_weights, **DECODE)


def test_format_1_files_still_decode_with_float_parameters(tiny_weights, tmp_path, monkeypatch, packed):
    import ldmrsic_core.format.container as container
    import ldmrsic_core.pipeline.compress as encode
    import ldmrsic_core.pipeline.tile_jobs as tile_jobs
    from ldmrsic_core.pipeline.tile_codec import encode_groups

    monkeypatch.setattr(container, "VERSION", (1, 1))
    monkeypatch.setattr(encode, "ENTROPY_SCHEME", "float")
    monkeypatch.setattr(tile_jobs, "encode_groups", lambda *a, **k: encode_groups(*a, **k, exact=False))
    old = compress_raster(SCENE, tmp_path / "old.ldmr", model=tiny_weights, **TILING).output
    monkeypatch.undo()
    with ContainerReader(old) as reader:
        assert reader.version == (1, 1) and reader.header["entropy"] == "float"
    decoded = _read(decompress_raster(old, tmp_path / "old.tif", model=tiny_weights, **DECODE).output)
    difference = np.abs(decoded.astype(int) - packed[1].astype(int))
    assert difference.mean() < 0.05  # the same codec in other arithmetic, not garbage (that is tens)


@pytest.mark.parametrize(("version", "entropy"), [((2, 0), "float"), ((2, 0), "fixed-point-9"), ((1, 1), "x")])
def test_unknown_arithmetic_is_refused(version, entropy, packed):
    with ContainerReader(packed[0]) as reader:
        header = Header.from_json({**reader.header, "entropy": entropy})
    with pytest.raises(UnsupportedVersionError, match="upgrade"):
        exact_entropy(header, version, "x.ldmr")


def test_a_large_fan_in_summed_in_halves_is_the_same_exact_number():
    from ldmrsic_core.models.exact import SPLIT_FAN_IN, _halves_conv, _splittable

    torch.manual_seed(4)
    layer = nn.Conv2d(232, 16, 5, padding=2).double()  # fan-in 5800 > SPLIT_FAN_IN
    nn.init.normal_(layer.weight, std=0.02)
    quantize_layer(layer)
    assert layer.in_channels * 25 > SPLIT_FAN_IN and _splittable(layer)
    x = to_grid(torch.randn(2, 232, 9, 11, dtype=torch.float64) * 40)
    assert torch.equal(_halves_conv(layer, x), layer._conv_forward(x, layer.weight, layer.bias))


def test_the_shipped_codec_sums_its_widest_convolutions_in_halves_off_the_cpu():
    """Where the integer GEMMs do not run (a GPU; "meta" stands in for it here) the widest
    float64 convolutions are summed in halves."""
    from ldmrsic_core.models.exact import exact_latent_codec

    exact = exact_latent_codec(load_codec("elic-small-ucm-1").model.latent_codec, "meta")
    halves = [name for name, m in exact.named_modules() if "forward" in m.__dict__]
    assert halves == [f"y.channel_context.y{k}.2" for k in range(1, 5)]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_encoded_tile_decodes_on_the_cpu_with_identical_latents(tiny_weights):
    """The exact networks on the GPU (cuDNN off) compute the CPU's numbers: same streams, same latents."""
    gpu, cpu = load_codec(tiny_weights, "cuda").model, load_codec(tiny_weights, "cpu").model
    x = torch.rand(2, 3, 128, 192, generator=torch.Generator().manual_seed(5))
    shape = cpu.latent_shape(128, 192)
    for quality in (1.0, 3.5, 5.0):
        on_gpu = gpu.compress(x.cuda(), quality, exact=True)
        back = cpu.decompress(on_gpu["strings"], shape, quality, exact=True)
        assert back["checksums"] == on_gpu["checksums"]
        again = gpu.decompress(on_gpu["strings"], shape, quality, exact=True)
        assert again["checksums"] == on_gpu["checksums"]
