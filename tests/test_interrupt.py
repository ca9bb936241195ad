"""SIGINT and SIGTERM during compress or decompress leave no partial output (real processes)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import write_raster
from ldmrsic_core import compress_raster

CLI = [sys.executable, "-c", "from ldmrsic_cli.main import run; run()", "--quiet"]
TILING = ["--tile", "64", "--overlap", "32"]  # many small tiles: the work outlasts the signal


def _wait_for_partial_output(folder, proc: subprocess.Popen, timeout: float = 120) -> bool:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if list(folder.glob(".out.*.part")):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def scene(tmp_path_factory, tiny_weights):
    """An 8-band int16 scene and its .ldmr, in a folder of their own."""
    folder = tmp_path_factory.mktemp("scene")
    path = write_raster(folder / "scene.tif",
                        np.random.default_rng(0).integers(-500, 3000, (8, 256, 256)).astype("int16"))
    compress_raster(path, folder / "scene.ldmr", model=tiny_weights, tile=64, overlap=32)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_signal_leaves_nothing_behind(tmp_path, tiny_weights, scene, sig, command):
    model = ["--model", str(tiny_weights)]
    if command == "compress":
        args = ["compress", str(scene), "-o", str(tmp_path / "out.ldmr"), *TILING, *model]
    else:
        args = ["decompress", str(scene.with_suffix(".ldmr")), "-o", str(tmp_path / "out.tif"), *model]
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.Popen([*CLI, *args], stderr=subprocess.PIPE, text=True)
    assert _wait_for_partial_output(tmp_path, proc), "the command never started writing"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err  # 130 for SIGINT, 143 for SIGTERM
    assert "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
