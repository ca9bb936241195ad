"""One tile's payload: its lossless validity mask and the codec streams of each band group.

Layout (varint = unsigned LEB128)::

    varint mask kind (0 all valid, 1 none valid, 2 one mask for all bands, 3 one per band)
    [varint n, n bytes: zlib(packbits(mask))]             kinds 2 and 3
    varint group count (0 when no pixel is valid)
    per group: varint stream count, a varint length per stream, then the streams' bytes

The mask covers the pixels the tile owns (see :mod:`ldmrsic_core.tiling`), row-major.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

ALL_VALID, NONE_VALID, PIXEL_MASK, BAND_MASK = range(4)


class PayloadError(ValueError):
    """The payload does not parse (a damaged tile that passed its CRC is all but impossible)."""


@dataclass(frozen=True)
class TilePayload:
    """``valid``: bool array bands×rows×cols over the owned region; ``groups``: streams per group."""

    valid: np.ndarray
    groups: list[list[bytes]]

    def encode(self) -> bytes:
        out = bytearray()
        kind, packed = _mask_encode(self.valid)
        out += _varint(kind)
        if packed is not None:
            out += _varint(len(packed)) + packed
        out += _varint(len(self.groups))
        for streams in self.groups:
            out += _varint(len(streams))
            for s in streams:
                out += _varint(len(s))
            for s in streams:
                out += s
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes, bands: int, shape: tuple[int, int]) -> TilePayload:
        reader = _Reader(data)
        kind = reader.varint()
        if kind in (ALL_VALID, NONE_VALID):
            valid = np.full((bands, *shape), kind == ALL_VALID)
        elif kind in (PIXEL_MASK, BAND_MASK):
            planes = 1 if kind == PIXEL_MASK else bands
            packed = reader.take(reader.varint())
            try:
                bits = np.unpackbits(np.frombuffer(zlib.decompress(packed), np.uint8))
            except zlib.error:
                raise PayloadError("mask does not decompress") from None
            need = planes * shape[0] * shape[1]
            if bits.size < need:
                raise PayloadError("mask is too short")
            valid = np.broadcast_to(bits[:need].reshape(planes, *shape).astype(bool), (bands, *shape))
        else:
            raise PayloadError(f"unknown mask kind {kind}")
        groups = []
        for _ in range(reader.varint()):
            lengths = [reader.varint() for _ in range(reader.varint())]
            groups.append([reader.take(n) for n in lengths])
        if reader.pos != len(data):
            raise PayloadError("trailing bytes")
        return cls(np.asarray(valid), groups)


def _mask_encode(valid: np.ndarray) -> tuple[int, bytes | None]:
    if valid.all():
        return ALL_VALID, None
    if not valid.any():
        return NONE_VALID, None
    if (valid == valid[:1]).all():
        return PIXEL_MASK, zlib.compress(np.packbits(valid[0]).tobytes(), 9)
    return BAND_MASK, zlib.compress(np.packbits(valid).tobytes(), 9)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise PayloadError("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise PayloadError("truncated payload")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk
