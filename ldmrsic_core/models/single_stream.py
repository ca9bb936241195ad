"""All of an image's symbols in one rANS stream instead of one stream per entropy-model call.

CompressAI codes each call of an entropy model — ELIC's hyper-latent, then the anchor and
non-anchor halves of every channel group: 11 calls for elic-small — as its own rANS stream, each
with its own final state (4 bytes), padding to 32-bit words and a length in the payload: about 70
bytes per tile, 6% of a 256² image at quality 1. Here the same calls, in the same order, feed one
buffered rANS encoder per image; the decoder reads them back from one stream in that order
(rANS buffers the encoder's symbols and codes them in reverse, so that decoding runs forward).

The switch is a context, not a flag on the model: the exact entropy model is shared by the tile
jobs' threads, and each thread's call brings its own coders (:data:`_CODERS` is a ContextVar).
Outside the context the entropy models code as CompressAI does (files of format 2 and 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.entropy_models import EntropyModel
from torch import nn

from ldmrsic_core.errors import PayloadError


class _Coders:
    """One call's coders, one per image of the batch, taken in turn (CompressAI's entropy models
    code the images of a batch one after the other, in order)."""

    def __init__(self, coders: list[Any]):
        self.coders = coders
        self.calls = 0

    def next(self) -> Any:
        coder = self.coders[self.calls % len(self.coders)]
        self.calls += 1
        return coder


_CODERS: ContextVar[_Coders | None] = ContextVar("ldmrsic_single_stream", default=None)


class _SharedStreamCoder:
    """Stands in for an entropy model's coder: inside :func:`encoding`/:func:`decoding` it codes
    into/from the call's shared stream (returning an empty placeholder string when encoding);
    outside, it is the model's own coder."""

    def __init__(self, own: Any):
        self.own = own
        self.name = own.name

    def encode_with_indexes(self, symbols, indexes, cdfs, cdf_lengths, offsets) -> bytes:
        coders = _CODERS.get()
        if coders is None:
            return self.own.encode_with_indexes(symbols, indexes, cdfs, cdf_lengths, offsets)
        coder = coders.next()
        coder.encode_with_indexes(symbols, indexes, cdfs, cdf_lengths, offsets)
        coder.last = symbols
        return b""

    def decode_with_indexes(self, string, indexes, cdfs, cdf_lengths, offsets) -> list[int]:
        coders = _CODERS.get()
        if coders is None:
            return self.own.decode_with_indexes(string, indexes, cdfs, cdf_lengths, offsets)
        coder = coders.next()
        if isinstance(coder, _Encoder):  # the encoder reading back what it coded (CompressAI's
            return coder.last            # hyper-latent does, for ẑ): rANS is lossless
        return coder.decode_stream(indexes, cdfs, cdf_lengths, offsets)


def share_streams(latent_codec: nn.Module) -> nn.Module:
    """Let every entropy model of ``latent_codec`` code into a shared stream (in place)."""
    for module in latent_codec.modules():
        if isinstance(module, EntropyModel) and not isinstance(module.entropy_coder, _SharedStreamCoder):
            module.entropy_coder = _SharedStreamCoder(module.entropy_coder)
    return latent_codec


class _Encoder(BufferedRansEncoder):
    """A buffered encoder that remembers the symbols of its last call."""

    last: list[int] = []


class Streams:
    """What :func:`encoding` yields: after the coding call, :meth:`flush` gives each image's stream."""

    def __init__(self, coders: _Coders):
        self._coders = coders

    def flush(self) -> list[bytes]:
        return [coder.flush() for coder in self._coders.coders]


@contextmanager
def encoding(images: int) -> Iterator[Streams]:
    """Entropy-model calls made inside code each image's symbols into one stream."""
    coders = _Coders([_Encoder() for _ in range(images)])
    token = _CODERS.set(coders)
    try:
        yield Streams(coders)
    finally:
        _CODERS.reset(token)


@contextmanager
def decoding(streams: list[bytes]) -> Iterator[None]:
    """Entropy-model calls made inside decode from each image's stream, in the encoder's order."""
    decoders = []
    for stream in streams:
        if len(stream) % 4:
            raise PayloadError(f"a codec stream of {len(stream)} bytes is not whole 32-bit words: damaged")
        decoder = RansDecoder()
        decoder.set_stream(stream)
        decoders.append(decoder)
    token = _CODERS.set(_Coders(decoders))
    try:
        yield
    finally:
        _CODERS.reset(token)


__all__ = ["Streams", "decoding", "encoding", "share_streams"]
