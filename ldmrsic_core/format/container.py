"""The ``.ldmr`` container: preamble, tile payloads, JSON header, tile index (docs/FORMAT.md).

Layout (all integers little-endian)::

    0   preamble (64 bytes): magic, version, header/index offsets, CRC32 of the preamble
    64  tile payloads, back to back, in the order written
    …   header: zlib-compressed UTF-8 JSON, then its CRC32
    …   tile index: per tile (offset u64, length u64, CRC32 u32), then the index's CRC32

The header and index come last so a scene can be written in one streaming pass; the
preamble is rewritten at the end to point at them.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ldmrsic_core.errors import (
    DamagedFileError,
    DamagedTileError,
    NotLdmrFileError,
    UnsupportedVersionError,
)

MAGIC = b"\x89LDMR\r\n\x1a"
VERSION = (2, 0)
#: Majors this reader decodes: 1 (float entropy parameters), 2 (exact ones, latent checksums).
READABLE_MAJORS = (1, 2)
_PREAMBLE = struct.Struct("<8sHHIQQQQ")  # magic, major, minor, flags, hdr off, hdr len, idx off, tiles
PREAMBLE_SIZE = 64
_ENTRY = struct.Struct("<QQI")
MAX_HEADER_BYTES = 64 << 20


@dataclass(frozen=True)
class IndexEntry:
    offset: int
    length: int
    crc32: int


class ContainerWriter:
    """Streams tile payloads to ``path``; :meth:`finish` writes header, index and preamble."""

    def __init__(self, path: Path, tile_count: int):
        self._file: BinaryIO = open(path, "wb")
        self._entries: list[IndexEntry | None] = [None] * tile_count
        self._file.write(_preamble(0, 0, 0, tile_count))  # zero offsets mark an unfinished file
        self._offset = PREAMBLE_SIZE

    def add_tile(self, index: int, payload: bytes) -> None:
        if self._entries[index] is not None:
            raise ValueError(f"tile {index} written twice")
        self._file.write(payload)
        self._entries[index] = IndexEntry(self._offset, len(payload), zlib.crc32(payload))
        self._offset += len(payload)

    def finish(self, header: dict[str, Any]) -> None:
        missing = [i for i, e in enumerate(self._entries) if e is None]
        if missing:
            raise ValueError(f"tiles {missing[:5]} were never written")
        header_bytes = zlib.compress(json.dumps(header, sort_keys=True, separators=(",", ":")).encode(), 9)
        header_offset = self._offset
        self._file.write(header_bytes + struct.pack("<I", zlib.crc32(header_bytes)))
        index_offset = header_offset + len(header_bytes) + 4
        index = b"".join(_ENTRY.pack(e.offset, e.length, e.crc32) for e in self._entries if e)
        self._file.write(index + struct.pack("<I", zlib.crc32(index)))
        self._file.seek(0)
        self._file.write(_preamble(header_offset, len(header_bytes), index_offset, len(self._entries)))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.close()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _preamble(header_offset: int, header_length: int, index_offset: int, tiles: int) -> bytes:
    body = _PREAMBLE.pack(MAGIC, *VERSION, 0, header_offset, header_length, index_offset, tiles)
    return (body + struct.pack("<I", zlib.crc32(body))).ljust(PREAMBLE_SIZE, b"\0")


class ContainerReader:
    """Random access to an ``.ldmr`` file: the header, and any tile by index."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "rb")
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self.header, self.entries = self._read_header_and_index()
        except BaseException:
            self._file.close()
            raise

    def _read_header_and_index(self) -> tuple[dict[str, Any], list[IndexEntry]]:
        name = self.path.name
        head = self._file.read(PREAMBLE_SIZE)
        if not head.startswith(MAGIC):
            raise NotLdmrFileError(f"{name} is not an .ldmr file (wrong magic bytes)")
        if len(head) < PREAMBLE_SIZE:
            raise DamagedFileError(f"{name} is truncated inside its preamble")
        magic, major, minor, _flags, h_off, h_len, i_off, count = _PREAMBLE.unpack_from(head)
        if major not in READABLE_MAJORS:
            raise UnsupportedVersionError(
                f"{name} uses .ldmr format version {major}.{minor}; this ldmrsic-geo reads versions "
                f"{' and '.join(f'{m}.x' for m in READABLE_MAJORS)}: upgrade ldmrsic-geo"
            )
        (crc,) = struct.unpack_from("<I", head, _PREAMBLE.size)
        if crc != zlib.crc32(head[: _PREAMBLE.size]):
            raise DamagedFileError(f"{name} has a damaged preamble (checksum mismatch)")
        self.version = (major, minor)
        if h_off == 0:
            raise DamagedFileError(f"{name} was never finished (its writer stopped before the header)")
        if h_len > MAX_HEADER_BYTES or h_off + h_len + 4 > self.size:
            raise DamagedFileError(f"{name} is truncated or damaged: the header lies beyond the end of the file")
        index_len = count * _ENTRY.size + 4
        if count == 0 or i_off + index_len > self.size:
            raise DamagedFileError(f"{name} is truncated or damaged: the tile index lies beyond the end of the file")
        header_bytes = self._read_at(h_off, h_len + 4)
        if struct.unpack("<I", header_bytes[-4:])[0] != zlib.crc32(header_bytes[:-4]):
            raise DamagedFileError(f"{name} has a damaged header (checksum mismatch)")
        try:
            inflater = zlib.decompressobj()
            text = inflater.decompress(header_bytes[:-4], MAX_HEADER_BYTES)
            if inflater.unconsumed_tail or not inflater.eof:
                raise ValueError("header too large or incomplete")
            header = json.loads(text)
        except (ValueError, zlib.error):
            raise DamagedFileError(f"{name} has an unreadable header") from None
        raw = self._read_at(i_off, index_len)
        if struct.unpack("<I", raw[-4:])[0] != zlib.crc32(raw[:-4]):
            raise DamagedFileError(f"{name} has a damaged tile index (checksum mismatch)")
        entries = [IndexEntry(*_ENTRY.unpack_from(raw, i * _ENTRY.size)) for i in range(count)]
        return header, entries

    def _read_at(self, offset: int, length: int) -> bytes:
        self._file.seek(offset)
        data = self._file.read(length)
        if len(data) != length:
            raise DamagedFileError(f"{self.path.name} is truncated")
        return data

    def read_tile(self, index: int) -> bytes:
        """The payload of tile ``index``, checked against its CRC32."""
        entry = self.entries[index]
        if entry.offset < PREAMBLE_SIZE or entry.offset + entry.length > self.size:
            raise DamagedTileError(index, "its data lies beyond the end of the file")
        self._file.seek(entry.offset)
        data = self._file.read(entry.length)
        if len(data) != entry.length:
            raise DamagedTileError(index, "the file is truncated")
        if zlib.crc32(data) != entry.crc32:
            raise DamagedTileError(index, "checksum mismatch")
        return data

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
