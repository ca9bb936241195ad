"""Training tiles read without GDAL (a lent GPU machine has no rasterio): Pillow gives GDAL's pixels."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ldmrsic_core.errors import InputError
from ldmrsic_core.training import data


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    out = {}
    for name, img, options in [
        ("rgb.png", Image.fromarray(rgb), {}),
        ("rgb.webp", Image.fromarray(rgb), {"lossless": True}),
        ("rgba.png", Image.fromarray(np.dstack([rgb, rgb[:, :, :1]])), {}),
        ("grey.png", Image.fromarray(rgb[:, :, 1]), {}),
        ("grey16.png", Image.fromarray(rng.integers(0, 65536, (40, 56)).astype(np.uint16)), {}),
    ]:
        img.save(tmp_path / name, **options)
        out[name] = tmp_path / name
    return out


def test_pillow_reads_the_pixels_gdal_reads(images, monkeypatch):
    with_gdal = {name: data.load_image(path) for name, path in images.items()}
    monkeypatch.setattr(data, "rasterio", None)
    for name, path in images.items():
        without = data.load_image(path)
        assert without.dtype == np.float32 and without.shape == with_gdal[name].shape == (3, 40, 56), name
        np.testing.assert_array_equal(without, with_gdal[name], err_msg=name)


def test_pillow_refuses_what_it_cannot_read(images, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "rasterio", None)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((8, 8), np.uint8)).convert("P").save(tmp_path / "palette.png")
    with pytest.raises(InputError, match="not a readable image"):
        data.load_image(tmp_path / "broken.png")
    with pytest.raises(InputError, match="install rasterio"):
        data.load_image(tmp_path / "palette.png")


def test_codec_training_imports_without_rasterio():
    """What the GPU training script runs: the trainer and the CLI's train command, GDAL absent."""
    code = (
        "import sys, importlib.abc\n"
        "class NoGdal(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('rasterio', 'osgeo'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoGdal())\n"
        "import ldmrsic_core.training.codec_trainer, ldmrsic_core.training.export, ldmrsic_cli.main\n"
        "from ldmrsic_core.training import data\n"
        "assert data.rasterio is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
