"""The QGIS plugin in real QGIS (3.22 from Debian), headless: processing.run on real GeoTIFFs,
the extent parameter, cancel, bad input, the external-interpreter mode and the zip install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

qgis_core = pytest.importorskip("qgis.core", reason="QGIS is not installed (apt-get install qgis python3-qgis)")

from conftest import DATA  # noqa: E402

pytestmark = pytest.mark.qgis
ROOT = Path(__file__).resolve().parent.parent
QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="module")
def processing():
    """A headless QgsApplication with Processing and the plugin's provider loaded from the checkout."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication.instance()
    if app is None:
        QgsApplication.setPrefixPath("/usr", True)
        app = QgsApplication([], False)
        app.initQgis()
    sys.path.insert(0, "/usr/share/qgis/python/plugins")
    sys.path.insert(0, str(ROOT))
    import processing as proc
    from processing.core.Processing import Processing

    Processing.initialize()
    import qgis_plugin

    plugin = qgis_plugin.classFactory(None)
    plugin.initProcessing()
    assert QgsApplication.processingRegistry().providerById("ldmrsic") is not None
    yield proc
    plugin.unload()
    assert QgsApplication.processingRegistry().providerById("ldmrsic") is None


def _layer(path):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(str(path), "x")
    assert layer.isValid(), path
    return layer


def test_algorithms_are_documented(processing):
    from qgis.core import QgsApplication

    provider = QgsApplication.processingRegistry().providerById("ldmrsic")
    names = sorted(a.id() for a in provider.algorithms())
    assert names == ["ldmrsic:compress", "ldmrsic:decompress", "ldmrsic:enhance", "ldmrsic:evaluate"]
    for algorithm in provider.algorithms():
        assert len(algorithm.shortHelpString()) > 80
        for parameter in algorithm.parameterDefinitions():
            assert parameter.help(), f"{algorithm.id()} {parameter.name()} has no help text"


def test_compress_then_decompress_a_real_geotiff(processing, tiny_weights, tmp_path):
    src = DATA / "rgb_uint8_nodata.tif"
    packed = tmp_path / "x.ldmr"
    out = processing.run("ldmrsic:compress", {"INPUT": str(src), "QUALITY": 2.0, "TILE": 128, "OVERLAP": 16,
                                              "MODEL": str(tiny_weights), "DEVICE": 1, "OUTPUT": str(packed)})
    assert out["OUTPUT"] == str(packed) and packed.stat().st_size > 0
    restored = tmp_path / "x.tif"
    processing.run("ldmrsic:decompress", {"INPUT": str(packed), "MODEL": str(tiny_weights), "DEVICE": 1,
                                          "OUTPUT": str(restored)})
    a, b = _layer(src), _layer(restored)
    assert b.crs() == a.crs() and b.extent() == a.extent()
    assert (b.width(), b.height(), b.bandCount()) == (a.width(), a.height(), a.bandCount())


def _in_process_and_external(processing, params, tmp_path, monkeypatch) -> list[bytes]:
    """The bytes ldmrsic:compress writes with ``params`` in QGIS's Python, then in an external one."""
    files = []
    for external in (False, True):
        if external:
            monkeypatch.setenv("LDMRSIC_GEO_PYTHON", sys.executable)
        packed = tmp_path / f"x{external}.ldmr"
        processing.run("ldmrsic:compress", {**params, "OUTPUT": str(packed)})
        files.append(packed.read_bytes())
    return files


def test_compress_to_a_target_in_process_and_external(processing, tiny_weights, tmp_path, monkeypatch):
    from qgis.core import QgsProcessingException

    src = DATA / "rgb_uint8_nodata.tif"
    params = {"INPUT": str(src), "TARGET": 2, "TARGET_VALUE": 12.0, "TILE": 128, "OVERLAP": 16,
              "MODEL": str(tiny_weights), "DEVICE": 1}
    sizes = [len(data) for data in _in_process_and_external(processing, params, tmp_path, monkeypatch)]
    raw = 200 * 150 * 3
    assert sizes[0] == sizes[1] and 0.8 < raw / sizes[0] / 12 < 1.25
    with pytest.raises(QgsProcessingException, match="out of this model's reach"):
        processing.run("ldmrsic:compress", {**params, "TARGET": 3, "TARGET_VALUE": 99.0,
                                            "OUTPUT": str(tmp_path / "y.ldmr")})
    with pytest.raises(QgsProcessingException, match="give a target value"):
        processing.run("ldmrsic:compress", {**params, "TARGET_VALUE": None, "OUTPUT": str(tmp_path / "y.ldmr")})
    assert not (tmp_path / "y.ldmr").exists()


