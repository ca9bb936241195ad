"""Damaged, hostile and untrusted inputs through the real command line: what each gives, how
long it takes and how much memory the process peaks at.

Every case runs ``ldmrsic-geo`` in a fresh process (timeout 300 s) on a copy of one real file
(the bundled codec on ``tests/data/naip_uint8_4band.tif``, 64-pixel tiles, rewritten as format
2.0: the damage below is to that format's preamble, JSON header and index), and prints a
Markdown table: case, exit status, the error line (or the result line), seconds, peak RSS.

With ``--bad-input`` it runs instead the bad-input matrix of every command — the cases of
``tests/test_bad_input.py`` and ``tests/test_cli.py`` (with the bundled models instead of the
tests' tiny random ones), a full disk, and SIGINT/SIGTERM during compress and decompress — and
adds whether every file in the folder was left as it was and no partial output remains.
Examples::

    python benchmarks/reliability.py --work scratch/reliability
    python benchmarks/reliability.py --work scratch/reliability --bad-input
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fuzz"))
from harness import reseal  # noqa: E402
from ldmrsic_core.format.container import PREAMBLE_SIZE, ContainerReader  # noqa: E402
from ldmrsic_core.format.header import Header  # noqa: E402
from ldmrsic_core.format.payload import TilePayload  # noqa: E402

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


def as_format_2(path: Path, target: Path) -> None:
    """The same tiles and header in format 2.0, whose preamble, JSON header and index these cases
    damage (archives of that format must keep failing safely; format 3's trailer, header and index
    are damaged by tests/test_format3.py and the fuzzers)."""
    from ldmrsic_core.format.container import rewrite
    from ldmrsic_core.zoo.table import installed_names

    rewrite(path, target, (2, 0), installed_names())


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
    parser.add_argument("--bad-input", action="store_true", help="the bad-input matrix of every command")
    args = parser.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.bad_input:
        bad_input(work)
        return
    good, written = work / "good.ldmr", work / "written.ldmr"
    subprocess.run([*CLI, "compress", str(SCENE), "-o", str(written), "--tile", "64", "--overlap", "8"], check=True)
    as_format_2(written, good)
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


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _partial(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part"))


def bad_input(work: Path) -> None:
    """Each bad-input case in a fresh CLI process, with what it left behind."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_bad_input import CASES, FULL_DISK, ZERO_SIZE_VRT, _mount_small_tmpfs

    from conftest import DATA, write_raster

    model = "elic-small-ucm-1"
    d = work / "inputs"
    d.mkdir()
    shutil.copy(DATA / "rgb_uint8_nodata.tif", d / "scene.tif")
    (d / "notes.txt").write_text("not a raster")
    (d / "empty.ldmr").write_bytes(b"")
    subprocess.run([*CLI, "compress", str(d / "scene.tif"), "-o", str(d / "scene.ldmr"), "--tile", "128"], check=True)
    (d / "existing.tif").write_bytes(b"keep me")
    write_raster(d / "allnodata.tif", np.zeros((3, 64, 64), dtype="uint8"), nodata=0)
    (d / "zero.vrt").write_text(ZERO_SIZE_VRT)
    write_raster(d / "complex.tif", np.ones((1, 8, 8), dtype="complex64"))
    write_raster(d / "nocrs.tif", np.random.default_rng(0).integers(0, 255, (3, 64, 64), dtype="uint8"), crs=None)
    write_raster(d / "big.tif", np.random.default_rng(1).integers(0, 255, (3, 1024, 1024), dtype="uint8"))
    subprocess.run([*CLI, "compress", str(d / "big.tif"), "-o", str(d / "big.ldmr"), "--tile", "256"], check=True)

    cases = {name: [a.format(d=d, w=model) for a in args] for name, (args, _) in CASES.items()}
    cases.update({
        "compress missing": ["compress", f"{d}/missing.tif", "-o", f"{d}/o.ldmr"],
        "compress not a raster": ["compress", f"{d}/notes.txt", "-o", f"{d}/o.ldmr"],
        "compress complex dtype": ["compress", f"{d}/complex.tif", "-o", f"{d}/o.ldmr"],
        "compress folder missing": ["compress", f"{d}/scene.tif", "-o", f"{d}/no/such/o.ldmr"],
        "compress output exists": ["compress", f"{d}/scene.tif", "-o", f"{d}/scene.ldmr"],
        "compress output is input": ["compress", f"{d}/scene.tif", "-o", f"{d}/scene.tif", "--overwrite"],
        "compress without CRS (allowed; output removed after)": ["compress", f"{d}/nocrs.tif", "-o", f"{d}/nocrs.ldmr"],
        "compress quality 9": ["compress", f"{d}/scene.tif", "-o", f"{d}/o.ldmr", "-q", "9"],
        "info zero-byte file": ["info", f"{d}/empty.ldmr"],
    })
    print("One CLI process per case (seconds include starting Python and importing torch); 'files kept': every"
          " file in the inputs folder byte-identical afterwards and no .part anywhere.\n")
    print("| case | exit | message | files kept | seconds | peak RSS MB |")
    print("|---|---|---|---|---|---|")

    def row(name: str, code: int, line: str, kept: bool, seconds: float, rss: float) -> None:
        print(f"| {name} | {code} | {line.replace('|', '/')[:200]} | {'yes' if kept else 'NO'} | {seconds:.1f} | "
              f"{rss:.0f} |", flush=True)

    for name, args in cases.items():
        before = _snapshot(d)
        code, line, seconds, rss = run(args)
        (d / "nocrs.ldmr").unlink(missing_ok=True)
        row(name, code, line, _snapshot(d) == before and not _partial(d), seconds, rss)

    for name, args in FULL_DISK.items():
        full = work / "full"
        full.mkdir()
        if not _mount_small_tmpfs(full):
            print(f"| {name}: disk full | not run: mounting a 64 KiB tmpfs needs root | | | | |")
            continue
        try:
            code, line, seconds, rss = run([a.format(i=d, o=full, w=model) for a in args])
            row(f"{name}: disk full (64 KiB tmpfs)", code, line, not any(full.iterdir()), seconds, rss)
        finally:
            subprocess.run(["umount", str(full)], check=True)
            shutil.rmtree(full)

    for command, args in (("compress", ["compress", f"{d}/big.tif", "-o", f"{work}/out.ldmr", "--tile", "128"]),
                          ("decompress", ["decompress", f"{d}/big.ldmr", "-o", f"{work}/out.tif"])):
        for sig in (signal.SIGINT, signal.SIGTERM):
            start = time.perf_counter()
            proc = subprocess.Popen([*CLI, *args], stderr=subprocess.PIPE, text=True)
            while proc.poll() is None and not list(work.glob(".out.*.part")):
                time.sleep(0.02)
            seen = bool(list(work.glob(".out.*.part")))
            proc.send_signal(sig)
            err = proc.communicate(timeout=120)[1].strip().splitlines()
            left = [p.name for p in work.glob("*out*")]
            row(f"{sig.name} during {command} (partial output {'seen' if seen else 'NOT seen'} first)", proc.returncode,
                err[-1] if err else "", not left, time.perf_counter() - start, float("nan"))


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


if __name__ == "__main__":
    main()
