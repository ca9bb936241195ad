"""What the container costs: format 3's compact header against format 2.0's JSON one, on the same
tile payloads, and what that does to rate–distortion on small images.

    python benchmarks/container_overhead.py --val ../shared/data/ucmerced/val --images 42 \
        --scene ../shared/data/scenes/landsat7_rgb_uint8_nodata.tif

Each image is compressed once per quality with the bundled models (format 3) and decoded
through the product path (PSNR at peak 255 over all pixels and bands, enhanced as the file
says); the same payloads and header are then rewritten as a format 2.0 file
(``ContainerWriter(version=(2, 0))``), so the two rates differ by the container alone and the
pixels are the same. Prints bytes of container per file and the BD-rate of format 3 against 2.0.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio

from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.evaluation.bjontegaard import bd_rate
from ldmrsic_core.format.container import ContainerReader, ContainerWriter
from ldmrsic_core.models.codec import lambda_for_quality
from ldmrsic_core.training.data import find_images
from ldmrsic_core.zoo.table import installed_names


def rewrap_as_v2(path: Path, target: Path) -> int:
    """The same tiles and header as a format 2.0 file (names and λ as 2.0 stored them); its size."""
    with ContainerReader(path, installed_names()) as reader, \
            ContainerWriter(target, len(reader.entries), version=(2, 0)) as writer:
        for index in range(len(reader.entries)):
            writer.add_tile(index, reader.read_tile(index))
        header = reader.typed_header
        codec = dataclasses.replace(header.codec, lam=lambda_for_quality(header.codec.quality))
        writer.finish(dataclasses.replace(header, codec=codec))
    return target.stat().st_size


def read(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read()


def measure(source: Path, quality: float, work: Path, tile: int | None = None) -> dict[str, float]:
    packed, v2, restored = work / "x.ldmr", work / "x2.ldmr", work / "x.tif"
    extra = {"tile": tile} if tile else {}
    compress_raster(source, packed, quality=quality, device="cpu", overwrite=True, **extra)
    with ContainerReader(packed) as reader:
        v3_container = reader.container_bytes
    v3_size, v2_size = packed.stat().st_size, rewrap_as_v2(packed, v2)
    decompress_raster(packed, restored, device="cpu", overwrite=True)
    original, decoded = read(source).astype(np.float64), read(restored).astype(np.float64)
    pixels = original.shape[1] * original.shape[2]
    mse = np.mean((original - decoded) ** 2)
    return {"v3_bytes": v3_size, "v2_bytes": v2_size, "v3_container": v3_container,
            "v2_container": v3_container + v2_size - v3_size, "v3_bpp": 8 * v3_size / pixels,
            "v2_bpp": 8 * v2_size / pixels, "psnr": 10 * math.log10(255**2 / mse)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--images", type=int, default=42, help="Every k-th image so that this many are used.")
    p.add_argument("--qualities", type=float, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--scene", type=Path, nargs="*", default=[], help="Georeferenced scenes to report bytes for.")
    a = p.parse_args()
    files = find_images(a.val)
    files = files[:: math.ceil(len(files) / a.images)][: a.images]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for scene in a.scene:
            row = measure(scene, 3.0, work)
            print(f"{scene.name}: container {row['v2_container']} → {row['v3_container']} bytes "
                  f"(file {row['v2_bytes']} → {row['v3_bytes']})")
        rows = {q: [measure(f, q, work) for f in files] for q in a.qualities}
    print(f"\n{len(files)} images of {a.val}, bundled models, PSNR of the enhanced decode")
    print("| quality | container bytes 2.0 → 3.0 | bpp 2.0 | bpp 3.0 | PSNR dB | container share 2.0 → 3.0 |")
    print("|---|---|---|---|---|---|")
    curve = {"v2": ([], []), "v3": ([], [])}
    for q, rs in rows.items():
        mean = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        share2 = np.mean([r["v2_container"] / r["v2_bytes"] for r in rs])
        share3 = np.mean([r["v3_container"] / r["v3_bytes"] for r in rs])
        print(f"| {q:g} | {mean['v2_container']:.0f} → {mean['v3_container']:.0f} | {mean['v2_bpp']:.4f} | "
              f"{mean['v3_bpp']:.4f} | {mean['psnr']:.2f} | {share2:.0%} → {share3:.0%} |")
        for version in ("v2", "v3"):
            curve[version][0].append(mean[f"{version}_bpp"])
            curve[version][1].append(mean["psnr"])
    print(f"\nBD-rate (PSNR) of format 3.0 against 2.0: {bd_rate(*curve['v2'], *curve['v3']):+.1f}%")


if __name__ == "__main__":
    main()
