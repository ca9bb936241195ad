"""One tile's payload: its lossless validity mask and the codec streams of each band group.

Layout (varint = unsigned LEB128)::

    varint mask kind: 0 all valid, 1 none valid, 2/3 bit-packed mask (one for all bands / one per
           band), 4/5 row transitions (one for all bands / one per band)
    [varint n, n bytes: zlib(packbits(mask)) or zlib(transitions)]          kinds 2–5
    varint group count (0 when no pixel is valid)
    per group: varint stream count, a varint length per stream,
               [format 2: u32 CRC32 of the group's decoded latent], then the streams' bytes

The mask covers the pixels the tile owns (see :mod:`ldmrsic_core.tiling`), row-major. The
transition coding lists, per row, the columns where validity flips (the row starts invalid),
each as a zigzag varint delta from the same flip in the row above when the count matches,
else from the previous flip in the row: a nodata collar costs about a byte per row instead
of a bit per pixel. The encoder keeps the smaller of the two codings.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ldmrsic_core.errors import PayloadError
from ldmrsic_core.format.varint import Reader as _Reader
from ldmrsic_core.format.varint import varint as _varint

__all__ = ["TilePayload", "PayloadError"]

ALL_VALID, NONE_VALID, PIXEL_MASK, BAND_MASK, PIXEL_RUNS, BAND_RUNS = range(6)


@dataclass(frozen=True)
class TilePayload:
    """``valid``: bool array bands×rows×cols over the owned region; ``groups``: streams per group;
    ``checksums``: per group, the CRC32 of the latent the decoder must reproduce (None in format 1)."""

    valid: np.ndarray
    groups: list[list[bytes]]
    checksums: tuple[int, ...] | None = None

    def encode(self) -> bytes:
        out = bytearray()
        kind, packed = _mask_encode(self.valid)
        out += _varint(kind)
        if packed is not None:
            out += _varint(len(packed)) + packed
        out += _varint(len(self.groups))
        if self.checksums is not None and len(self.checksums) != len(self.groups):
            raise ValueError("one checksum per band group is needed")
        for g, streams in enumerate(self.groups):
            out += _varint(len(streams))
            for s in streams:
                out += _varint(len(s))
            if self.checksums is not None:
                out += struct.pack("<I", self.checksums[g])
            for s in streams:
                out += s
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes, bands: int, shape: tuple[int, int], checksummed: bool = False) -> TilePayload:
        """Parse a payload; ``checksummed`` for format 2 (a latent CRC32 per group)."""
        reader = _Reader(data)
        kind = reader.varint()
        if kind in (ALL_VALID, NONE_VALID):
            valid = np.full((bands, *shape), kind == ALL_VALID)
        elif kind in (PIXEL_MASK, BAND_MASK, PIXEL_RUNS, BAND_RUNS):
            planes = 1 if kind in (PIXEL_MASK, PIXEL_RUNS) else bands
            packed = reader.take(reader.varint())
            try:
                raw = zlib.decompress(packed)
            except zlib.error:
                raise PayloadError("mask does not decompress") from None
            if kind in (PIXEL_MASK, BAND_MASK):
                bits = np.unpackbits(np.frombuffer(raw, np.uint8))
                need = planes * shape[0] * shape[1]
                if bits.size < need:
                    raise PayloadError("mask is too short")
                mask = bits[:need].reshape(planes, *shape).astype(bool)
            else:
                mask = _runs_decode(raw, planes, shape)
            valid = np.broadcast_to(mask, (bands, *shape))
        else:
            raise PayloadError(f"unknown mask kind {kind}")
        groups, checksums = [], []
        for _ in range(reader.varint()):
            lengths = [reader.varint() for _ in range(reader.varint())]
            if checksummed:
                checksums.append(struct.unpack("<I", reader.take(4))[0])
            groups.append([reader.take(n) for n in lengths])
        if reader.pos != len(data):
            raise PayloadError("trailing bytes")
        return cls(np.asarray(valid), groups, tuple(checksums) if checksummed else None)


def _mask_encode(valid: np.ndarray) -> tuple[int, bytes | None]:
    if valid.all():
        return ALL_VALID, None
    if not valid.any():
        return NONE_VALID, None
    planes, packed_kind, runs_kind = ((valid[:1], PIXEL_MASK, PIXEL_RUNS) if (valid == valid[:1]).all()
                                      else (valid, BAND_MASK, BAND_RUNS))
    packed = zlib.compress(np.packbits(planes).tobytes(), 9)
    runs = zlib.compress(_runs_encode(planes), 9)
    return (runs_kind, runs) if len(runs) < len(packed) else (packed_kind, packed)


def _zigzag(n: int) -> int:
    return 2 * n if n >= 0 else -2 * n - 1


def _unzigzag(n: int) -> int:
    return n // 2 if n % 2 == 0 else -(n + 1) // 2


def _runs_encode(planes: np.ndarray) -> bytes:
    """Per row of every plane: the number of validity flips, then each flip's column, delta-coded."""
    out = bytearray()
    for plane in planes:
        above = np.zeros(0, dtype=np.int64)
        for row in plane:
            flips = np.flatnonzero(np.diff(row.astype(np.int8), prepend=0))
            out += _varint(len(flips))
            for i, col in enumerate(flips.tolist()):
                base = int(above[i]) if len(above) == len(flips) else (int(flips[i - 1]) if i else 0)
                out += _varint(_zigzag(col - base))
            above = flips
    return bytes(out)


def _runs_decode(raw: bytes, planes: int, shape: tuple[int, int]) -> np.ndarray:
    rows, cols = shape
    reader = _Reader(raw)
    mask = np.zeros((planes, rows, cols), dtype=bool)
    for p in range(planes):
        above: list[int] = []
        for r in range(rows):
            count = reader.varint()
            if count > cols:
                raise PayloadError("mask row has more flips than columns")
            flips: list[int] = []
            for i in range(count):
                base = above[i] if len(above) == count else (flips[i - 1] if i else 0)
                col = base + _unzigzag(reader.varint())
                if not (0 <= col < cols) or (flips and col <= flips[-1]):
                    raise PayloadError("mask row flips out of order")
                flips.append(col)
            toggles = np.zeros(cols + 1, dtype=np.int8)
            toggles[flips] = 1
            mask[p, r] = np.cumsum(toggles[:cols]) % 2 == 1
            above = flips
    if reader.pos != len(raw):
        raise PayloadError("trailing mask bytes")
    return mask
