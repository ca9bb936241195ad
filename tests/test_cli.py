"""End to end through ``ldmrsic-geo`` on small real and synthetic GeoTIFFs (tiny untrained codec)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from conftest import DATA, write_raster
from ldmrsic_cli.main import main
from ldmrsic_core import Cancelled, compress_raster
from ldmrsic_core.format.container import ContainerReader

TILING = ["--tile", "64", "--overlap", "8"]


def run(*args) -> int:
    return main(["--quiet", *map(str, args)])


def roundtrip(src, tmp_path, weights, *extra):
    packed, restored = tmp_path / "x.ldmr", tmp_path / "x.tif"
    assert run("compress", src, "-o", packed, "--model", weights, *TILING, *extra) == 0
    assert run("decompress", packed, "-o", restored, "--model", weights) == 0
    return packed, restored


REAL = ["rgb_uint8_nodata.tif", "sr_int16_8band.tif", "l8_uint16_1band.tif",
        "spacenet_float64_4band.tif", "naip_uint8_4band.tif"]


@pytest.mark.parametrize("name", REAL)
def test_real_fixtures_keep_georeferencing_dtype_nodata_and_metadata(name, tmp_path, tiny_weights):
    src_path = DATA / name
    packed, restored = roundtrip(src_path, tmp_path, tiny_weights)
    with ContainerReader(packed) as r:
        mapping = r.header["bands"]["mapping"]
    with rasterio.open(src_path) as src, rasterio.open(restored) as out:
        assert (out.width, out.height, out.count) == (src.width, src.height, src.count)
        assert out.crs == src.crs
        assert out.transform == src.transform
        assert out.dtypes == src.dtypes
        assert out.nodata == src.nodata
        assert out.descriptions == src.descriptions
        assert out.colorinterp == src.colorinterp
        assert out.tags() == src.tags() | out.tags()  # every source tag is back
        np.testing.assert_array_equal(out.read_masks(), src.read_masks())
        valid = src.read_masks() > 0
        data, back = src.read(), out.read()
        # The codec is untrained, so only the value mapping is checked: each band stays in its stored range.
        for b, (lo, hi) in enumerate(mapping):
            assert lo <= back[b][valid[b]].min() and back[b][valid[b]].max() <= hi
            if src.dtypes[0] != "uint8":
                vmin, vmax = data[b][valid[b]].min(), data[b][valid[b]].max()
                assert (lo, hi) == (vmin, vmax if vmax > vmin else vmin + 1)


def test_band_tags_come_back_but_not_the_statistics_gdal_derived_from_the_source(tmp_path, tiny_weights):
    source = tmp_path / "stats.tif"
    with rasterio.open(DATA / "l8_uint16_1band.tif") as src:
        profile, data = src.profile, src.read()
    with rasterio.open(source, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(1, SENSOR_GAIN="1.5", STATISTICS_MEAN="123.4", STATISTICS_MAXIMUM="999")
    _, restored = roundtrip(source, tmp_path, tiny_weights)
    with rasterio.open(restored) as out:
        tags = out.tags(1)
    assert tags["SENSOR_GAIN"] == "1.5"
    assert "STATISTICS_MEAN" not in tags and "STATISTICS_MAXIMUM" not in tags  # they describe the source's pixels


def test_nan_holes_come_back_as_nan(tmp_path, tiny_weights, float_nan_raster):
    _, restored = roundtrip(float_nan_raster, tmp_path, tiny_weights)
    with rasterio.open(float_nan_raster) as src, rasterio.open(restored) as out:
        np.testing.assert_array_equal(np.isnan(out.read()), np.isnan(src.read()))
        assert out.nodata is None


def test_two_bands_and_no_crs(tmp_path, tiny_weights, two_band_raster, no_crs_raster, capsys):
    _, restored = roundtrip(two_band_raster, tmp_path, tiny_weights)
    with rasterio.open(restored) as out:
        assert out.count == 2 and out.dtypes == ("uint16", "uint16")
    (tmp_path / "no_crs").mkdir()
    _, restored = roundtrip(no_crs_raster, tmp_path / "no_crs", tiny_weights)
    assert "has no CRS" in capsys.readouterr().err
    with rasterio.open(restored) as out:
        assert out.crs is None


def test_band_selection(tmp_path, tiny_weights):
    _, restored = roundtrip(DATA / "sr_int16_8band.tif", tmp_path, tiny_weights, "--bands", "4,3,2")
    with rasterio.open(DATA / "sr_int16_8band.tif") as src, rasterio.open(restored) as out:
        assert out.count == 3
        assert out.descriptions == tuple(src.descriptions[i - 1] for i in (4, 3, 2))


def test_bbox_decode_equals_the_same_window_of_a_full_decode(tmp_path, tiny_weights):
    src_path = DATA / "rgb_uint8_nodata.tif"
    packed, full = roundtrip(src_path, tmp_path, tiny_weights)
    win = Window(37, 21, 90, 70)
    with rasterio.open(full) as f:
        bounds = rasterio.windows.bounds(win, f.transform)
        expected, expected_transform = f.read(window=win), f.window_transform(win)
    part = tmp_path / "part.tif"
    assert run("decompress", packed, "-o", part, "--model", tiny_weights, "--bbox", *bounds) == 0
    with rasterio.open(part) as p:
        assert p.transform == expected_transform
        np.testing.assert_array_equal(p.read(), expected)


def test_bbox_reads_only_the_tiles_it_touches(tmp_path, tiny_weights):
    from ldmrsic_core import decompress_raster

    packed, _ = roundtrip(DATA / "rgb_uint8_nodata.tif", tmp_path, tiny_weights)
    with ContainerReader(packed) as r:
        total = len(r.entries)
        transform = rasterio.transform.Affine(*r.header["raster"]["transform"])
    bounds = rasterio.windows.bounds(Window(0, 0, 10, 10), transform)
    result = decompress_raster(packed, tmp_path / "corner.tif", bbox=bounds, model=tiny_weights)
    assert result.tiles_read == 1 < total


def test_refuses_to_overwrite_and_to_write_over_the_input(tmp_path, tiny_weights, capsys):
    src = shutil.copy(DATA / "l8_uint16_1band.tif", tmp_path / "in.tif")
    assert run("compress", src, "--model", tiny_weights) == 0
    packed = tmp_path / "in.ldmr"  # the default output name
    before = packed.read_bytes()
    capsys.readouterr()
    assert run("compress", src, "--model", tiny_weights, "-q", "4") == 1
    err = capsys.readouterr().err
    assert "exists; pass --overwrite" in err and err.count("\n") == 1
    assert packed.read_bytes() == before
    assert run("compress", src, "-o", src, "--model", tiny_weights, "--overwrite") == 1
    assert "is the input file" in capsys.readouterr().err
    assert run("decompress", packed, "-o", packed, "--model", tiny_weights, "--overwrite") == 1
    assert packed.read_bytes() == before
    assert run("compress", src, "--model", tiny_weights, "-q", "4", "--overwrite") == 0
    assert packed.read_bytes() != before


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("text", "is not a raster GDAL can read"),
    ("complex", "complex"),
    ("folder", "output folder"),
    ("quality", "quality 9.0 is out of range"),
    ("tile", "tile size 100 is invalid"),
])
def test_bad_input_gives_one_line_and_leaves_nothing(case, message, tmp_path, tiny_weights, capsys):
    src = tmp_path / "in.tif"
    out = tmp_path / "out.ldmr"
    extra = []
    if case == "text":
        src.write_text("hello")
    elif case == "complex":
        write_raster(src, np.ones((1, 8, 8), dtype="complex64"))
    elif case != "missing":
        shutil.copy(DATA / "l8_uint16_1band.tif", src)
    if case == "folder":
        out = tmp_path / "no" / "such" / "out.ldmr"
    extra = {"quality": ["-q", "9"], "tile": ["--tile", "100"]}.get(case, [])
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run("compress", src, "-o", out, "--model", tiny_weights, *extra) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_missing_default_model_is_explained(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("ldmrsic_core.zoo.table.package_model_dir", lambda: tmp_path / "none")
    assert run("compress", DATA / "l8_uint16_1band.tif", "-o", tmp_path / "x.ldmr") == 1
    assert "no trained model is bundled" in capsys.readouterr().err


def test_wrong_weights_are_named(tmp_path, tiny_weights, other_weights, capsys):
    packed = tmp_path / "x.ldmr"
    assert run("compress", DATA / "l8_uint16_1band.tif", "-o", packed, "--model", tiny_weights) == 0
    capsys.readouterr()
    assert run("decompress", packed, "-o", tmp_path / "x.tif", "--model", other_weights) == 1
    err = capsys.readouterr().err
    assert "weights not available" in err and "tiny-test" in err
    assert not (tmp_path / "x.tif").exists()


def test_damaged_tile_is_named_and_allow_damaged_recovers_the_rest(tmp_path, tiny_weights, capsys):
    packed = tmp_path / "x.ldmr"
    assert run("compress", DATA / "naip_uint8_4band.tif", "-o", packed, "--model", tiny_weights, *TILING) == 0
    with ContainerReader(packed) as r:
        entry = r.entries[3]
        header = r.header
    data = bytearray(packed.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0xFF
    packed.write_bytes(bytes(data))
    capsys.readouterr()
    out = tmp_path / "x.tif"
    assert run("decompress", packed, "-o", out, "--model", tiny_weights) == 1
    assert "damaged tile 3" in capsys.readouterr().err
    assert not out.exists()
    assert run("decompress", packed, "-o", out, "--model", tiny_weights, "--allow-damaged") == 0
    assert "warning: damaged tile 3" in capsys.readouterr().err
    from ldmrsic_core.tiling import TilePlan

    plan = TilePlan(header["raster"]["height"], header["raster"]["width"], 64, 8)
    owned = plan.owned(3)
    with rasterio.open(out) as o, rasterio.open(DATA / "naip_uint8_4band.tif") as src:
        masks = o.read_masks(1)
        hole = masks[owned.rows.start:owned.rows.stop, owned.cols.start:owned.cols.stop]
        assert (hole == 0).all()
        outside = np.ones_like(masks, dtype=bool)
        outside[owned.rows.start:owned.rows.stop, owned.cols.start:owned.cols.stop] = False
        np.testing.assert_array_equal(masks[outside], src.read_masks(1)[outside])


def test_cog_output(tmp_path, tiny_weights):
    packed = tmp_path / "x.ldmr"
    assert run("compress", DATA / "rgb_uint8_nodata.tif", "-o", packed, "--model", tiny_weights, *TILING) == 0
    out = tmp_path / "x.tif"
    assert run("decompress", packed, "-o", out, "--model", tiny_weights, "--cog") == 0
    with rasterio.open(out) as o:
        assert o.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert o.nodata == 0 and o.crs.to_epsg() == 32618
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ldmr", "x.tif"]


def test_cancel_leaves_no_partial_file(tmp_path, tiny_weights):
    def cancel_after_two(done, total):
        if done == 2:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        compress_raster(DATA / "rgb_uint8_nodata.tif", tmp_path / "x.ldmr", model=tiny_weights, tile=64,
                        overlap=8, progress=cancel_after_two)
    assert list(tmp_path.iterdir()) == []


def test_info_reports_rate_tiles_and_model(tmp_path, tiny_weights, capsys):
    packed = tmp_path / "x.ldmr"
    assert run("compress", DATA / "l8_uint16_1band.tif", "-o", packed, "--model", tiny_weights, *TILING,
               "--value-range", "8000", "9000") == 0
    capsys.readouterr()
    assert run("info", packed) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["bytes"] == packed.stat().st_size
    assert info["bpp"] == pytest.approx(8 * info["bytes"] / (140 * 120))
    assert info["ratio"] == pytest.approx(140 * 120 * 2 / info["bytes"])  # uint16: raw bytes / file bytes
    assert info["tiles"]["count"] == 3 * 2
    assert info["model"]["name"] == "tiny-test"
    assert info["crs"].startswith("PROJCS")
    with rasterio.open(DATA / "l8_uint16_1band.tif") as src:
        data = src.read(1)
    assert info["clipped_values"] == [int(((data < 8000) | (data > 9000)).sum())]


def test_cli_defaults_are_the_library_defaults():
    import inspect

    from ldmrsic_cli.main import cli
    from ldmrsic_core import compress_raster, defaults
    from ldmrsic_core.evaluation.codecs import ALL_CODECS
    from ldmrsic_core.pipeline.enhance import enhance_raster

    def shown(command, name):
        return next(p for p in cli.commands[command].params if p.name == name).default

    library = inspect.signature(compress_raster).parameters
    for name in ("quality", "tile", "overlap", "device"):
        assert shown("compress", name) == library[name].default
    library = inspect.signature(enhance_raster).parameters
    for name in ("tile", "overlap"):
        assert shown("enhance", name) == library[name].default
    assert (shown("compress", "tile"), shown("compress", "overlap"), shown("enhance", "overlap")) == (
        defaults.TILE, defaults.OVERLAP, defaults.ENHANCE_OVERLAP)
    assert tuple(shown("eval", "codecs").split(",")) == defaults.EVAL_CODECS == ALL_CODECS


def test_bbox_on_a_raster_without_georeferencing_is_one_line(no_crs_raster, tmp_path, tiny_weights, capsys):
    packed = tmp_path / "x.ldmr"
    assert run("compress", no_crs_raster, "-o", packed, "--model", tiny_weights) == 0
    capsys.readouterr()
    assert run("decompress", packed, "-o", tmp_path / "x.tif", "--model", tiny_weights,
               "--bbox", "0", "0", "100", "100") == 1
    err = capsys.readouterr().err
    assert "no georeferencing" in err and "bounds 0 0 64 64" in err and "Traceback" not in err
    assert not (tmp_path / "x.tif").exists()


def test_bbox_outside_the_raster_names_its_bounds(tmp_path, tiny_weights, capsys):
    packed = tmp_path / "x.ldmr"
    assert run("compress", DATA / "l8_uint16_1band.tif", "-o", packed, "--model", tiny_weights) == 0
    capsys.readouterr()
    assert run("decompress", packed, "-o", tmp_path / "x.tif", "--model", tiny_weights,
               "--bbox", "0", "0", "1", "1") == 1
    assert "does not overlap the raster (its bounds:" in capsys.readouterr().err


def test_global_flags_work_after_the_command_name_too(tmp_path, tiny_weights, capsys):
    from ldmrsic_cli.main import hoist_global_flags

    assert hoist_global_flags(["compress", "x.tif", "--quiet", "--", "--debug"]) == \
        ["--quiet", "compress", "x.tif", "--", "--debug"]
    packed = tmp_path / "x.ldmr"
    src = DATA / "naip_uint8_4band.tif"
    assert main(["compress", str(src), "-o", str(packed), "--model", str(tiny_weights), *TILING, "--quiet"]) == 0
    assert main(["info", str(tmp_path / "missing.ldmr"), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "No such option" not in err and "Traceback" in err  # --debug after the command still shows it


def test_decompress_takes_gdal_creation_options(tmp_path, tiny_weights, capsys):
    src = DATA / "naip_uint8_4band.tif"
    packed, default = roundtrip(src, tmp_path, tiny_weights)
    zstd, cog = tmp_path / "zstd.tif", tmp_path / "cog.tif"
    assert run("decompress", packed, "-o", zstd, "--model", tiny_weights, "--co", "COMPRESS=ZSTD",
               "--co", "ZSTD_LEVEL=9", "--co", "BLOCKXSIZE=128", "--co", "BLOCKYSIZE=128") == 0
    assert run("decompress", packed, "-o", cog, "--model", tiny_weights, "--cog", "--co", "COMPRESS=LZW") == 0
    with rasterio.open(default) as a, rasterio.open(zstd) as b, rasterio.open(cog) as c:
        assert (a.compression.name, b.compression.name, c.compression.name) == ("deflate", "zstd", "lzw")
        assert b.block_shapes[0] == (128, 128)
        assert np.array_equal(a.read(), b.read()) and np.array_equal(a.read(), c.read())
    capsys.readouterr()
    for options, message in ((["--co", "COMPRESS=FOO"], "refuses --co COMPRESS=FOO: 'FOO' is an unexpected value"),
                             (["--co", "FROBNICATE=1"], "does not support creation option FROBNICATE"),
                             (["--co", "WIDTH=5"], "--co WIDTH is set from the .ldmr file itself"),
                             (["--co", "COMPRESS"], "is not KEY=VALUE"),
                             (["--cog", "--co", "TILED=NO"], "COG driver refuses --co")):
        out = tmp_path / "bad.tif"
        assert run("decompress", packed, "-o", out, "--model", tiny_weights, *options) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists() and not list(tmp_path.glob("*.part*"))


def test_many_scenes_in_one_call_and_one_bad_one(tmp_path, tiny_weights, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name in ("naip_uint8_4band.tif", "rgb_uint8_nodata.tif"):
        shutil.copy(DATA / name, scenes / name)
    (scenes / "broken.tif").write_text("not a raster")
    packed, decoded = tmp_path / "packed", tmp_path / "decoded"
    packed.mkdir()
    decoded.mkdir()
    capsys.readouterr()
    assert run("compress", scenes, "--out-dir", packed, "--model", tiny_weights, *TILING) == 1
    err = capsys.readouterr().err
    assert sorted(p.name for p in packed.iterdir()) == ["naip_uint8_4band.ldmr", "rgb_uint8_nodata.ldmr"]
    assert "broken.tif" in err and "2 of 3 scenes written; 1 failed" in err and err.count("wrote ") == 2
    before = {p.name: p.read_bytes() for p in packed.iterdir()}
    good = [scenes / "naip_uint8_4band.tif", scenes / "rgb_uint8_nodata.tif"]
    assert run("compress", *good, "--out-dir", packed, "--model", tiny_weights, *TILING) == 1  # never replaced
    assert "exists" in capsys.readouterr().err and {p.name: p.read_bytes() for p in packed.iterdir()} == before
    assert run("decompress", packed, "--out-dir", decoded, "--model", tiny_weights) == 0
    assert sorted(p.name for p in decoded.iterdir()) == ["naip_uint8_4band.tif", "rgb_uint8_nodata.tif"]
    assert "2 of 2 scenes written" in capsys.readouterr().err
    for args, message in (([*good, "-o", tmp_path / "x.ldmr"], "-o names one output"),
                          ([*good, "--out-dir", tmp_path / "missing"], "is not an existing folder"),
                          ([good[0], DATA / "naip_uint8_4band.tif", "--out-dir", packed], "would both be written")):
        assert run("compress", *args, "--model", tiny_weights) == 1
        assert message in capsys.readouterr().err
    assert run("decompress", packed / "rgb_uint8_nodata.ldmr", "--model", tiny_weights) == 1
    assert "give the output: -o FILE" in capsys.readouterr().err


def test_a_batch_reads_each_model_file_once_and_a_replaced_one_again(tmp_path, tiny_weights, monkeypatch):
    from ldmrsic_core.zoo import registry

    reads = []
    real = registry.read_weights
    monkeypatch.setattr(registry, "read_weights", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    weights = tmp_path / "w.pt"
    shutil.copy(tiny_weights, weights)
    scenes = [DATA / "naip_uint8_4band.tif", DATA / "rgb_uint8_nodata.tif"]
    out = tmp_path / "out"
    out.mkdir()
    assert run("compress", *scenes, "--out-dir", out, "--model", weights, *TILING) == 0
    assert run("decompress", out, "--out-dir", out, "--model", weights) == 0
    assert len(reads) == 1  # two scenes compressed and decoded with one read of the weights
    weights.write_bytes(weights.read_bytes())  # rewritten in place: read (and hashed) again
    assert run("compress", scenes[0], "-o", tmp_path / "again.ldmr", "--model", weights, *TILING) == 0
    assert len(reads) == 2
