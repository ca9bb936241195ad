"""Format 4: all of a tile's symbols in one rANS stream — the same latents as a stream per
entropy-model call (formats 2–3, still decoded), fewer bytes, and the stream survives batching
and threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from conftest import DATA
from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.errors import PayloadError
from ldmrsic_core.format.container import ContainerReader
from ldmrsic_core.format.payload import TilePayload
from ldmrsic_core.format.versions import VERSION
from ldmrsic_core.models.exact import latent_checksums
from ldmrsic_core.zoo.registry import load_codec


def images(n: int, size: int = 128) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(5))


@torch.no_grad()
def per_call_streams(net, x, quality):
    """What formats 2 and 3 wrote: the exact entropy model coding a stream per call."""
    gain, _ = net.gains(quality)
    return net.exact_latent_codec().compress((net.analyse(x) * gain).to(torch.float64))


@pytest.mark.parametrize("quality", [1.0, 4.5])
def test_one_stream_decodes_to_the_latents_of_a_stream_per_call(tiny_weights, quality):
    net = load_codec(tiny_weights).model
    x = images(3)
    single = net.compress(x, quality, exact=True)
    assert len(single["strings"]) == 1 and len(single["strings"][0]) == 3  # one stream per image
    multi = per_call_streams(net, x, quality)
    assert len(multi["strings"]) == net.entropy_calls
    shape = net.latent_shape(128, 128)
    # the same symbols: the latents (and their checksums) agree whichever way they were coded
    assert latent_checksums(net.exact_latent(single["strings"], shape)) == single["checksums"]
    assert latent_checksums(net.exact_latent(multi["strings"], shape)) == single["checksums"]
    # fewer bytes: no final state, padding or length per call
    for i in range(3):
        assert len(single["strings"][0][i]) < sum(len(s[i]) for s in multi["strings"])
    # an image's stream decodes alone as in its batch
    alone = net.decompress([[single["strings"][0][1]]], shape, quality, exact=True)
    assert alone["checksums"] == [single["checksums"][1]]


def test_streams_of_concurrent_calls_stay_apart(tiny_weights):
    """The exact entropy model is shared by the tile jobs' threads; each call codes its own stream."""
    net = load_codec(tiny_weights).model
    inputs = [images(1 + i % 2, 64) * (0.5 + i / 16) for i in range(8)]
    alone = [net.compress(x, 3.0, exact=True) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda x: net.compress(x, 3.0, exact=True), inputs))
        shape = net.latent_shape(64, 64)
        decoded = list(pool.map(lambda c: net.decompress(c["strings"], shape, 3.0, exact=True), together))
    for a, b, d in zip(alone, together, decoded):
        assert a["strings"] == b["strings"] and d["checksums"] == a["checksums"]


def test_a_stream_that_is_not_whole_words_is_refused(tiny_weights):
    net = load_codec(tiny_weights).model
    coded = net.compress(images(1, 64), 3.0, exact=True)
    with pytest.raises(PayloadError, match="not whole 32-bit words"):
        net.decompress([[coded["strings"][0][0][:-1]]], net.latent_shape(64, 64), 3.0, exact=True)


def test_files_are_written_with_one_stream_per_band_group_since_format_4(tiny_weights, tmp_path):
    out = compress_raster(DATA / "sr_int16_8band.tif", tmp_path / "a.ldmr", model=tiny_weights, tile=64,
                          device="cpu", enhance=False).output
    with ContainerReader(out) as reader:
        assert reader.version == VERSION and VERSION[0] >= 4
        payload = TilePayload.decode(reader.read_tile(0), 8, (64, 64), checksummed=True)
        assert len(payload.groups) == 3 and all(len(streams) == 1 for streams in payload.groups)
    decompress_raster(out, tmp_path / "a.tif", model=tiny_weights, device="cpu")  # raises on a latent mismatch
