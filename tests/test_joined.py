"""Joined tiles (format 5): tiles without overlap, analysed with their neighbours' pixels and synthesised
from their neighbours' latents (ldmrsic_core/pipeline/joined.py)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from conftest import DATA, write_raster
from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.format.container import ContainerReader
from ldmrsic_core.format.versions import JOINED_MAJOR
from ldmrsic_core.pipeline.joined import CELL, MARGIN, analysis_window, coded_cells, is_joined, synthesis_window
from ldmrsic_core.tiling import Box, Span, TilePlan, padded

DECODE = {"device": "cpu", "precision": "fp32"}


def _latents(plan: TilePlan, channels: int = 2) -> dict[int, list[np.ndarray]]:
    """Per tile a one-group latent whose every cell holds the tile's index (so the stitching shows)."""
    return {i: [np.full((channels, padded(plan.extent(i).rows.length) // CELL,
                         padded(plan.extent(i).cols.length) // CELL), float(i), dtype=np.float32)]
            for i in range(len(plan))}


def test_only_files_of_format_5_without_overlap_are_joined():
    assert is_joined(0, (5, 0)) and not is_joined(16, (5, 0)) and not is_joined(0, (4, 0))


def test_the_encoder_sees_its_neighbours_and_codes_its_own_cells():
    plan = TilePlan(300, 200, 128, 0)  # 3 × 2 tiles; the last row 44 pixels, the last column 72
    middle = plan.index(1, 1)
    window = analysis_window(plan, middle)
    assert window == Box(Span(64, 300), Span(64, 200))
    own = plan.owned(middle).relative_to(window)
    rows, cols = coded_cells(own, (padded(own.rows.length), padded(own.cols.length)))
    assert (rows, cols) == (slice(4, 12), slice(4, 12))  # 128 pixels from the window's 64th
    last = plan.index(2, 0)
    own = plan.owned(last).relative_to(analysis_window(plan, last))
    rows, _ = coded_cells(own, (padded(own.rows.length), padded(own.cols.length)))
    assert (rows.start, rows.stop) == (4, 8)  # 44 rows padded to 64: four cells after the context
    assert padded(analysis_window(plan, last).rows.length) // CELL >= rows.stop  # the padded window holds them


def test_a_tile_is_synthesised_from_its_latent_and_a_margin_of_each_neighbour():
    plan = TilePlan(300, 200, 128, 0)
    latents = _latents(plan)
    windows, crop = synthesis_window(plan, plan.index(1, 0), latents.get)
    (window,) = windows
    assert window.shape == (2, MARGIN + 8 + MARGIN, 8 + MARGIN)  # no left neighbour: the raster's edge
    assert (window[:, :MARGIN, :8] == plan.index(0, 0)).all() and (window[:, :MARGIN, 8:] == plan.index(0, 1)).all()
    assert (window[:, MARGIN:-MARGIN, :8] == plan.index(1, 0)).all()
    assert (window[:, MARGIN:-MARGIN, 8:] == plan.index(1, 1)).all()
    assert (window[:, -MARGIN:, :8] == plan.index(2, 0)).all() and (window[:, -MARGIN:, 8:] == plan.index(2, 1)).all()
    assert crop == Box(Span(MARGIN * CELL, MARGIN * CELL + 128), Span(0, 128))
    windows, crop = synthesis_window(plan, plan.index(2, 1), latents.get)  # the short corner tile
    assert windows[0].shape == (2, MARGIN + 4, MARGIN + 8)  # 44 × 72 pixels padded to 64 × 128: 4 × 8 cells
    assert crop == Box(Span(MARGIN * CELL, MARGIN * CELL + 44), Span(MARGIN * CELL, MARGIN * CELL + 72))


def test_a_missing_neighbour_is_the_raster_edge_and_a_missing_corner_is_zero():
    plan = TilePlan(384, 384, 128, 0)
    latents = _latents(plan)
    middle = plan.index(1, 1)
    without_top = {**latents, plan.index(0, 1): None}
    (window,), crop = synthesis_window(plan, middle, without_top.get)
    assert window.shape[1] == 8 + MARGIN and crop.rows.start == 0
    without_corner = {**latents, plan.index(0, 0): None}
    (window,), _ = synthesis_window(plan, middle, without_corner.get)
    assert window.shape[1:] == (8 + 2 * MARGIN, 8 + 2 * MARGIN)
    assert (window[:, :MARGIN, :MARGIN] == 0).all() and (window[:, :MARGIN, -MARGIN:] == plan.index(0, 2)).all()


def _scene(tmp_path):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:150, 0:200]
    data = np.stack([(np.sin(xx / (7 + b)) * np.cos(yy / 5) * 70 + 120 + rng.normal(0, 5, xx.shape))
                     for b in range(3)]).clip(1, 255).astype("uint8")
    data[:, :64, :64] = 0  # a whole tile of nodata: its neighbours see the raster's edge there
    return write_raster(tmp_path / "scene.tif", data, nodata=0)


def _read(path):
    with rasterio.open(path) as src:
        return src.read()


def test_a_window_decodes_to_the_same_pixels_as_the_whole_file(tmp_path, tiny_weights, paired_enhancer):
    packed = compress_raster(_scene(tmp_path), tmp_path / "s.ldmr", model=tiny_weights, tile=64,
                             **DECODE).output
    with ContainerReader(packed) as reader:
        assert reader.version[0] >= JOINED_MAJOR and reader.typed_header.overlap == 0
        assert reader.entries[0].length < 8  # no valid pixel of its own: nothing coded, whatever its context
    rows, cols = slice(30, 100), slice(70, 140)  # across tile borders, next to the empty tile
    x0, y0 = 500000 + 10 * cols.start, 4000000 - 10 * rows.stop
    for enhance in (False, True):
        whole = _read(decompress_raster(packed, tmp_path / f"w{enhance}.tif", model=tiny_weights, enhance=enhance,
                                        **DECODE).output)
        part = decompress_raster(packed, tmp_path / f"p{enhance}.tif", model=tiny_weights, enhance=enhance,
                                 bbox=(x0, y0, x0 + 700, y0 + 700), **DECODE)
        assert np.array_equal(_read(part.output), whole[:, rows, cols])
    corner = decompress_raster(packed, tmp_path / "c.tif", model=tiny_weights, enhance=False,
                               bbox=(500000, 4000000 - 300, 500300, 4000000), **DECODE)
    assert corner.tiles_read == 4  # tile 0 and the neighbours its synthesis reads, not all 12


def test_a_damaged_neighbour_leaves_the_others_decodable(tmp_path, tiny_weights):
    packed = compress_raster(_scene(tmp_path), tmp_path / "s.ldmr", model=tiny_weights, tile=64, **DECODE).output
    whole = _read(decompress_raster(packed, tmp_path / "w.tif", model=tiny_weights, enhance=False, **DECODE).output)
    with ContainerReader(packed) as reader:
        entry, plan = reader.entries[5], reader.typed_header.plan
    data = bytearray(packed.read_bytes())
    data[entry.offset + entry.length // 2] ^= 0xFF
    packed.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="tile 5"):
        result = decompress_raster(packed, tmp_path / "d.tif", model=tiny_weights, enhance=False,
                                   allow_damaged=True, **DECODE)
    assert result.damaged_tiles == (5,)
    with rasterio.open(result.output) as src:
        recovered, mask = src.read(), src.read_masks(1)
    hole = plan.owned(5)
    assert (mask[hole.slices] == 0).all()
    for index in (4, 6, 9):  # neighbours: decoded from their own latents, the hole as the raster's edge
        box = plan.owned(index)
        assert (mask[box.slices] > 0).all()
        difference = recovered[(slice(None), *box.slices)].astype(float) - whole[(slice(None), *box.slices)]
        assert np.abs(difference).mean() < 8


def test_joined_tiles_cost_fewer_bytes_than_overlap_and_decode_like_one_tile(tmp_path):
    """With the bundled codec: 64-pixel tiles joined are smaller than with 16 pixels of overlap, and
    their pixels, borders included, are as good as those of the image coded as one tile."""
    with rasterio.open(DATA / "rgb_uint8_nodata.tif") as src:  # 192 × 128 of it: whole tiles, no padding
        source = write_raster(tmp_path / "crop.tif", src.read()[:, :128, :192], nodata=0)
    with rasterio.open(source) as src:
        reference, valid = src.read().astype(float), src.read_masks(1) > 0
    border = np.zeros_like(valid)
    for edge in (64, 128):
        border[edge - 8: edge + 8] = True
        border[:, edge - 8: edge + 8] = True
    results = {}
    for name, tile, overlap in (("joined", 64, 0), ("overlap", 64, 16), ("one", 192, 0)):
        packed = compress_raster(source, tmp_path / f"{name}.ldmr", tile=tile, overlap=overlap, **DECODE)
        decoded = _read(decompress_raster(packed.output, tmp_path / f"{name}.tif", enhance=False, **DECODE).output)

        def psnr(where):
            return 10 * np.log10(255**2 / ((decoded[:, where] - reference[:, where]) ** 2).mean())

        results[name] = packed.bytes, psnr(valid), psnr(valid & border)
    assert results["joined"][0] < 0.85 * results["overlap"][0]
    assert abs(results["joined"][1] - results["one"][1]) < 0.15
    assert results["joined"][2] > results["one"][2] - 0.3  # no seams