def test_encoder_effort_in_process_and_external(processing, tiny_weights, tmp_path, monkeypatch):
    src = DATA / "rgb_uint8_nodata.tif"
    params = {"INPUT": str(src), "QUALITY": 4.0, "REFINE": 2, "TILE": 128, "OVERLAP": 16,
              "MODEL": str(tiny_weights), "DEVICE": 1}
    files = _in_process_and_external(processing, params, tmp_path, monkeypatch)
    plain = tmp_path / "plain.ldmr"
    processing.run("ldmrsic:compress", {**params, "REFINE": 0, "OUTPUT": str(plain)})
    assert files[0] == files[1] and files[0] != plain.read_bytes()


def test_value_curve_in_process_and_external(processing, tiny_weights, tmp_path, monkeypatch):
    from ldmrsic_core import read_header

    params = {"INPUT": str(DATA / "l8_uint16_1band.tif"), "QUALITY": 3.0, "VALUE_CURVE": 1, "TILE": 128,
              "MODEL": str(tiny_weights), "DEVICE": 1}
    files = _in_process_and_external(processing, params, tmp_path, monkeypatch)
    # The same bytes: the layer statistics QGIS keeps for the input (GDAL PAM, STATISTICS_* band tags) in its
    # own process are not carried into the file (compress drops statistics derived from the source's pixels).
    assert files[0] == files[1]
    assert read_header(tmp_path / "xFalse.ldmr").mappings[0].knots == ()  # linear
    fitted = tmp_path / "fitted.ldmr"
    processing.run("ldmrsic:compress", {**params, "VALUE_CURVE": 0, "OUTPUT": str(fitted)})
    assert read_header(fitted).mappings[0].knots  # the default: a fitted curve


def test_extent_decodes_only_that_region(processing, tiny_weights, tmp_path):
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsRectangle

    src = DATA / "rgb_uint8_nodata.tif"
    packed = tmp_path / "x.ldmr"
    processing.run("ldmrsic:compress", {"INPUT": str(src), "TILE": 64, "OVERLAP": 8, "MODEL": str(tiny_weights),
                                        "DEVICE": 1, "OUTPUT": str(packed)})
    full = _layer(src)
    e = full.extent()
    sub = QgsRectangle(e.xMinimum() + 0.25 * e.width(), e.yMinimum() + 0.25 * e.height(),
                       e.xMinimum() + 0.75 * e.width(), e.yMinimum() + 0.75 * e.height())
    # Given in WGS 84: the algorithm reprojects it to the file's CRS.
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    geo = QgsCoordinateTransform(full.crs(), wgs84, QgsProject.instance()).transformBoundingBox(sub)
    extent = f"{geo.xMinimum()},{geo.xMaximum()},{geo.yMinimum()},{geo.yMaximum()} [EPSG:4326]"
    restored = tmp_path / "part.tif"
    processing.run("ldmrsic:decompress", {"INPUT": str(packed), "EXTENT": extent, "MODEL": str(tiny_weights),
                                          "DEVICE": 1, "OUTPUT": str(restored)})
    part = _layer(restored)
    assert part.crs() == full.crs()
    assert full.extent().contains(part.extent()) and part.extent().contains(sub.buffered(-full.rasterUnitsPerPixelX()))
    assert part.width() < 0.8 * full.width() and part.height() < 0.8 * full.height()


class _CancelAfterFirstTile(qgis_core.QgsProcessingFeedback):
    def setProgress(self, progress):  # noqa: N802
        super().setProgress(progress)
        if progress > 0:
            self.cancel()


