"""The demo's table: our file against JPEG2000 and WebP at the same size (tiny untrained codec)."""

from __future__ import annotations

import rasterio

from conftest import DATA
from ldmrsic_core.evaluation.runner import read_image
from ldmrsic_core.evaluation.side_by_side import compare_at_same_size, crops_png, kept_georeferencing, table, verdict


def test_rgb_scene_against_jpeg2000_and_webp_at_our_size(tmp_path, tiny_weights):
    scene = DATA / "rgb_uint8_nodata.tif"
    rows = compare_at_same_size(scene, tmp_path / "w", quality=3.0, model=tiny_weights)
    names = [r.codec for r in rows]
    assert names == ["ldmrsic-geo", "ldmrsic-geo, no enhancement", "JPEG2000 (GDAL OpenJPEG)", "WebP (GDAL)"]
    ours = rows[0]
    assert ours.bytes == (tmp_path / "w" / "x.ldmr").stat().st_size
    assert 0.9 * ours.bytes <= rows[2].bytes <= ours.bytes and rows[3].bytes <= ours.bytes
    assert all(r.psnr > 5 and r.unit.shape == (3, 150, 200) for r in rows)
    text = table(rows)
    assert text.count("\n") == 5 and f"| ldmrsic-geo | {ours.bytes} |" in text
    assert "JPEG2000" in verdict(rows) and "WebP" in verdict(rows)
    png = crops_png(read_image(scene), rows, tmp_path / "crops.png", size=64, zoom=2)
    with rasterio.open(png) as picture:
        assert (picture.width, picture.height, picture.count) == (3 * 128, 128 + 16, 3)
    assert "EPSG:" in kept_georeferencing(scene, tmp_path / "w" / "ldmrsic.tif")
    assert "all kept" in kept_georeferencing(scene, tmp_path / "w" / "ldmrsic.tif")


def test_webp_is_left_out_for_16_bit_data(tmp_path, tiny_weights):
    rows = compare_at_same_size(DATA / "l8_uint16_1band.tif", tmp_path / "w", quality=2.0, model=tiny_weights)
    assert [r.codec for r in rows][2:] == ["JPEG2000 (GDAL OpenJPEG)"]
