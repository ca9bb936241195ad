"""Whether the exact model's int8 GEMMs pay on this CPU, and what each path costs on a real tile.

Prints the GEMM rates (int8 ``torch._int_mm``, float64, float32) on one thread, the choice
:func:`~ldmrsic_core.models.exact_int.integer_gemm_pays` makes here, then the exact compress and
decompress of one tile (the latent codec only: what the choice changes) with the integer path
forced on and off, checking that both give the same streams and latents. Example::

    python benchmarks/integer_gemm.py --image ../shared/data/scenes/naip_rgbn_uint8_2020.tif --size 512
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import rasterio
import torch

import ldmrsic_core.models.exact as exact_module
from ldmrsic_core.models.exact_int import integer_gemm_available, integer_gemm_pays
from ldmrsic_core.zoo.registry import load_codec


def best_of(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_rates(repeats: int) -> dict[str, float]:
    """Giga-operations per second of a 256×2304 by 2304×1024 product (a 5×5 context layer's im2col)."""
    a = torch.randint(-128, 128, (256, 2304), dtype=torch.int8)
    b = torch.randint(-128, 128, (2304, 1024), dtype=torch.int8)
    ops = 2 * 256 * 2304 * 1024 / 1e9
    rates = {"int8": ops / best_of(lambda: torch._int_mm(a, b), repeats)} if integer_gemm_available() else {}
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        fa, fb = a.to(dtype), b.to(dtype)
        rates[name] = ops / best_of(lambda fa=fa, fb=fb: fa @ fb, repeats)
    return rates


@torch.no_grad()
def tile_times(image: Path, size: int, model: str, quality: float, repeats: int) -> None:
    with rasterio.open(image) as src:
        pixels = src.read([1, 2, 3], window=((0, size), (0, size))).astype(np.float32) / 255
    net = load_codec(model).model
    y = (net.analyse(torch.from_numpy(pixels)[None]) * net.gains(quality)[0]).double()
    results = {}
    for integer in (True, False):
        if integer and not integer_gemm_available():
            continue
        exact_module.integer_gemm_pays = lambda integer=integer: integer
        codec = exact_module.exact_latent_codec(net.latent_codec, "cpu")
        coded = codec.compress(y)
        encode = best_of(lambda codec=codec: codec.compress(y), repeats)
        decode = best_of(lambda codec=codec, coded=coded: codec.decompress(coded["strings"], coded["shape"]), repeats)
        results[integer] = coded
        print(f"integer path {'on ' if integer else 'off'}: exact compress {encode:.2f} s, decompress {decode:.2f} s "
              f"({size}² tile, quality {quality:g}, {model})")
    if len(results) == 2:
        same = results[True]["strings"] == results[False]["strings"] and torch.equal(
            results[True]["y_hat"], results[False]["y_hat"])
        print(f"same streams and latents both ways: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, required=True, help="an RGB raster; its top-left tile is coded")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default="elic-small-mix-4")
    parser.add_argument("--quality", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {args.threads} thread(s)")
    rates = gemm_rates(args.repeats)
    print("GEMM rates (G op/s): " + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    print(f"integer_gemm_pays() here: {integer_gemm_pays()}")
    tile_times(args.image, args.size, args.model, args.quality, args.repeats)


if __name__ == "__main__":
    main()
