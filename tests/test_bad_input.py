"""Bad input for every command: one clear line on stderr, exit status 1, and every existing file intact."""

from __future__ import annotations

import shutil

import pytest

from conftest import DATA
from ldmrsic_cli.main import main


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def workdir(tmp_path, tiny_weights):
    shutil.copy(DATA / "rgb_uint8_nodata.tif", tmp_path / "scene.tif")
    (tmp_path / "notes.txt").write_text("not a raster")
    (tmp_path / "empty.ldmr").write_bytes(b"")
    assert main(["--quiet", "compress", str(tmp_path / "scene.tif"), "-o", str(tmp_path / "scene.ldmr"),
                 "--model", str(tiny_weights), "--tile", "128"]) == 0
    (tmp_path / "existing.tif").write_bytes(b"keep me")
    return tmp_path


CASES = {
    "decompress missing": (["decompress", "{d}/missing.ldmr", "-o", "{d}/o.tif"], "No such file or directory"),
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
    "tile not raster": (["tile", "{d}/notes.txt", "--out", "{d}/tiles"], "not"),
    "train missing tiles": (["train", "--tiles", "{d}/no-tiles", "--out", "{d}/run", "--config", "elic-tiny"],
                            "not a folder"),
    "enhance not raster": (["enhance", "{d}/notes.txt", "-o", "{d}/e.tif", "--enhancer", "{w}"], "not"),
    "enhance output is input": (["enhance", "{d}/scene.tif", "-o", "{d}/scene.tif", "--overwrite"], "input"),
    "eval missing": (["eval", "{d}/missing.tif", "--out", "{d}/report", "--codecs", "jpeg2000"], "does not exist"),
    "eval unknown codec": (["eval", "{d}/scene.tif", "--out", "{d}/report", "--codecs", "bpg"], "unknown codec"),
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
