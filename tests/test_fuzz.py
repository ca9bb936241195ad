"""Fuzzing the container reader (bounded, in the suite): mutated real .ldmr files must either
read or fail with a named error — never another exception, a hang or unbounded memory.

The separate coverage-guided fuzzer is ``fuzz/fuzz_container.py`` (atheris). ``tests/data/fuzz/``
keeps inputs from its corpus that reach past the checksums into the header and payload parsers
(it has found no crash so far), and any crash it finds goes there too; all are replayed here.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA
from ldmrsic_core import compress_raster
from ldmrsic_core.errors import LdmrError
from ldmrsic_core.format.payload import PayloadError

CORPUS = DATA / "fuzz"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))
from harness import read_everything, reseal  # noqa: E402


@pytest.fixture(scope="module")
def real_file(tmp_path_factory, tiny_weights) -> bytes:
    path = tmp_path_factory.mktemp("fuzz") / "x.ldmr"
    compress_raster(DATA / "rgb_uint8_nodata.tif", path, model=tiny_weights, tile=64, overlap=8, device="cpu",
                    enhance=False)
    read_everything(path)
    return path.read_bytes()


def _check(data: bytes, tmp_path: Path) -> None:
    """As it is, and with its CRCs recomputed (so the header and payload parsers see the damage)."""
    path = tmp_path / "m.ldmr"
    for candidate in (data, reseal(data)):
        path.write_bytes(candidate)
        try:
            read_everything(path)
        except (LdmrError, PayloadError):
            pass


mutation = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), st.integers(0, 10**9)),
    st.tuples(st.just("field"), st.tuples(st.sampled_from([8, 10, 12, 16, 24, 32, 40]),
                                          st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**60, 2**64 - 1]))),
    st.tuples(st.just("insert"), st.tuples(st.integers(0, 10**9), st.binary(min_size=1, max_size=64))),
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation)
def test_mutated_files_read_or_fail_with_a_named_error(real_file, tmp_path, change):
    kind, arg = change
    data = bytearray(real_file)
    if kind == "flip":
        for position, xor in arg:
            data[position % len(data)] ^= xor
    elif kind == "truncate":
        data = data[: arg % len(data)]
    elif kind == "field":
        offset, value = arg
        size = 2 if offset in (8, 10) else 4 if offset == 12 else 8
        data[offset:offset + size] = (value % (1 << (8 * size))).to_bytes(size, "little")
        # re-seal the preamble's CRC so the reader has to check the fields themselves
        import zlib

        data[48:52] = struct.pack("<I", zlib.crc32(bytes(data[:48])))
    else:
        position, blob = arg
        position %= len(data)
        data[position:position] = blob
    _check(bytes(data), tmp_path)


@pytest.mark.parametrize("case", sorted(p.name for p in CORPUS.glob("*")))
def test_kept_fuzzer_inputs_read_or_fail_with_a_named_error(case, tmp_path):
    _check((CORPUS / case).read_bytes(), tmp_path)
