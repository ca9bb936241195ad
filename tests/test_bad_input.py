"""Bad input for every command: one clear line on stderr, exit status 1, and every existing file intact."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import rasterio

from conftest import DATA, write_raster
from ldmrsic_cli.main import main

ZERO_SIZE_VRT = '<VRTDataset rasterXSize="0" rasterYSize="0"><VRTRasterBand dataType="Byte" band="1"/></VRTDataset>'


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.fixture
def workdir(tmp_path, tiny_weights):
    shutil.copy(DATA / "rgb_uint8_nodata.tif", tmp_path / "scene.tif")
    (tmp_path / "notes.txt").write_text("not a raster")
    (tmp_path / "empty.ldmr").write_bytes(b"")
    assert main(["--quiet", "compress", str(tmp_path / "scene.tif"), "-o", str(tmp_path / "scene.ldmr"),
                 "--model", str(tiny_weights), "--tile", "128"]) == 0
    (tmp_path / "existing.tif").write_bytes(b"keep me")
    write_raster(tmp_path / "allnodata.tif", np.zeros((3, 64, 64), dtype="uint8"), nodata=0)
    (tmp_path / "zero.vrt").write_text(ZERO_SIZE_VRT)
    return tmp_path


CASES = {
    "decompress missing": (["decompress", "{d}/missing.ldmr", "-o", "{d}/o.tif"], "missing.ldmr does not exist"),
    "decompress not ldmr": (["decompress", "{d}/notes.txt", "-o", "{d}/o.tif"], "not an .ldmr file"),
    "decompress empty": (["decompress", "{d}/empty.ldmr", "-o", "{d}/o.tif"], "not an .ldmr file"),
    "decompress output exists": (["decompress", "{d}/scene.ldmr", "-o", "{d}/existing.tif", "--model", "{w}"],
                                 "exists"),
    "decompress output is input": (["decompress", "{d}/scene.ldmr", "-o", "{d}/scene.ldmr", "--model", "{w}",
                                    "--overwrite"], "input"),
    "decompress folder missing": (["decompress", "{d}/scene.ldmr", "-o", "{d}/no/such/o.tif", "--model", "{w}"],
                                  "folder"),
    "info missing": (["info", "{d}/missing.ldmr"], "No such file or directory"),
    "info not ldmr": (["info", "{d}/notes.txt"], "not an .ldmr file"),
    "tile missing": (["tile", "{d}/missing.tif", "--out", "{d}/tiles"], "does not exist"),
    "tile not raster": (["tile", "{d}/notes.txt", "--out", "{d}/tiles"], "not a raster"),
    "train missing tiles": (["train", "--tiles", "{d}/no-tiles", "--out", "{d}/run", "--config", "elic-tiny"],
                            "not a folder"),
    "enhance not raster": (["enhance", "{d}/notes.txt", "-o", "{d}/e.tif", "--source-bpp", "0.2"], "not a raster"),
    "enhance with a codec as enhancer": (["enhance", "{d}/scene.tif", "-o", "{d}/e.tif", "--enhancer", "{w}"],
                                         "is a codec, not an enhancement model"),
    "enhance output is input": (["enhance", "{d}/scene.tif", "-o", "{d}/scene.tif", "--overwrite"], "input"),
    "eval missing": (["eval", "{d}/missing.tif", "--out", "{d}/report", "--codecs", "jpeg2000"], "does not exist"),
    "eval unknown codec": (["eval", "{d}/scene.tif", "--out", "{d}/report", "--codecs", "bpg"], "unknown codec"),
    # Rasters with nothing in them: zero size (GDAL refuses to open it), every pixel nodata.
    "compress zero size": (["compress", "{d}/zero.vrt", "-o", "{d}/z.ldmr", "--model", "{w}"], "not a raster"),
    "tile zero size": (["tile", "{d}/zero.vrt", "--out", "{d}/tiles"], "not a raster"),
    "enhance zero size": (["enhance", "{d}/zero.vrt", "-o", "{d}/e.tif", "--source-bpp", "0.2"], "not a raster"),
    "eval zero size": (["eval", "{d}/zero.vrt", "--out", "{d}/report", "--codecs", "jpeg2000"], "not a raster"),
    "compress all nodata": (["compress", "{d}/allnodata.tif", "-o", "{d}/a.ldmr", "--model", "{w}"],
                            "no valid pixel"),
    "tile all nodata": (["tile", "{d}/allnodata.tif", "--out", "{d}/tiles"], "nothing was written"),
    "enhance all nodata": (["enhance", "{d}/allnodata.tif", "-o", "{d}/e.tif", "--source-bpp", "0.2"],
                           "no valid pixel"),
    "eval all nodata": (["eval", "{d}/allnodata.tif", "--out", "{d}/report", "--codecs", "jpeg2000"],
                        "no valid pixel"),
    # /proc takes no new files, for root too (a chmod'ed folder does not stop root).
    "compress unwritable folder": (["compress", "{d}/scene.tif", "-o", "/proc/x.ldmr", "--model", "{w}"],
                                   "not writable"),
    "decompress unwritable folder": (["decompress", "{d}/scene.ldmr", "-o", "/proc/x.tif", "--model", "{w}"],
                                     "not writable"),
    "enhance unwritable folder": (["enhance", "{d}/scene.tif", "-o", "/proc/x.tif", "--source-bpp", "0.2"],
                                  "not writable"),
    "tile unwritable folder": (["tile", "{d}/scene.tif", "--out", "/proc/tiles"], "not writable"),
    "eval unwritable folder": (["eval", "{d}/scene.tif", "--out", "/proc/report", "--codecs", "jpeg2000"],
                               "not writable"),
    "train unwritable folder": (["train", "--tiles", "{d}", "--out", "/proc/run", "--config", "elic-tiny"],
                                "not writable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_line_and_keeps_files(case, workdir, tiny_weights, capsys):
    args, message = CASES[case]
    before = _snapshot(workdir)
    capsys.readouterr()
    code = main(["--quiet", *(a.format(d=workdir, w=tiny_weights) for a in args)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert _snapshot(workdir) == before
    assert not any(p.name.endswith(".part") for p in workdir.rglob("*"))


def test_an_all_nodata_raster_is_stored_when_asked(workdir, tiny_weights):
    packed, restored = workdir / "a.ldmr", workdir / "a.tif"
    assert main(["--quiet", "compress", str(workdir / "allnodata.tif"), "-o", str(packed), "--model",
                 str(tiny_weights), "--allow-empty"]) == 0
    assert main(["--quiet", "decompress", str(packed), "-o", str(restored), "--model", str(tiny_weights)]) == 0
    with rasterio.open(restored) as out:
        assert out.nodata == 0 and not out.read().any()


def _mount_small_tmpfs(folder) -> bool:
    """A 64 KiB tmpfs: a real full disk (needs root and mount rights, which CI has)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def _limit_file_size():
    """Without mount rights: files may not grow past 64 KiB (EFBIG instead of ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory, tiny_weights):
    folder = tmp_path_factory.mktemp("big")
    scene = write_raster(folder / "big.tif", np.random.default_rng(1).integers(0, 255, (3, 1024, 1024), dtype="uint8"))
    from ldmrsic_core import compress_raster

    compress_raster(scene, folder / "big.ldmr", model=tiny_weights, tile=256, overlap=16, enhance=False)
    return folder


FULL_DISK = {
    "compress": ["compress", "{i}/big.tif", "-o", "{o}/x.ldmr", "--model", "{w}", "-q", "5"],
    "decompress": ["decompress", "{i}/big.ldmr", "-o", "{o}/x.tif", "--model", "{w}"],
    "decompress --cog": ["decompress", "{i}/big.ldmr", "-o", "{o}/x.tif", "--model", "{w}", "--cog"],
    "enhance": ["enhance", "{i}/big.tif", "-o", "{o}/x.tif", "--source-bpp", "0.2"],
    "tile": ["tile", "{i}/big.tif", "--out", "{o}/tiles", "--size", "256"],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", list(FULL_DISK))
def test_a_full_disk_gives_one_line_and_leaves_nothing(command, big_inputs, tiny_weights, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    mounted = _mount_small_tmpfs(full)
    try:
        args = [a.format(i=big_inputs, o=full, w=tiny_weights) for a in FULL_DISK[command]]
        proc = subprocess.run([sys.executable, "-m", "ldmrsic_cli", "--quiet", *args], capture_output=True,
                              text=True, timeout=600, preexec_fn=None if mounted else _limit_file_size)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ldmrsic-geo:")]
        assert proc.returncode == 1, proc.stderr
        assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert any(hint in errors[0] for hint in ("disk full", "free space")), errors[0]
        assert list(full.iterdir()) == [], "a partial output was left"
    finally:
        if mounted:
            subprocess.run(["umount", str(full)], check=True)
