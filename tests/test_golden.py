"""Golden files: ``.ldmr`` files written by every released format version (1.1, 2.0, 3.0, 4.0 and the
current one, each by the code of its release: ``tests/expected/make_golden.py``) must keep
decoding to the pixels recorded for them, and the current encoder must keep writing the same bytes.

Bit-identity of pixels is promised on the CPUs they were recorded on (``pixels_sha256_on``: torch
build, vector unit and CPU model, as the float synthesis and enhancement round there; the first
record, ``pixels_sha256``, did not name its CPU). The key does not pin the rounding down entirely: on one
key (AMD family 25 model 17) the decodes of 5 files recorded on 2026-12-02 and seen on 2026-12-07 (another
machine, later code) are one step apart in 1–15 values, so a key may list each decode seen on it. Elsewhere
pixels must match within float rounding, and
the exact entropy decoding is checked on every machine by each tile's latent CRC. To record a
change to the current encoder on purpose: ``LDMRSIC_REGENERATE_EXPECTED=1 pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from golden import EXPECTED, VERSION_TEXT, cpu_key, decode_golden, file_sha256, load_pixels, platform_key
from ldmrsic_core.format.container import ContainerReader

RECORD = json.loads((EXPECTED / "golden.json").read_text())
REGENERATE = bool(os.environ.get("LDMRSIC_REGENERATE_EXPECTED"))


def test_every_released_format_has_golden_files():
    assert {entry["format"] for entry in RECORD.values()} == {"1.1", "2.0", "3.0", "4.0", "5.0", VERSION_TEXT}


# Every codec that has been the default, in order; the last is today's (issue 17 §4).
DEFAULTS_SO_FAR = ("elic-small-ucm-1", "elic-small-mix-3", "elic-small-mix-4", "elic-small-mix-5", "elic-small-mix-6",
                   "elic-small-mix-7", "elic-small-mix-8", "elic-small-mix-11", "elic-small-mix-13",
                   "elic-small-mix-14", "elic-small-mix-15", "elic-small-mix-16", "elic-small-mix-17",
                   "elic-small-mix-18", "elic-small-mix-19", "elic-small-mix-20",
                   "elic-small-mix-21", "elic-small-mix-22")
# Every codec that has been the default for the top rates (models.json top_defaults), in order; the last is today's.
TOP_DEFAULTS_SO_FAR = ("elic-small-hi-1", "elic-small-hi-2", "elic-small-hi-3", "elic-small-hi-4", "elic-small-hi-5",
                       "elic-small-hi-7", "elic-small-hi-8", "elic-small-hi-9", "elic-small-hi-10",
                       "elic-small-hi-11", "elic-small-hi-12", "elic-small-hi-13", "elic-small-hi-15",
                       "elic-small-hi-17", "elic-small-hi-18", "elic-small-hi-19",
                       "elic-small-hi-20", "elic-small-hi-21")


def test_every_earlier_default_has_a_golden_file():
    from ldmrsic_core.zoo.table import default_model, default_models

    assert default_model() == DEFAULTS_SO_FAR[-1], ("a new default: add it to DEFAULTS_SO_FAR and write a golden "
                                                    "file with the one it replaces (tests/expected/make_golden.py)")
    assert [name for _, name in default_models()[1:]] == list(TOP_DEFAULTS_SO_FAR[-1:]), (
        "a new default for the top rates: add it to TOP_DEFAULTS_SO_FAR and write a golden file with the one it "
        "replaces (tests/expected/make_golden.py)")
    written = {entry["options"].get("model") for entry in RECORD.values()}
    assert set(DEFAULTS_SO_FAR[:-1]) | set(TOP_DEFAULTS_SO_FAR[:-1]) <= written


@pytest.mark.parametrize("name", sorted(RECORD))
def test_golden_file_decodes_to_its_recorded_pixels(name):
    entry, path = RECORD[name], EXPECTED / "golden" / name
    assert file_sha256(path) == entry["file_sha256"], f"{name} was changed; golden files are never rewritten"
    with ContainerReader(path) as reader:
        assert "{}.{}".format(*reader.version) == entry["format"]
    pixels = decode_golden(path)  # raises on any latent CRC mismatch (formats 2 and later)
    exact = entry.get("pixels_sha256_on", {}).get(cpu_key())
    if exact is not None:  # a CPU the pixels were recorded on: bit-identical to one decode recorded there
        assert file_sha256(None, pixels) in ([exact] if isinstance(exact, str) else exact)
    else:  # another CPU rounds the float transforms differently: a few values by one step
        reference = load_pixels(path.with_suffix(".npz")).astype(np.int64)
        difference = np.abs(pixels.astype(np.int64) - reference)
        assert difference.mean() < 0.05 and np.quantile(difference, 0.999) <= 2


@pytest.fixture(scope="module")
def regenerated():
    if REGENERATE:
        subprocess.run([sys.executable, str(EXPECTED / "make_golden.py"), "--current"], check=True)
    return REGENERATE


@pytest.mark.parametrize("name", sorted(n for n, e in RECORD.items() if e["format"] == VERSION_TEXT))
def test_the_current_encoder_writes_the_recorded_bytes(name, tmp_path, regenerated):
    from conftest import DATA
    from ldmrsic_core import compress_raster

    entry = json.loads((EXPECTED / "golden.json").read_text())[name]
    if entry["platform"] != platform_key():
        pytest.skip(f"encoder bytes are recorded for {entry['platform']}, this is {platform_key()} (float analysis "
                    "transforms round per platform; decoding is checked above)")
    out = compress_raster(DATA / entry["source"], tmp_path / name, device="cpu", precision="fp32",
                          **entry["options"]).output
    assert file_sha256(out) == entry["file_sha256"], (
        "the encoder writes other bytes than recorded: if intended, run with LDMRSIC_REGENERATE_EXPECTED=1")