def _cancelled_leaves_nothing(processing, tiny_weights, tmp_path):
    from qgis.core import QgsProcessingException

    packed = tmp_path / "x.ldmr"
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.run("ldmrsic:compress", {"INPUT": str(DATA / "naip_uint8_4band.tif"), "TILE": 64, "OVERLAP": 0,
                                            "MODEL": str(tiny_weights), "DEVICE": 1, "OUTPUT": str(packed)},
                       feedback=_CancelAfterFirstTile())
    assert list(tmp_path.iterdir()) == []


def test_cancel_leaves_no_partial_file(processing, tiny_weights, tmp_path):
    _cancelled_leaves_nothing(processing, tiny_weights, tmp_path)


def test_bad_input_is_a_clear_processing_error(processing, tiny_weights, tmp_path):
    from qgis.core import QgsProcessingException

    text = tmp_path / "notes.ldmr"
    text.write_text("not an ldmr file")
    with pytest.raises(QgsProcessingException, match="not an .ldmr file"):
        processing.run("ldmrsic:decompress", {"INPUT": str(text), "MODEL": str(tiny_weights),
                                              "OUTPUT": str(tmp_path / "o.tif")})
    assert not (tmp_path / "o.tif").exists()
    with pytest.raises(QgsProcessingException, match="(?i)quality"):
        processing.run("ldmrsic:compress", {"INPUT": str(DATA / "rgb_uint8_nodata.tif"), "QUALITY": 9,
                                            "MODEL": str(tiny_weights), "OUTPUT": str(tmp_path / "q.ldmr")})


def test_external_interpreter_mode(processing, tiny_weights, tmp_path, monkeypatch):
    from qgis.core import QgsProcessingException

    monkeypatch.setenv("LDMRSIC_GEO_PYTHON", sys.executable)
    monkeypatch.setattr("qgis_plugin.backend.library_available", lambda: False)  # as if QGIS's Python lacked torch
    packed, restored = tmp_path / "x.ldmr", tmp_path / "x.tif"
    processing.run("ldmrsic:compress", {"INPUT": str(DATA / "l8_uint16_1band.tif"), "TILE": 64, "OVERLAP": 8,
                                        "MODEL": str(tiny_weights), "DEVICE": 1, "OUTPUT": str(packed)})
    processing.run("ldmrsic:decompress", {"INPUT": str(packed), "MODEL": str(tiny_weights), "DEVICE": 1,
                                          "OUTPUT": str(restored)})
    assert _layer(restored).width() == _layer(DATA / "l8_uint16_1band.tif").width()
    bad = tmp_path / "bad.ldmr"
    bad.write_bytes((DATA / "l8_uint16_1band.tif").read_bytes())
    with pytest.raises(QgsProcessingException, match="not an .ldmr file"):
        processing.run("ldmrsic:decompress", {"INPUT": str(bad), "OUTPUT": str(tmp_path / "b.tif")})
    assert not (tmp_path / "b.tif").exists()
    cancel_dir = tmp_path / "cancel"
    cancel_dir.mkdir()
    _cancelled_leaves_nothing(processing, tiny_weights, cancel_dir)
    monkeypatch.setenv("LDMRSIC_GEO_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(QgsProcessingException, match="cannot start the external Python"):
        processing.run("ldmrsic:compress", {"INPUT": str(DATA / "l8_uint16_1band.tif"),
                                            "OUTPUT": str(tmp_path / "c.ldmr")})


def test_plugin_zip_installs_into_a_fresh_profile(tmp_path):
    zip_path = Path(subprocess.run([sys.executable, str(ROOT / "scripts" / "plugin_zip.py"), "--out", str(tmp_path)],
                                   check=True, capture_output=True, text=True).stdout.strip())
    home = tmp_path / "home"
    plugins = home / ".local/share/QGIS/QGIS3/profiles/default/python/plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(plugins)
    assert (plugins / "ldmrsic_geo" / "metadata.txt").read_text() == (ROOT / "metadata.txt").read_text()
    # the defaults travel with the plugin, for a QGIS whose Python lacks the library
    assert (plugins / "ldmrsic_geo" / "_defaults.py").read_text() == (ROOT / "ldmrsic_core" / "defaults.py").read_text()
    env = {**os.environ, "HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    subprocess.run([QGIS_PROCESS, "plugins", "enable", "ldmrsic_geo"], env=env, check=True, capture_output=True,
                   timeout=300)
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, check=True, capture_output=True, text=True,
                             timeout=300).stdout
    for name in ("ldmrsic:compress", "ldmrsic:decompress", "ldmrsic:enhance", "ldmrsic:evaluate"):
        assert name in listing


