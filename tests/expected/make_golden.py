"""Write the golden ``.ldmr`` files of ``tests/expected/golden/`` and record what they decode to.

Each released format version writes the same two inputs with the bundled models, **with the
code of that release**: format 1.1 from commit 4edd9c1, format 2.0 from commit 57969df, format
3.0 from commit ab05636, format 4.0 from commit e05f9a9, format 5.0 from commit 9e7474d (each run
from a ``git worktree`` of that commit), the current format from this checkout. Files of format 5
and later are written with joined tiles (no overlap), earlier ones with 16 pixels of overlap; a 4.0 file without overlap
(``FORMAT_CASES``) checks that such files keep decoding tile by tile, as 4.x did. Each later
default codec (``PAST_DEFAULTS``) also has a file written by the release that shipped it as the
default, so that a new default never stops its files decoding. The old files
are written once and never regenerated: they are the promise that an archive written then still
decodes now. ``golden.json`` records, per file, the SHA-256 of its bytes and of the pixels the
decoder made of it when it was written, with the platform and CPU; the decoded pixels are kept too
(``*.npz``) so that another CPU is checked against them within float rounding. A file's record is
made when the file is written and kept after that (a later run only adds the decode of a CPU not
recorded yet).

    python tests/expected/make_golden.py            # add missing files and this CPU's decodes
    python tests/expected/make_golden.py --current  # rewrite the current version's files
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GOLDEN = HERE / "golden"
# The codec is named, not the default: the files stay those of the model they were written with
# when the default changes (elic-small-ucm-1 was the default for formats 1.1 to 3.0).
MODEL = {"model": "elic-small-ucm-1"}
INPUTS = {  # name: (fixture, compress options)
    "rgb-nodata": ("rgb_uint8_nodata.tif", {"quality": 3.0, "tile": 128, "overlap": 16, **MODEL}),
    "int16-8band": ("sr_int16_8band.tif", {"quality": 4.0, "tile": 64, "overlap": 16, "enhance": False, **MODEL}),
}
RELEASES = {"1.1": "4edd9c1", "2.0": "57969df", "3.0": "ab05636",  # format version: the commit whose code writes it
            "4.0": "e05f9a9", "5.0": "9e7474d"}


def for_version(options: dict, version: str) -> dict:
    """``options`` as a file of format ``version`` is written: joined tiles (no overlap) from format 5."""
    return {**options, "overlap": 0} if int(version.split(".")[0]) >= 5 else options


def _rgb_by(model: str, quality: float, version: str = "4.0") -> tuple[str, str, dict]:
    """The RGB fixture coded by ``model`` at ``quality`` in 128-pixel tiles, in format ``version``."""
    return "rgb_uint8_nodata.tif", version, for_version({"quality": quality, "tile": 128, "overlap": 16,
                                                         "model": model}, version)


# A file written by each later default codec (with its enhancer), by the last release that shipped it as the
# default: name: (fixture, format version, options). elic-small-ucm-1's are the INPUTS above.
PAST_DEFAULTS = {
    "rgb-elic-small-mix-3": _rgb_by("elic-small-mix-3", 2.0, "3.0"),
    "rgb-elic-small-mix-4": _rgb_by("elic-small-mix-4", 2.0),
    "rgb-elic-small-mix-5": _rgb_by("elic-small-mix-5", 2.0),
    "rgb-elic-small-mix-6": _rgb_by("elic-small-mix-6", 2.0),
    "rgb-elic-small-mix-7": _rgb_by("elic-small-mix-7", 2.0),  # the default of format 4.0's last release
    "rgb-elic-small-mix-8": _rgb_by("elic-small-mix-8", 2.0, "6.0"),
    "rgb-elic-small-mix-11": _rgb_by("elic-small-mix-11", 2.0, "6.0"),
    "rgb-elic-small-mix-13": _rgb_by("elic-small-mix-13", 2.0, "6.0"),
    "rgb-elic-small-mix-14": _rgb_by("elic-small-mix-14", 2.0, "6.0"),
    "rgb-elic-small-mix-15": _rgb_by("elic-small-mix-15", 2.0, "6.0"),
    "rgb-elic-small-mix-16": _rgb_by("elic-small-mix-16", 2.0, "6.0"),
    "rgb-elic-small-mix-17": _rgb_by("elic-small-mix-17", 2.0, "6.0"),
    "rgb-elic-small-mix-18": _rgb_by("elic-small-mix-18", 2.0, "6.0"),
    "rgb-elic-small-mix-19": _rgb_by("elic-small-mix-19", 2.0, "6.0"),
    "rgb-elic-small-mix-20": _rgb_by("elic-small-mix-20", 2.0, "6.0"),
    "rgb-elic-small-mix-21": _rgb_by("elic-small-mix-21", 2.0, "6.0"),
    "rgb-elic-small-hi-1": _rgb_by("elic-small-hi-1", 4.5),
    "rgb-elic-small-hi-2": _rgb_by("elic-small-hi-2", 4.5),
    "rgb-elic-small-hi-3": _rgb_by("elic-small-hi-3", 4.5),
    "rgb-elic-small-hi-4": _rgb_by("elic-small-hi-4", 4.5),  # the top default of format 4.0's last release
    "rgb-elic-small-hi-5": _rgb_by("elic-small-hi-5", 4.5, "5.0"),
    "rgb-elic-small-hi-7": _rgb_by("elic-small-hi-7", 4.5, "5.0"),  # the top default of format 5.0's last release
    "rgb-elic-small-hi-8": _rgb_by("elic-small-hi-8", 4.5, "6.0"),
    "rgb-elic-small-hi-9": _rgb_by("elic-small-hi-9", 4.5, "6.0"),
    "rgb-elic-small-hi-10": _rgb_by("elic-small-hi-10", 4.5, "6.0"),
    "rgb-elic-small-hi-11": _rgb_by("elic-small-hi-11", 4.5, "6.0"),
    "rgb-elic-small-hi-12": _rgb_by("elic-small-hi-12", 4.5, "6.0"),
    "rgb-elic-small-hi-13": _rgb_by("elic-small-hi-13", 4.5, "6.0"),
    "rgb-elic-small-hi-15": _rgb_by("elic-small-hi-15", 4.5, "6.0"),
    "rgb-elic-small-hi-17": _rgb_by("elic-small-hi-17", 4.5, "6.0"),
    "rgb-elic-small-hi-18": _rgb_by("elic-small-hi-18", 4.5, "6.0"),
    "rgb-elic-small-hi-19": _rgb_by("elic-small-hi-19", 4.5, "6.0"),
    "rgb-elic-small-hi-20": _rgb_by("elic-small-hi-20", 4.5, "6.0"),
}

# Files of a layout an earlier format wrote differently: name: (fixture, format version, options).
FORMAT_CASES = {
    "rgb-overlap0": ("rgb_uint8_nodata.tif", "4.0", {"quality": 3.0, "tile": 64, "overlap": 0, **MODEL}),
}

_WRITE = """
import inspect, json, sys
from ldmrsic_core import compress_raster
source, target, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if "precision" in inspect.signature(compress_raster).parameters:  # older releases computed in float32 only
    options["precision"] = "fp32"
