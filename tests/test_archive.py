"""Earlier models in the volumes of ldmrsic-geo-archive: one table of every model that shipped, the files
of retired ones outside the main wheel in volumes under PyPI's file limit, found through the entry point,
and one clear line without them."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from golden import EXPECTED
from ldmrsic_cli.main import main
from ldmrsic_core.errors import WeightsError
from ldmrsic_core.zoo.registry import load_codec
from ldmrsic_core.zoo.table import default_models, extra_model_dirs, named_weights, package_model_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import archive_models  # noqa: E402

PACKAGE = "ldmrsic-geo-archive"
VOLUMES = ROOT / "archive" / "volumes"
#: PyPI's default limit for one file.
PYPI_FILE_LIMIT = 100 * 2**20


def _table() -> dict:
    return json.loads((package_model_dir() / "models.json").read_text())


def _archived() -> dict[str, dict]:
    return {n: e for n, e in _table()["models"].items() if archive_models.is_archived(e)}


def _weights_folder(package: str) -> Path:
    return archive_models.weights_folder(archive_models.volume_number(package))


def test_the_table_the_wheel_exclusions_and_the_archive_agree():
    files = sorted(e["file"] for e in _archived().values())
    assert files, "no model is archived"
    exclusions = archive_models.EXCLUSIONS.search((ROOT / "pyproject.toml").read_text()).group(0)
    assert sorted(re.findall(r'"([^"]+\.pt)"', exclusions)) == files
    links = sorted(p.name for p in VOLUMES.glob("*/*/weights/*.pt"))
    assert links == files
    for entry in _archived().values():
        data = (_weights_folder(entry["package"]) / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_each_volume_fits_pypi_and_the_archive_package_installs_them_all():
    held = archive_models.volumes(_table())
    assert sorted(held) == list(range(1, len(held) + 1))
    assert sorted(p.name for p in VOLUMES.iterdir()) == sorted(str(n) for n in held)
    for number, names in held.items():
        files = [archive_models.weights_folder(number) / _table()["models"][n]["file"] for n in names]
        assert sum(f.stat().st_size for f in files) <= archive_models.VOLUME_LIMIT < PYPI_FILE_LIMIT
        project = (VOLUMES / str(number) / "pyproject.toml").read_text()
        assert f'name = "{PACKAGE}-{number}"' in project
    meta = (ROOT / "archive" / "pyproject.toml").read_text()
    listed = re.search(r"^dependencies = \[(.*)\]$", meta, re.M).group(1)
    assert re.findall(r'"(ldmrsic-geo-archive-\d+)"', listed) == [f"{PACKAGE}-{n}" for n in sorted(held)]


def test_volumes_fill_in_order_and_close_when_full():
    sizes = {"a": 60, "a-enh": 5, "b": 30, "c": 40, "huge": 200}
    table = {"models": {n: {"file": f"{n}.pt", "sha256": n} for n in sizes}}
    assert archive_models.choose_volume(table, ["a", "a-enh"], sizes, limit=100) == 1
    table["models"]["a"]["package"] = table["models"]["a-enh"]["package"] = f"{PACKAGE}-1"
    assert archive_models.choose_volume(table, ["b"], sizes, limit=100) == 1  # 95 of 100
    assert archive_models.choose_volume(table, ["c"], sizes, limit=100) == 2  # 105: the next volume
    with pytest.raises(ValueError, match="more than one volume"):
        archive_models.choose_volume(table, ["huge"], sizes, limit=100)


def test_no_default_and_no_kept_codecs_enhancer_is_archived():
    assert archive_models.refusal(_table(), []) is None
    defaults = {name for _, name in default_models()}
    assert not defaults & set(_archived())
    kept = {e["sha256"] for n, e in _table()["models"].items() if n not in _archived()}
    assert all(e.get("codec_sha256") not in kept for e in _archived().values())


def test_the_move_script_refuses_defaults_and_lone_codecs():
    table = {"default": "a", "top_defaults": [{"from_quality": 4.0, "model": "t"}], "models": {
        "a": {"file": "a.pt", "sha256": "aa"}, "t": {"file": "t.pt", "sha256": "tt"},
        "b": {"file": "b.pt", "sha256": "bb"},
        "b-enh": {"file": "b-enh.pt", "sha256": "be", "kind": "enhancer", "codec_sha256": "bb"}}}
    assert "a is a default codec" in archive_models.refusal(table, ["a"])
    assert "t is a default codec" in archive_models.refusal(table, ["t"])
    assert "enhancer b-enh would stay" in archive_models.refusal(table, ["b"])
    assert "not a bundled model" in archive_models.refusal(table, ["c"])
    table["models"]["b"]["package"] = f"{PACKAGE}-3"
    assert "archived already (ldmrsic-geo-archive-3)" in archive_models.refusal(table, ["b"])
    del table["models"]["b"]["package"]
    assert archive_models.refusal(table, ["b", "b-enh"]) is None


def test_the_volumes_are_found_through_their_entry_points():
    folders = [f.resolve() for f in extra_model_dirs()]
    for number in archive_models.volumes(_table()):
        assert archive_models.weights_folder(number).resolve() in folders


@pytest.fixture
def main_package_only(tmp_path, monkeypatch) -> Path:
    """The package's model folder as the main wheel installs it: the table, the kept files only."""
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "models.json").write_text((package_model_dir() / "models.json").read_text())
    for name, entry in _table()["models"].items():
        if name not in _archived():
            (folder / entry["file"]).symlink_to(package_model_dir() / entry["file"])
    monkeypatch.setattr("ldmrsic_core.zoo.table.package_model_dir", lambda: folder)
    return folder


