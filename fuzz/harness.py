"""What the fuzzers share: reading a file as a decoder does, and re-sealing its CRCs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ldmrsic_core.format.container import MAGIC, ContainerReader
from ldmrsic_core.format.header import Header, exact_entropy
from ldmrsic_core.format.payload import TilePayload


def read_everything(path: Path) -> None:
    """What a decoder does before the codec: preamble, header, index, every tile's payload."""
    with ContainerReader(path) as reader:
        header = Header.from_json(reader.header)
        checksummed = exact_entropy(header, reader.version, path.name)
        if len(reader.entries) != len(header.plan):
            return
        for index in range(len(reader.entries)):
            TilePayload.decode(reader.read_tile(index), header.raster.count, header.plan.owned(index).shape,
                               checksummed)


def reseal(data: bytes) -> bytes:
    """Recompute every CRC (preamble, header, tiles, index) so mutations reach the parsers behind them."""
    out = bytearray(data)
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
