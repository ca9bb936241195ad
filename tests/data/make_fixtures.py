"""Regenerate the small real-data test fixtures from ../shared/data/scenes (run from the repo root).

Each fixture is a pixel-exact window of an open scene, DEFLATE-compressed, with the
source's CRS, transform (shifted to the window), nodata, band descriptions and tags.
Sources and licences: tests/data/README.md.
"""

from __future__ import annotations

from pathlib import Path

import rasterio
from rasterio.windows import Window

SCENES = Path("../shared/data/scenes")
FIXTURES = {
    # name: (source, (col_off, row_off, width, height))
    "rgb_uint8_nodata.tif": ("landsat7_rgb_uint8_nodata.tif", (0, 520, 200, 150)),
    "sr_int16_8band.tif": ("landsat7_sr_int16_8band.tif", (60, 40, 120, 100)),
    "l8_uint16_1band.tif": ("landsat8_bands/l8_B2.tif", (200, 150, 140, 120)),
    "spacenet_float64_4band.tif": ("spacenet_ms_float64.tif", (100, 120, 110, 90)),
    "naip_uint8_4band.tif": ("naip_rgbn_uint8_2020.tif", (0, 0, 130, 110)),
}


def cut(source: Path, target: Path, box: tuple[int, int, int, int]) -> None:
    win = Window(*box)
    with rasterio.open(source) as src:
        profile = src.profile.copy()
        profile.update(width=win.width, height=win.height, transform=src.window_transform(win),
                       compress="deflate", tiled=False)
        profile.pop("blockxsize", None)
        profile.pop("blockysize", None)
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(src.read(window=win))
            dst.descriptions = src.descriptions
            dst.colorinterp = src.colorinterp
            dst.update_tags(**src.tags())
            for b in range(1, src.count + 1):
                dst.update_tags(b, **src.tags(b))


if __name__ == "__main__":
    for name, (source, box) in FIXTURES.items():
        cut(SCENES / source, Path(__file__).parent / name, box)
    with rasterio.open(SCENES / "landsat7_rgb_uint8_nodata.tif") as src:
        cut(SCENES / "landsat7_rgb_uint8_nodata.tif", Path("samples/landsat7_rgb_uint8_nodata.tif"),
            (0, 0, src.width, src.height))
