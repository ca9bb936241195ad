"""Damaged, hostile and untrusted inputs through the real command line: what each gives, how
long it takes and how much memory the process peaks at.

Every case runs ``ldmrsic-geo`` in a fresh process (timeout 300 s) on a copy of one real file
(the bundled codec on ``tests/data/naip_uint8_4band.tif``, 64-pixel tiles), and prints a
Markdown table: case, exit status, the error line (or the result line), seconds, peak RSS.
The bad-input matrix of every command is in ``tests/test_bad_input.py`` (``pytest
--durations=0`` times it). Example::

    python benchmarks/reliability.py --work /tmp/reliability
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fuzz"))
from harness import reseal  # noqa: E402

from ldmrsic_core.container import MAGIC, PREAMBLE_SIZE, ContainerReader  # noqa: E402
from ldmrsic_core.header import Header  # noqa: E402
from ldmrsic_core.tile_payload import TilePayload  # noqa: E402

SCENE = ROOT / "tests" / "data" / "naip_uint8_4band.tif"
CLI = [sys.executable, "-m", "ldmrsic_cli", "--quiet"]
# The same CLI, printing its peak RSS last: VmHWM is the process's own (ru_maxrss after a fork and
# exec still counts the parent's memory).
MEASURED = [sys.executable, "-c", "import atexit, sys; atexit.register(lambda: print('VmHWM', "
            "open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr)); "
            "from ldmrsic_cli.main import run; run()", "--quiet"]
_PREAMBLE = struct.Struct("<8sHHIQQQQ")


def run(args: list[str]) -> tuple[int, str, float, float]:
    """(exit status, last stderr line, seconds, peak RSS in MB) of one CLI process."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([*MEASURED, *args], stdout=subprocess.DEVNULL, stderr=err, text=True)
        timer = threading.Timer(300, proc.kill)
        timer.start()
        code = proc.wait()
        timer.cancel()
        seconds = time.perf_counter() - start
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.strip()]
    peak = [float(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM ")]
    lines = [line for line in lines if not line.startswith("VmHWM ")]
    message = "TIMEOUT (hang)" if code == -9 else (lines[-1] if lines else "")
    return code, message, seconds, peak[0] if peak else float("nan")


def preamble(data: bytes) -> tuple:
    return _PREAMBLE.unpack_from(data)


def with_preamble(data: bytes, **fields: int) -> bytes:
    magic, major, minor, flags, h_off, h_len, i_off, count = preamble(data)
    values = {"major": major, "minor": minor, "h_off": h_off, "h_len": h_len, "i_off": i_off, "count": count}
    values.update(fields)
    body = _PREAMBLE.pack(magic, values["major"], values["minor"], flags, values["h_off"], values["h_len"],
                          values["i_off"], values["count"])
    return (body + struct.pack("<I", zlib.crc32(body))).ljust(PREAMBLE_SIZE, b"\0") + data[PREAMBLE_SIZE:]


def with_header(data: bytes, header: dict, level: int = 9) -> bytes:
    """The same tiles and index behind a new header (offsets and CRCs rewritten)."""
    _, _, _, _, h_off, h_len, i_off, count = preamble(data)
    index = data[i_off:i_off + 20 * count + 4]
    packed = zlib.compress(json.dumps(header).encode(), level)
    body = data[:h_off] + packed + struct.pack("<I", zlib.crc32(packed))
    new_index_offset = len(body)
    return with_preamble(body + index, h_len=len(packed), i_off=new_index_offset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (emptied)")
    args = parser.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    good = work / "good.ldmr"
    subprocess.run([*CLI, "compress", str(SCENE), "-o", str(good), "--tile", "64", "--overlap", "8"], check=True)
    data = good.read_bytes()
    with ContainerReader(good) as reader:
        entries, header_json = reader.entries, reader.header
        header = Header.from_json(header_json)
    _, _, _, _, h_off, h_len, i_off, count = preamble(data)
    cases: list[tuple[str, bytes | None, list[str]]] = []

    def case(name: str, content: bytes | None, *extra: str) -> None:
        """Decompress ``content`` (as case.ldmr) with ``extra`` arguments; None: run ``extra`` alone."""
        cases.append((name, content, list(extra)))

    case("intact file", data)
    case("truncated in the preamble", data[:40])
    case("truncated in a tile (header and index lost)", data[:entries[1].offset + 5])
    case("truncated in the header", data[:h_off + h_len // 2])
    case("truncated in the index", data[:i_off + 30])
    case("wrong magic", b"II*\0" + data[4:])
    case("format version 9.0", with_preamble(data, major=9))
    case("preamble declares 10^12 tiles", with_preamble(data, count=10**12))
    case("header offset 2^60", with_preamble(data, h_off=1 << 60))
    huge = dict(header_json, extra={"x": "a" * 10**9})
    case("header with a 10^9-character JSON string (1 MB compressed)", with_header(data, huge, level=1))
    del huge
    case("tile index pointing past the end (CRCs resealed)",
         reseal(data[:i_off] + struct.pack("<QQI", 1 << 60, 1 << 40, 0) + data[i_off + 20:]))
    flipped = bytearray(data)
    flipped[entries[3].offset + entries[3].length // 2] ^= 0x04
    case("one bit flipped in tile 3", bytes(flipped))
    case("one bit flipped in tile 3, --allow-damaged", bytes(flipped), "--allow-damaged")
    rng = random.Random(7)
    for i in range(5):
        flips = bytearray(data)
        for _ in range(8):
            flips[rng.randrange(len(flips))] ^= 1 << rng.randrange(8)
        case(f"8 random bit flips (#{i + 1}), --allow-damaged", bytes(flips), "--allow-damaged")
    payload = TilePayload.decode(data[entries[5].offset:entries[5].offset + entries[5].length],
                                 header.raster.count, header.plan.owned(5).shape, checksummed=True)
    wrong = TilePayload(payload.valid, payload.groups, tuple(c ^ 1 for c in payload.checksums)).encode()
    mismatch = reseal(data[:entries[5].offset] + wrong + data[entries[5].offset + entries[5].length:])
    case("latent checksum of tile 5 differs (CRCs resealed)", mismatch)
    case("latent checksum of tile 5 differs, --allow-damaged", mismatch, "--allow-damaged")

    other = work / "other.pt"
    evil = work / "evil.pt"
    marker = work / "pwned"
    subprocess.run([*CLI, "models", "init", "elic-tiny", "-o", str(other)], check=True, capture_output=True)
    torch.save({"format": "ldmrsic-weights", "version": 1, "payload": _Evil(str(marker))}, evil)
    case("wrong weights (--model another codec)", data, "--model", str(other))
    case("decompress with a weights file that runs code when unpickled", data, "--model", str(evil))
    case("compress with that weights file (no recorded hash to check first)", None,
         "compress", str(SCENE), "-o", str(work / "x.ldmr"), "--model", str(evil))

    print(f"file: {good.name}, {len(data)} bytes, {count} tiles; CLI process per case (imports torch: ~2 s)\n")
    print("| case | exit | message | seconds | peak RSS MB |")
    print("|---|---|---|---|---|")
    for name, content, extra in cases:
        out = work / "out.tif"
        out.unlink(missing_ok=True)
        if content is None:
            code, line, seconds, rss = run(extra)
        else:
            path = work / "case.ldmr"
            path.write_bytes(content)
            code, line, seconds, rss = run(["decompress", str(path), "-o", str(out), *extra])
        left = sorted(p.name for p in work.iterdir() if p.name.startswith(".") or p.suffix == ".part")
        if left:
            line += f" [LEFT BEHIND: {left}]"
        if str(evil) in extra:
            line = ("[CODE RAN] " if marker.exists() else "[code did not run] ") + line
        print(f"| {name} | {code} | {line.replace('|', '/')[:220]} | {seconds:.1f} | {rss:.0f} |")


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


if __name__ == "__main__":
    main()