def test_without_the_archive_an_earlier_model_is_one_clear_line(main_package_only, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("ldmrsic_core.zoo.table.extra_model_dirs", lambda: [])
    name = next(iter(_archived()))
    assert not named_weights()[name].installed
    with pytest.raises(WeightsError, match=f"model {name} .*pip install {_archived()[name]['package']}'"):
        load_codec(name)
    old = EXPECTED / "golden" / "rgb-elic-small-mix-4-v4.0.ldmr"  # written by a retired default
    assert main(["--quiet", "decompress", str(old), "-o", str(tmp_path / "x.tif")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    volume = _archived()["elic-small-mix-4"]["package"]
    assert len(err) == 1 and f"pip install {volume}'" in err[0] and "elic-small-mix-4" in err[0]
    assert not (tmp_path / "x.tif").exists()
    assert main(["models"]) == 0
    listing = json.loads(capsys.readouterr().out)["models"]
    assert listing[name]["package"] == _archived()[name]["package"] and listing[name]["installed"] is False
    kept = default_models()[0][1]
    assert listing[kept]["package"] == "ldmrsic-geo" and listing[kept]["installed"] is True


def test_with_the_archive_earlier_models_load_from_its_folder(main_package_only, monkeypatch):
    name = next(n for n, e in _archived().items() if e.get("kind", "codec") == "codec")
    archive = _weights_folder(_archived()[name]["package"])
    monkeypatch.setattr("ldmrsic_core.zoo.table.extra_model_dirs", lambda: [archive])
    assert named_weights()[name].path.parent == archive
    assert load_codec(name).sha256 == _archived()[name]["sha256"]


@pytest.mark.slow
def test_the_main_wheel_holds_only_the_kept_models_and_fits_pypi(tmp_path):
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools would add a stale build's files
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp_path), str(ROOT)], check=True, capture_output=True)
    finally:
        shutil.rmtree(ROOT / "build", ignore_errors=True)
    wheel = next(tmp_path.glob("ldmrsic_geo-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        shipped = {Path(n).name for n in z.namelist() if n.endswith(".pt")}
    kept = {e["file"] for n, e in _table()["models"].items() if n not in _archived()}
    assert shipped == kept
    assert wheel.stat().st_size < PYPI_FILE_LIMIT


@pytest.mark.slow
def test_the_last_volumes_wheel_holds_its_models_and_fits_pypi(tmp_path):
    number = max(archive_models.volumes(_table()))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(VOLUMES / str(number))], check=True, capture_output=True)
    shutil.rmtree(VOLUMES / str(number) / "build", ignore_errors=True)
    wheel = next(tmp_path.glob(f"ldmrsic_geo_archive_{number}-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        shipped = {Path(n).name for n in z.namelist() if n.endswith(".pt")}
    assert shipped == {e["file"] for e in _archived().values() if e["package"] == f"{PACKAGE}-{number}"}
    assert wheel.stat().st_size < PYPI_FILE_LIMIT


def test_an_entry_point_may_name_a_folder_function_or_a_package(monkeypatch, tmp_path):
    class Entry:
        def __init__(self, offered):
            self.offered = offered

        def load(self):
            if isinstance(self.offered, Exception):
                raise self.offered
            return self.offered

    package = type(sys)("volume")
    package.__file__ = str(tmp_path / "volume" / "__init__.py")
    entries = [Entry(lambda: tmp_path / "old"), Entry(package), Entry(ImportError("broken plug-in"))]
    monkeypatch.setattr("ldmrsic_core.zoo.table.metadata.entry_points", lambda group: entries)
    assert extra_model_dirs() == [tmp_path / "old", tmp_path / "volume" / "weights"]
