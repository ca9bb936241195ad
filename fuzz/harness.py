"""What the fuzzers share: reading a file as a decoder does, and re-sealing its CRCs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ldmrsic_core.errors import LdmrError
from ldmrsic_core.format.binary_header import read_header
from ldmrsic_core.format.container import MAGIC, START_SIZE, ContainerReader
from ldmrsic_core.format.header import exact_entropy
from ldmrsic_core.format.payload import TilePayload
from ldmrsic_core.format.varint import Reader


def read_everything(path: Path) -> None:
    """What a decoder does before the codec: preamble, header, index, every tile's payload."""
    with ContainerReader(path) as reader:
        header = reader.typed_header
        checksummed = exact_entropy(header, reader.version, path.name)
        if len(reader.entries) != len(header.plan):
            return
        for index in range(len(reader.entries)):
            TilePayload.decode(reader.read_tile(index), header.raster.count, header.plan.owned(index).shape,
                               checksummed)


def reseal(data: bytes) -> bytes:
    """Recompute every CRC (preamble, header, tiles, index) so mutations reach the parsers behind them."""
    out = bytearray(data)
    if len(out) >= START_SIZE + 8 and out.startswith(MAGIC) and struct.unpack_from("<H", out, 8)[0] >= 3:
        return _reseal_format_3(out)
    if len(out) < 64 or not out.startswith(MAGIC):
        return bytes(out)
    _, _, _, _, h_off, h_len, i_off, count = struct.unpack_from("<8sHHIQQQQ", out)
    if h_off + h_len + 4 <= len(out):
        out[h_off + h_len:h_off + h_len + 4] = struct.pack("<I", zlib.crc32(out[h_off:h_off + h_len]))
    if count < 1_000_000 and i_off + 20 * count + 4 <= len(out):
        for i in range(count):
            at = i_off + 20 * i
            off, length, _ = struct.unpack_from("<QQI", out, at)
            if off + length <= len(out):
                struct.pack_into("<I", out, at + 16, zlib.crc32(out[off:off + length]))
        end = i_off + 20 * count
        out[end:end + 4] = struct.pack("<I", zlib.crc32(out[i_off:end]))
    out[48:52] = struct.pack("<I", zlib.crc32(out[:48]))
    return bytes(out)


def _reseal_format_3(out: bytearray) -> bytes:
    """Format 3: the tile CRCs in the index (when the header still parses), then the trailer's CRC."""
    (footer_len,) = struct.unpack_from("<I", out, len(out) - 8)
    start = len(out) - 8 - footer_len
    if start < START_SIZE:
        return bytes(out)
    try:
        header, size = read_header(bytes(out[start:start + footer_len]))
    except LdmrError:
        header = None
    if header is not None and len(header.plan) < 1_000_000:
        reader, offset = Reader(bytes(out[start + size:len(out) - 8]), ValueError), START_SIZE
        try:
            for _ in range(len(header.plan)):
                length = reader.varint()
                at = start + size + reader.pos
                reader.take(4)
                if offset + length <= len(out):
                    struct.pack_into("<I", out, at, zlib.crc32(out[offset:offset + length]))
                offset += length
        except ValueError:
            pass
    crc = zlib.crc32(bytes(out[:START_SIZE]) + bytes(out[start:len(out) - 4]))
    struct.pack_into("<I", out, len(out) - 4, crc)
    return bytes(out)
