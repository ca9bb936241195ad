"""Output windows that cut through GeoTIFF blocks: each block compressed and written once."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from ldmrsic_core.block_writer import BlockWriter
from ldmrsic_core.tiling import Box, Span

HEIGHT, WIDTH = 300, 530
EDGES_R, EDGES_C = (0, 77, 200, 300), (0, 130, 131, 400, 530)  # windows that follow no block grid


class _Recorder:
    """A stand-in dataset that records every window written."""

    block_shapes = [(64, 128)]
    height, width = HEIGHT, WIDTH

    def __init__(self):
        self.image = np.zeros((2, HEIGHT, WIDTH), np.uint16)
        self.mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        self.windows: list[tuple[int, int, int, int]] = []

    def write(self, values, window):
        r, c, h, w = int(window.row_off), int(window.col_off), int(window.height), int(window.width)
        self.windows.append((r, c, h, w))
        self.image[:, r:r + h, c:c + w] = values

    def write_mask(self, values, window):
        r, c = int(window.row_off), int(window.col_off)
        self.mask[r:r + values.shape[0], c:c + values.shape[1]] = values


def _windows():
    for r0, r1 in zip(EDGES_R, EDGES_R[1:]):
        for c0, c1 in zip(EDGES_C, EDGES_C[1:]):
            yield Box(Span(r0, r1), Span(c0, c1))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, (2, HEIGHT, WIDTH)).astype(np.uint16), rng.random((2, HEIGHT, WIDTH)) > 0.1


def test_every_block_is_written_once_whole_and_the_pixels_are_right(data):
    values, valid = data
    dst = _Recorder()
    writer = BlockWriter(dst, with_mask=True)
    for box in _windows():
        writer.write(box, values[(slice(None), *box.slices)], valid[(slice(None), *box.slices)])
    assert writer.pending_blocks == 0
    writer.close()
    blocks = {(r // 64, c // 128) for r, c, _, _ in dst.windows}
    assert len(dst.windows) == len(blocks) == 5 * 5  # ceil(300/64) × ceil(530/128), none twice
    assert all(r % 64 == 0 and c % 128 == 0 for r, c, _, _ in dst.windows)
    assert np.array_equal(dst.image, values)
    assert np.array_equal(dst.mask, valid.all(axis=0).astype(np.uint8) * 255)


def test_over_its_budget_it_still_writes_the_right_pixels(data):
    values, _ = data
    dst = _Recorder()
    writer = BlockWriter(dst, budget=1)  # spill every waiting block but the newest
    for box in _windows():
        writer.write(box, values[(slice(None), *box.slices)])
    writer.close()
    assert np.array_equal(dst.image, values)
    assert len(dst.windows) > 25  # spilled blocks got their later pieces as separate writes


def test_a_compressed_geotiff_is_as_small_as_one_written_whole(tmp_path):
    """The decoder's geometry (512-px tiles, overlap 16: owned windows end at 504, 1000, …) on 256² blocks,
    with a GDAL block cache too small to hold the waiting blocks (as a wide scene's would be)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:1024, 0:1024]
    values = np.stack([np.sin(xx / (9 + b)) * np.cos(yy / 7) * 60 + 120 + rng.normal(0, 8, xx.shape)
                       for b in range(3)]).clip(0, 255).astype(np.uint8)
    edges = (0, 504, 1000, 1024)
    windows = [Box(Span(r0, r1), Span(c0, c1)) for r0, r1 in zip(edges, edges[1:]) for c0, c1 in zip(edges, edges[1:])]
    profile = {"driver": "GTiff", "width": 1024, "height": 1024, "count": 3, "dtype": "uint8", "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 2, "interleave": "pixel"}
    sizes = {}
    for name in ("direct", "buffered", "whole"):
        path = tmp_path / f"{name}.tif"
        with rasterio.Env(GDAL_CACHEMAX=1 << 20), rasterio.open(path, "w", **profile) as dst:
            if name == "whole":
                dst.write(values)
            elif name == "buffered":
                writer = BlockWriter(dst)
                for box in windows:
                    writer.write(box, values[(slice(None), *box.slices)])
                writer.close()
            else:
                for box in windows:
                    dst.write(values[(slice(None), *box.slices)], window=rasterio.windows.Window(
                        box.cols.start, box.rows.start, box.cols.length, box.rows.length))
        with rasterio.open(path) as src:
            assert np.array_equal(src.read(), values)
        sizes[name] = path.stat().st_size
    assert sizes["buffered"] <= sizes["whole"] * 1.01
    assert sizes["direct"] > sizes["whole"] * 1.2  # what writing the windows as they come costs


def test_the_bounded_gdal_cache_is_megabytes_not_bytes(tmp_path):
    """rasterio hands an integer GDAL_CACHEMAX to GDAL as bytes: the old setting, 128, was a 128-byte cache."""
    from ldmrsic_core.raster_io import GDAL_CACHE_MB, bounded_gdal_cache

    with bounded_gdal_cache():
        assert rasterio.env.getenv()["GDAL_CACHEMAX"] == GDAL_CACHE_MB << 20
