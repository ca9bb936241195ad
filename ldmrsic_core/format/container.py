"""The ``.ldmr`` container (docs/FORMAT.md). Format 3 (written), all integers little-endian::

    0   magic (8 bytes), major u16, minor u16
    12  tile payloads, back to back, in tile order
    …   binary header (:mod:`ldmrsic_core.format.binary_header`)
    …   tile index: per tile, varint payload length and its CRC32 (u32)
    …   footer length F (u32: header and index bytes), CRC32 (u32) of bytes 0–11, header, index and F

Formats 1 and 2 (read, and written for tests of old files)::

    0   preamble (64 bytes): magic, version, header/index offsets, CRC32 of the preamble
    64  tile payloads, back to back, in the order written
    …   header: zlib-compressed UTF-8 JSON, then its CRC32
    …   tile index: per tile (offset u64, length u64, CRC32 u32), then the index's CRC32

Header and index come last either way, so a scene is written in one streaming pass.
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
from ldmrsic_core.format.binary_header import encode_header, read_header
from ldmrsic_core.format.header import Header
from ldmrsic_core.format.varint import Reader, varint
from ldmrsic_core.format.versions import JSON_MAJORS, READABLE_MAJORS, VERSION, readable_versions

MAGIC = b"\x89LDMR\r\n\x1a"
_START = struct.Struct("<8sHH")  # magic, major, minor: where every version keeps them
START_SIZE = _START.size
_TRAILER = struct.Struct("<II")  # format 3: footer length, CRC32
_PREAMBLE = struct.Struct("<8sHHIQQQQ")  # formats 1–2: magic, major, minor, flags, hdr off, hdr len, idx off, tiles
PREAMBLE_SIZE = 64
_ENTRY = struct.Struct("<QQI")
_CRC = struct.Struct("<I")
MAX_HEADER_BYTES = 64 << 20
#: Format 3: a tile index entry is at least a one-byte varint and a CRC32.
MIN_ENTRY_BYTES = 5


@dataclass(frozen=True)
class IndexEntry:
    offset: int
    length: int
    crc32: int


class ContainerWriter:
    """Streams tile payloads to ``path``; :meth:`finish` writes header, index and trailer.

    ``version`` defaults to the current format; majors 1–2 (JSON header, ``finish`` also takes a
    plain dict) are kept to write files of old versions in tests.
    """

    def __init__(self, path: Path, tile_count: int, version: tuple[int, int] | None = None):
        self.version = version or VERSION
        if self.version[0] not in READABLE_MAJORS:
            raise ValueError(f"cannot write format {self.version}")
        self._json = self.version[0] in JSON_MAJORS
        self._file: BinaryIO = open(path, "wb")
        self._entries: list[IndexEntry | None] = [None] * tile_count
        self._pending: dict[int, bytes] = {}  # format 3 stores tiles in index order
        self._next = 0
        if self._json:
            self._start = b""
            self._file.write(_preamble(self.version, 0, 0, 0, tile_count))  # zero offsets: unfinished
            self._offset = PREAMBLE_SIZE
        else:
            self._start = _START.pack(MAGIC, *self.version)
            self._file.write(self._start)
            self._offset = START_SIZE

    def add_tile(self, index: int, payload: bytes) -> None:
        if self._entries[index] is not None or index in self._pending:
            raise ValueError(f"tile {index} written twice")
        if self._json:
            self._write(index, payload)
            return
        self._pending[index] = payload
        while self._next in self._pending:  # payloads back to back in tile order: offsets are implied
            self._write(self._next, self._pending.pop(self._next))
            self._next += 1

    def _write(self, index: int, payload: bytes) -> None:
        self._file.write(payload)
        self._entries[index] = IndexEntry(self._offset, len(payload), zlib.crc32(payload))
        self._offset += len(payload)

    def finish(self, header: Header | dict[str, Any], named_elsewhere: frozenset[str] = frozenset()) -> None:
        """Write header, index and trailer; format 3 omits the names of models whose SHA-256 is
        in ``named_elsewhere`` (see :func:`~ldmrsic_core.format.binary_header.encode_header`)."""
        missing = [i for i, e in enumerate(self._entries) if e is None]
        if missing:
            raise ValueError(f"tiles {missing[:5]} were never written")
        entries = [e for e in self._entries if e]
        if self._json:
            self._finish_json(header.to_json() if isinstance(header, Header) else header, entries)
        else:
            if not isinstance(header, Header):
                raise TypeError("format 3 writes a typed Header")
            index = b"".join(varint(e.length) + _CRC.pack(e.crc32) for e in entries)
            footer = encode_header(header, named_elsewhere, self.version) + index
            length = struct.pack("<I", len(footer))
            self._file.write(footer + _TRAILER.pack(len(footer), zlib.crc32(self._start + footer + length)))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.close()

    def _finish_json(self, header: dict[str, Any], entries: list[IndexEntry]) -> None:
        header_bytes = zlib.compress(json.dumps(header, sort_keys=True, separators=(",", ":")).encode(), 9)
        header_offset = self._offset
        self._file.write(header_bytes + struct.pack("<I", zlib.crc32(header_bytes)))
        index_offset = header_offset + len(header_bytes) + 4
        index = b"".join(_ENTRY.pack(e.offset, e.length, e.crc32) for e in entries)
        self._file.write(index + struct.pack("<I", zlib.crc32(index)))
        self._file.seek(0)
        self._file.write(_preamble(self.version, header_offset, len(header_bytes), index_offset, len(entries)))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def container_bytes(header: Header, payload_lengths: list[int], named_elsewhere: frozenset[str] = frozenset()) -> int:
    """The bytes a file of the current format adds to its tile payloads: start, header, index and trailer."""
    index = sum(len(varint(n)) + _CRC.size for n in payload_lengths)
    return START_SIZE + len(encode_header(header, named_elsewhere, VERSION)) + index + _TRAILER.size


def rewrite(path: Path, target: Path, version: tuple[int, int],
            names: dict[str, tuple[str, str]] | None = None) -> None:
    """The same tile payloads and header as a file of another ``version`` (benchmarks compare
    containers on identical payloads; tests make files of old versions)."""
    with ContainerReader(path, names) as reader, ContainerWriter(target, len(reader.entries), version) as writer:
        for index in range(len(reader.entries)):
            writer.add_tile(index, reader.read_tile(index))
        writer.finish(reader.typed_header)


def _preamble(version: tuple[int, int], header_offset: int, header_length: int, index_offset: int,
              tiles: int) -> bytes:
    body = _PREAMBLE.pack(MAGIC, *version, 0, header_offset, header_length, index_offset, tiles)
    return (body + struct.pack("<I", zlib.crc32(body))).ljust(PREAMBLE_SIZE, b"\0")


class ContainerReader:
    """Random access to an ``.ldmr`` file: the header, and any tile by index.

    ``header`` is the header as JSON-ready data (as formats 1–2 store it), ``typed_header`` the
    parsed :class:`Header`, and ``header_bytes`` the stored header's size. ``names`` maps installed
    weights hashes to their (name, config), which a format 3 header does not store.
    """

    def __init__(self, path: Path | str, names: dict[str, tuple[str, str]] | None = None):
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "rb")
        self._typed: Header | None = None
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self.header, self.entries = self._read_header_and_index(names)
        except BaseException:
            self._file.close()
            raise

    def _read_header_and_index(self, names: dict[str, tuple[str, str]] | None
                               ) -> tuple[dict[str, Any], list[IndexEntry]]:
        name = self.path.name
        head = self._file.read(PREAMBLE_SIZE)
        if not head.startswith(MAGIC):
            raise NotLdmrFileError(f"{name} is not an .ldmr file (wrong magic bytes)")
        if len(head) < START_SIZE:
            raise DamagedFileError(f"{name} is truncated inside its preamble")
        _, major, minor = _START.unpack_from(head)
        if major not in READABLE_MAJORS:
            raise UnsupportedVersionError(
                f"{name} uses .ldmr format version {major}.{minor}; this ldmrsic-geo reads versions "
                f"{readable_versions()}: upgrade ldmrsic-geo"
            )
        self.version = (major, minor)
        if major not in JSON_MAJORS:
            return self._read_footer(head[:START_SIZE], names)
        if len(head) < PREAMBLE_SIZE:
            raise DamagedFileError(f"{name} is truncated inside its preamble")
        magic, major, minor, _flags, h_off, h_len, i_off, count = _PREAMBLE.unpack_from(head)
        (crc,) = struct.unpack_from("<I", head, _PREAMBLE.size)
        if crc != zlib.crc32(head[: _PREAMBLE.size]):
            raise DamagedFileError(f"{name} has a damaged preamble (checksum mismatch)")
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
        self.header_bytes = h_len + 4
        return header, entries

    def _read_footer(self, start: bytes, names: dict[str, tuple[str, str]] | None
                     ) -> tuple[dict[str, Any], list[IndexEntry]]:
        """Format 3: trailer, then header and index (checked by the trailer's CRC before parsing)."""
        name = self.path.name
        if self.size < START_SIZE + _TRAILER.size:
            raise DamagedFileError(f"{name} is truncated: it ends before its trailer")
        footer_len, crc = _TRAILER.unpack(self._read_at(self.size - _TRAILER.size, _TRAILER.size))
        if footer_len > MAX_HEADER_BYTES or START_SIZE + footer_len + _TRAILER.size > self.size:
            raise DamagedFileError(f"{name} is truncated or damaged: the header lies beyond the end of the file")
        footer = self._read_at(self.size - _TRAILER.size - footer_len, footer_len)
        if crc != zlib.crc32(start + footer + struct.pack("<I", footer_len)):
            raise DamagedFileError(f"{name} is truncated or has a damaged header or tile index (checksum mismatch)")
        typed, lengths_crcs, header_bytes = _split_footer(footer, names, name, self.version)
        entries, offset = [], START_SIZE
        for length, crc32 in lengths_crcs:
            entries.append(IndexEntry(offset, length, crc32))
            offset += length
        if offset != self.size - _TRAILER.size - footer_len:
            raise DamagedFileError(f"{name} is damaged: its tiles do not fill the file as its index says")
        self._typed, self.header_bytes = typed, header_bytes
        return typed.to_json(), entries

    @property
    def typed_header(self) -> Header:
        """The header as a :class:`Header` (parsed from the JSON of formats 1–2 on first use)."""
        if self._typed is None:
            self._typed = Header.from_json(self.header)
        return self._typed

    @property
    def container_bytes(self) -> int:
        """Bytes of the file that are not tile payloads: start, header, index, trailer."""
        return self.size - sum(e.length for e in self.entries)

    def _read_at(self, offset: int, length: int) -> bytes:
        self._file.seek(offset)
        data = self._file.read(length)
        if len(data) != length:
            raise DamagedFileError(f"{self.path.name} is truncated")
        return data

    def read_tile(self, index: int) -> bytes:
        """The payload of tile ``index``, checked against its CRC32."""
        entry = self.entries[index]
        if entry.offset < START_SIZE or entry.offset + entry.length > self.size:
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


def _split_footer(footer: bytes, names: dict[str, tuple[str, str]] | None, name: str,
                  version: tuple[int, int]) -> tuple[Header, list[tuple[int, int]], int]:
    """The footer of formats 3–4 → (header, [(length, CRC32) per tile], header bytes); the header's
    tile grid says how many index entries follow it."""
    try:
        header, size = read_header(footer, names, version)
    except DamagedFileError as exc:
        raise DamagedFileError(f"{name}: {exc}") from None
    count = len(header.plan)
    if count * MIN_ENTRY_BYTES > len(footer) - size:
        raise DamagedFileError(f"{name} is truncated or damaged: the tile index lies beyond the end of the file")
    reader = Reader(footer[size:], DamagedFileError)
    entries = []
    for _ in range(count):
        length = reader.varint()
        entries.append((length, _CRC.unpack(reader.take(4))[0]))
    if not reader.at_end():
        raise DamagedFileError(f"{name} has a damaged tile index (trailing bytes)")
    return header, entries, size
