"""Shared fixtures: a tiny untrained codec, small real GeoTIFFs, synthetic rasters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from ldmrsic_core.zoo.configs import CODEC_CONFIGS as CONFIGS
from ldmrsic_core.zoo.configs import ENHANCER_CONFIGS
from ldmrsic_core.zoo.registry import read_weights, save_weights

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def private_model_dir(tmp_path_factory, monkeypatch) -> Path:
    """Exported models go to a fresh folder, never the user's."""
    folder = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("LDMRSIC_GEO_MODELS", str(folder))
    return folder


@pytest.fixture(autouse=True)
def fresh_model_cache():
    """Each test loads its models afresh (a test may change how they load, e.g. by monkeypatching)."""
    from ldmrsic_core.zoo import cache

    cache.clear()
    yield
    cache.clear()


def _random_tiny(folder: Path, seed: int, name: str) -> Path:
    torch.manual_seed(seed)
    path = folder / f"{name}.pt"
    save_weights(CONFIGS["elic-tiny"].build().eval(), "elic-tiny", path, name=name, trained=False)
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """Randomly initialised elic-tiny weights: exact bitstream round trips, poor pictures."""
    return _random_tiny(tmp_path_factory.mktemp("weights"), 0, "tiny-test")


@pytest.fixture(scope="session")
def other_weights(tmp_path_factory) -> Path:
    """Another random elic-tiny: a file made with ``tiny_weights`` must refuse it."""
    return _random_tiny(tmp_path_factory.mktemp("weights"), 1, "other")


def tiny_enhancer(path: Path, source: str, codec_sha256: str | None, seed: int = 0) -> Path:
    """Random men-tiny weights whose output layer is not zero, so the prior and its noise matter."""
    torch.manual_seed(seed)
    net = ENHANCER_CONFIGS["men-tiny"].build()
    torch.nn.init.normal_(net.men.out.weight, std=0.05)
    torch.nn.init.normal_(net.men.level_in.weight, std=1.0)
    save_weights(net.eval(), "men-tiny", path, name=path.stem, trained=False,
                 extra={"kind": "enhancer", "source": source, "codec_sha256": codec_sha256,
                        "conditioned": source == "ldmrsic"})
    return path


@pytest.fixture
def paired_enhancer(tiny_weights, private_model_dir):
    """A men-tiny enhancer registered as trained for the tiny test codec."""
    path = tiny_enhancer(private_model_dir / "tiny-enh.pt", "ldmrsic", read_weights(tiny_weights)[1])
    other = tiny_enhancer(private_model_dir / "tiny-jp2.pt", "jpeg2000", None, seed=1)
    table = {"default": None, "models": {
        p.stem: {"file": p.name, "sha256": read_weights(p)[1], "config": "men-tiny", "kind": "enhancer",
                 "source": src, "codec_sha256": sha}
        for p, src, sha in ((path, "ldmrsic", read_weights(tiny_weights)[1]), (other, "jpeg2000", None))}}
    (private_model_dir / "models.json").write_text(json.dumps(table))
    return path


def write_raster(path: Path, data: np.ndarray, *, nodata=None, crs="EPSG:32633", **extra) -> Path:
    """Write bands×rows×cols ``data`` as a GeoTIFF with a 10 m UTM grid."""
    profile = {
        "driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": data.shape[0],
        "dtype": data.dtype.name, "crs": crs, "transform": from_origin(500000, 4000000, 10, 10),
        "nodata": nodata, **extra,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


@pytest.fixture
def float_nan_raster(tmp_path) -> Path:
    """float32, 1 band, NaN holes and no nodata value."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:90, 0:100]
    data = (np.sin(xx / 9) * np.cos(yy / 7) * 40 + 100 + rng.normal(0, 2, (90, 100))).astype("float32")
    data[10:20, 30:60] = np.nan
    data[70:, :5] = np.nan
    return write_raster(tmp_path / "float_nan.tif", data[None])


@pytest.fixture
def two_band_raster(tmp_path) -> Path:
    rng = np.random.default_rng(4)
    data = (rng.integers(0, 30, (2, 70, 80)) + np.arange(80) * 40).astype("uint16")
    return write_raster(tmp_path / "two_band.tif", data)


@pytest.fixture
def no_crs_raster(tmp_path) -> Path:
    data = np.random.default_rng(5).integers(0, 255, (3, 64, 64)).astype("uint8")
    path = tmp_path / "no_crs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=3, dtype="uint8") as dst:
        dst.write(data)
    return path