def test_enhance_a_jpeg2000_raster(processing, tmp_path):
    import rasterio

    from conftest import tiny_enhancer

    weights = tiny_enhancer(tmp_path / "jp2-enh.pt", "jpeg2000", None)
    with rasterio.open(DATA / "rgb_uint8_nodata.tif") as src:
        profile, data = src.profile, src.read()
    jp2 = tmp_path / "scene.jp2"
    with rasterio.open(jp2, "w", driver="JP2OpenJPEG", width=profile["width"], height=profile["height"], count=3,
                       dtype="uint8", crs=profile["crs"], transform=profile["transform"], QUALITY="5",
                       REVERSIBLE="NO") as dst:
        dst.write(data)
    out = tmp_path / "enhanced.tif"
    processing.run("ldmrsic:enhance", {"INPUT": str(jp2), "ENHANCER": str(weights), "DEVICE": 1, "OUTPUT": str(out)})
    a, b = _layer(jp2), _layer(out)
    assert b.crs() == a.crs() and b.extent() == a.extent() and (b.width(), b.height()) == (a.width(), a.height())


def test_evaluate_writes_an_html_report(processing, tiny_weights, tmp_path):
    folder = tmp_path / "report"
    result = processing.run("ldmrsic:evaluate", {"INPUT": str(DATA / "naip_uint8_4band.tif"),
                                                 "CODECS": "ldmrsic-noenh,jpeg2000", "QUALITIES": "1,4",
                                                 "MODEL": str(tiny_weights), "DEVICE": 1, "OUTPUT": str(folder)})
    report = Path(result["REPORT"])
    assert report == folder / "report.html" and "BD-rate" in report.read_text()
    assert (folder / "psnr_bpp.png").stat().st_size > 0


def test_external_command_lines_come_from_the_same_table_as_the_calls(processing):
    from qgis_plugin import backend

    assert backend.command_line("decompress", dict(input="a.ldmr", output="b.tif", bbox=(1.0, 2.0, 3.5, 4.0),
                                                   model=None, device="cpu", cog=True, enhance=False,
                                                   overwrite=True)) == [
        "decompress", "a.ldmr", "-o", "b.tif", "--bbox", "1.0", "2.0", "3.5", "4.0", "--device", "cpu", "--cog",
        "--no-enhance", "--overwrite"]
    assert backend.command_line("eval", dict(inputs=[Path("x.tif")], out=Path("r"), codecs=("ldmrsic", "webp"),
                                             qualities=(1.0, 2.5), overwrite=True)) == [
        "eval", "x.tif", "--out", "r", "--codecs", "ldmrsic,webp", "--qualities", "1.0,2.5", "--overwrite"]
    import inspect

    import ldmrsic_core
    from ldmrsic_cli.main import cli

    for name, command in backend.COMMANDS.items():  # every keyword is the library's and every option the CLI's
        module, function = command.function.rsplit(".", 1)
        target = getattr(ldmrsic_core, function) if module == "ldmrsic_core" else \
            getattr(__import__(module, fromlist=[function]), function)
        assert set(command.options) | {command.positional} <= set(inspect.signature(target).parameters)
        known = {opt for param in cli.commands[name].params for opt in getattr(param, "opts", [])}
        options = {o.format(kind) for o in command.options.values() for kind in ("bpp", "ratio", "psnr")}
        assert options <= known, name
    assert backend.command_line("compress", dict(input="a.tif", output="b.ldmr", quality=None, target=("ratio", 20),
                                                 overwrite=True)) == [
        "compress", "a.tif", "-o", "b.ldmr", "--ratio", "20.0", "--overwrite"]
