"""The parts of the GPU check (issue 16 §4) that are not ``throughput.py``; ``benchmarks/gpu_check.sh`` runs them.

    python benchmarks/gpu_check.py models DIR           # prints "CODEC ENHANCER" (weights files or names)
    python benchmarks/gpu_check.py exactness --work DIR --codec C --enhancer E [--device cuda] [--size 2048]

``models``: the installed default codec and its enhancer when their weights are in this tree; else
(the device machine gets the tree without the bundled weights: DEVELOPERS.md) random weights of the
shipped configurations, elic-small and men-small, written to DIR. Speed does not depend on the
weights' values; only the rate does (it is printed), and with it the entropy coder's share.

``exactness``: a mosaic of ``samples/naip_rgb_uint8_2020.tif`` is compressed on the device in batches
of tiles, then decoded on the CPU (one tile per model call, as a CPU user would) and on the device
(in batches). Every tile's latent checksum is checked by the decoder (a mismatch stops it), so both
decodes having run means identical latents; the two decodes' pixels are then compared.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
SOURCE = ROOT / "samples" / "naip_rgb_uint8_2020.tif"


def models(folder: Path) -> tuple[str, str]:
    """(codec, enhancer): the installed pair, or random weights of the shipped configurations in ``folder``."""
    from ldmrsic_core.errors import WeightsError
    from ldmrsic_core.zoo.configs import CODEC_CONFIGS, DEFAULT_CODEC_CONFIG, ENHANCER_CONFIGS
    from ldmrsic_core.zoo.enhancers import default_enhancer
    from ldmrsic_core.zoo.registry import load_codec, read_weights, save_weights

    try:
        codec = load_codec(None)
        enhancer = default_enhancer("ldmrsic", codec.sha256)
        if enhancer is not None:
            return codec.name, enhancer
    except (WeightsError, OSError):
        pass
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    codec_path = folder / "random-elic-small.pt"
    save_weights(CODEC_CONFIGS[DEFAULT_CODEC_CONFIG].build().eval(), DEFAULT_CODEC_CONFIG, codec_path,
                 name=codec_path.stem, trained=False)
    enhancer_path = folder / "random-men-small.pt"
    save_weights(ENHANCER_CONFIGS["men-small"].build().eval(), "men-small", enhancer_path, name=enhancer_path.stem,
                 trained=False, extra={"kind": "enhancer", "source": "ldmrsic",
                                       "codec_sha256": read_weights(codec_path)[1], "conditioned": True})
    return str(codec_path), str(enhancer_path)


def exactness(work: Path, codec: str, enhancer: str, device: str, size: int, batch: int) -> None:
    import rasterio
    from throughput import mosaic

    from ldmrsic_core import compress_raster, decompress_raster

    work.mkdir(parents=True, exist_ok=True)
    scene = mosaic(SOURCE, work / f"exactness-{size}.tif", size, size)
    start = time.perf_counter()
    packed = compress_raster(scene, work / "exactness.ldmr", model=codec, enhancer=enhancer, device=device,
                             tile_batch=batch, overwrite=True)
    print(f"encoded {size}² on {device} in batches of {batch}: {packed.tiles} tiles, {packed.bpp:.3f} bpp, "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    decoded = {}
    for where, options in (("cpu", {"device": "cpu", "tile_batch": 1}),
                           (device, {"device": device, "tile_batch": batch})):
        start = time.perf_counter()
        out = decompress_raster(packed.output, work / f"exactness-{where}.tif", model=codec, enhancer=enhancer,
                                overwrite=True, **options).output
        with rasterio.open(out) as src:
            decoded[where] = src.read().astype(np.float64)
        print(f"decoded (with enhancement) on {where}, batches of {options['tile_batch']}: every tile's latent "
              f"checksum matched, {time.perf_counter() - start:.1f} s", flush=True)
    if device != "cpu":
        difference = decoded["cpu"] - decoded[device]
        mse = float((difference ** 2).mean())
        psnr = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
        print(f"pixels, CPU decode against {device} decode: max |difference| {np.abs(difference).max():.0f}, "
              f"{100 * (difference != 0).mean():.2f}% differ, PSNR {psnr:.1f} dB (the float transforms' arithmetic; "
              "latents identical)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models")
    p.add_argument("folder", type=Path)
    p = sub.add_parser("exactness")
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--codec", required=True)
    p.add_argument("--enhancer", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--tile-batch", type=int, default=8)
    args = parser.parse_args()
    if args.command == "models":
        print(*models(args.folder))
    else:
        exactness(args.work, args.codec, args.enhancer, args.device, args.size, args.tile_batch)


if __name__ == "__main__":
    main()