compress_raster(source, target, device="cpu", **options)
"""


def write_with(commit: str | None, source: Path, target: Path, options: dict) -> None:
    """Compress with the code of ``commit`` (a worktree of it first on the path), or this checkout's."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as work:
        if commit:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", work, commit], check=True,
                           capture_output=True)
            env["PYTHONPATH"] = work
        try:
            subprocess.run([sys.executable, "-c", _WRITE, str(source), str(target), json.dumps(options)], env=env,
                           check=True, cwd=work if commit else ROOT)
        finally:
            if commit:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", work], check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--current", action="store_true", help="rewrite the current format's files")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from golden import VERSION_TEXT, cpu_key, decode_golden, file_sha256, platform_key, save_pixels

    GOLDEN.mkdir(exist_ok=True)
    versions = {**RELEASES, VERSION_TEXT: None}
    record_path = HERE / "golden.json"
    record: dict = json.loads(record_path.read_text()) if record_path.exists() else {}
    jobs = [(f"{name}-v{version}.ldmr", version, commit, fixture, for_version(options, version))
            for version, commit in versions.items() for name, (fixture, options) in INPUTS.items()]
    jobs += [(f"{name}-v{version}.ldmr", version, RELEASES.get(version), fixture, options)  # None: this checkout
             for name, (fixture, version, options) in {**PAST_DEFAULTS, **FORMAT_CASES}.items()]
    for file_name, version, commit, fixture, options in jobs:
        target = GOLDEN / file_name
        if not target.exists() or (commit is None and args.current):
            target.unlink(missing_ok=True)
            record.pop(target.name, None)
            write_with(commit, ROOT / "tests" / "data" / fixture, target, options)
        pixels = decode_golden(target)
        decoded = file_sha256(None, pixels)
        if target.name not in record:
            save_pixels(target.with_suffix(".npz"), pixels)
            record[target.name] = {"format": version, "written_by": commit or "this checkout",
                                   "source": fixture, "options": options, "file_sha256": file_sha256(target),
                                   "pixels_sha256": decoded, "platform": platform_key(),
                                   "pixels_sha256_on": {}}
        record[target.name]["pixels_sha256_on"].setdefault(cpu_key(), decoded)
        print(f"{target.name}: {target.stat().st_size} bytes, pixels {decoded[:16]}")
    record_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
