"""The .ldmr container: round trip, random access, 64-bit offsets, and named failures on damage."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from ldmrsic_core.errors import DamagedFileError, DamagedTileError, NotLdmrFileError, UnsupportedVersionError
from ldmrsic_core.format.container import MAGIC, PREAMBLE_SIZE, ContainerReader, ContainerWriter
from ldmrsic_core.format.payload import TilePayload

HEADER = {"hello": "world", "nested": {"n": 3}}
TILES = [b"first tile", b"", b"\x00\xff" * 50]


def write(path: Path, tiles=TILES, header=HEADER) -> Path:
    """A format 2.0 file (JSON header): the layout these tests check; format 3 is tested below."""
    with ContainerWriter(path, len(tiles), version=(2, 0)) as w:
        for i in reversed(range(len(tiles))):  # order of writing does not matter
            w.add_tile(i, tiles[i])
        w.finish(header)
    return path


def test_round_trip(tmp_path):
    with ContainerReader(write(tmp_path / "a.ldmr")) as r:
        assert r.header == HEADER
        assert [r.read_tile(i) for i in range(len(TILES))] == TILES


def test_random_access_reads_only_the_requested_tile(tmp_path, monkeypatch):
    path = write(tmp_path / "a.ldmr")
    with ContainerReader(path) as r:
        entry = r.entries[2]
        reads = []
        real_read = r._file.read
        monkeypatch.setattr(r._file, "read", lambda n=-1: reads.append(n) or real_read(n))
        assert r.read_tile(2) == TILES[2]
        assert reads == [entry.length]


def test_offsets_beyond_4_gib(tmp_path):
    path = tmp_path / "big.ldmr"
    with ContainerWriter(path, 2, version=(2, 0)) as w:
        w.add_tile(0, b"near")
        w._file.seek(5 << 30)  # a sparse hole: the next tile lands past 4 GiB
        w._offset = 5 << 30
        w.add_tile(1, b"far away")
        w.finish(HEADER)
    with ContainerReader(path) as r:
        assert r.entries[1].offset == 5 << 30
        assert r.read_tile(1) == b"far away"
        assert r.header == HEADER


def test_wrong_magic(tmp_path):
    path = tmp_path / "x.ldmr"
    path.write_bytes(b"II*\x00 this is a tiff" + bytes(100))
    with pytest.raises(NotLdmrFileError, match="not an .ldmr file"):
        ContainerReader(path)


def test_unsupported_version(tmp_path):
    path = write(tmp_path / "a.ldmr")
    data = bytearray(path.read_bytes())
    data[8:10] = struct.pack("<H", 9)
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedVersionError, match="version 9"):
        ContainerReader(path)


@pytest.mark.parametrize("where", ["preamble", "tile", "header", "index"])
def test_truncation_is_named(tmp_path, where):
    path = write(tmp_path / "a.ldmr")
    with ContainerReader(path) as r:
        cut = {"preamble": 20, "tile": r.entries[0].offset + 3,
               "header": r.size - len(TILES) * 20 - 30, "index": r.size - 5}[where]
    os.truncate(path, cut)
    with pytest.raises(DamagedFileError, match="truncated|beyond the end"):
        ContainerReader(path)


def test_unfinished_file_is_named(tmp_path):
    path = tmp_path / "a.ldmr"
    w = ContainerWriter(path, 1, version=(2, 0))
    w.add_tile(0, b"x")
    w.close()
    with pytest.raises(DamagedFileError):
        ContainerReader(path)


def test_flipped_byte_in_a_tile_names_the_tile(tmp_path):
    path = write(tmp_path / "a.ldmr")
    with ContainerReader(path) as r:
        offset = r.entries[2].offset
    data = bytearray(path.read_bytes())
    data[offset + 7] ^= 0x10
    path.write_bytes(bytes(data))
    with ContainerReader(path) as r:
        assert r.read_tile(0) == TILES[0]
        with pytest.raises(DamagedTileError, match="damaged tile 2") as info:
            r.read_tile(2)
        assert info.value.index == 2


@pytest.mark.parametrize("region", ["header", "index"])
def test_flipped_byte_in_header_or_index_is_named(tmp_path, region):
    path = write(tmp_path / "a.ldmr")
    with ContainerReader(path) as r:
        pos = r.size - 10 if region == "index" else r.size - len(TILES) * 20 - 10
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedFileError, match=region):
        ContainerReader(path)


def test_hostile_preamble_is_bounded(tmp_path):
    """A preamble claiming 10^12 tiles and a header at 2^60 fails fast, without reading or allocating."""
    path = tmp_path / "hostile.ldmr"
    body = MAGIC + struct.pack("<HHIQQQQ", 1, 0, 0, 1 << 60, 1 << 30, 1 << 60, 10**12)
    path.write_bytes((body + struct.pack("<I", zlib.crc32(body))).ljust(PREAMBLE_SIZE, b"\0") + bytes(64))
    with pytest.raises(DamagedFileError, match="beyond the end"):
        ContainerReader(path)


@pytest.mark.parametrize("valid", [
    np.ones((3, 5, 7), bool),
    np.zeros((3, 5, 7), bool),
    np.broadcast_to(np.eye(5, 7, dtype=bool), (3, 5, 7)),
    np.random.default_rng(0).random((3, 5, 7)) > 0.5,
])
def test_tile_payload_round_trip(valid):
    groups = [[b"abc", b"", b"\x01" * 300], [b"z"]]
    back = TilePayload.decode(TilePayload(valid, groups).encode(), 3, (5, 7))
    np.testing.assert_array_equal(back.valid, valid)
    assert back.groups == groups


def test_header_that_inflates_beyond_the_limit_is_refused(tmp_path, monkeypatch):
    """A zlib bomb in the header (65 MiB of JSON from about 65 KB) is refused without inflating it all."""
    import ldmrsic_core.format.container as container

    monkeypatch.setattr(container.json, "dumps", lambda *a, **k: '"' + " " * (65 << 20) + '"')
    path = write(tmp_path / "bomb.ldmr")
    monkeypatch.undo()
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DamagedFileError, match="unreadable header"):
        ContainerReader(path)


def test_collar_masks_use_the_transition_coding_and_round_trip():
    from ldmrsic_core.format.payload import BAND_RUNS, PIXEL_RUNS

    rows, cols = np.mgrid[0:300, 0:280]
    footprint = (rows + cols > 120) & (rows - cols < 150) & (rows + cols < 480)  # a rotated-scene collar
    for valid in (np.broadcast_to(footprint, (3, 300, 280)), np.stack([footprint, footprint, footprint & (cols > 9)])):
        data = TilePayload(np.asarray(valid), []).encode()
        assert data[0] in (PIXEL_RUNS, BAND_RUNS)
        assert len(data) < 300 * 280 / 8 / 20  # far below a bit per pixel
        np.testing.assert_array_equal(TilePayload.decode(data, 3, (300, 280)).valid, valid)


@pytest.mark.parametrize("raw", [b"\x05\x00", b"\x02\x04\x01", b"\x01\x7f", b"\x00", b"\x00\x00\x00"])
def test_malformed_transition_masks_are_payload_errors(raw):
    from ldmrsic_core.format.payload import PIXEL_RUNS, PayloadError

    packed = zlib.compress(raw)
    data = bytes([PIXEL_RUNS, len(packed)]) + packed + b"\x00"
    with pytest.raises(PayloadError):
        TilePayload.decode(data, 1, (2, 4))
