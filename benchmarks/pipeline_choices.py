"""The measurements behind the job pipeline's design (``ldmrsic_core/pipeline/executors.py``).

    python benchmarks/pipeline_choices.py [--timing]

1. Batching: is a tile's result the same alone and inside a batch? (codec transforms g_a/g_s of
   the shipped codec and the test-size one, at several tile shapes; the shipped enhancer.)
2. Threads: is a tile's result the same on 1, 2, 3, 4 and 8 torch threads? (g_a, g_s, the
   enhancer; and g_a with oneDNN switched off.)
3. With ``--timing`` (on an idle machine): the seconds of each run of 2., and compress of eight
   512² tiles of a real scene three ways — one after the other on two threads, the entropy
   coding of each tile handed to a worker thread while the next tile's analysis runs, and two
   tiles at a time (two threads each).
4. With ``--readback FILE``: peak RSS of reading a GeoTIFF back block by block (what decompress
   does to catch GDAL's silent write failures), with GDAL's default block cache and with ours.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import torch

from ldmrsic_core.zoo.configs import CODEC_CONFIGS as CONFIGS
from ldmrsic_core.zoo.enhancers import load_enhancer
from ldmrsic_core.zoo.registry import load_codec

SCENE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scenes" / "naip_rgbn_uint8_2020.tif"


@torch.no_grad()
def batching(codec, tiny) -> None:
    print("| model | tile | batch | g_a same as alone | g_s same as alone |\n|---|---|---|---|---|")
    for name, net in (("elic-small-ucm-1", codec), ("elic-tiny (random)", tiny)):
        for h, w in ((64, 64), (128, 192), (256, 256), (512, 448)):
            for b in (2, 3, 5):
                x = torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(h + w + b))
                y = net.g_a(x)
                alone_y = torch.cat([net.g_a(x[i:i + 1]) for i in range(b)])
                alone_x = torch.cat([net.g_s(y[i:i + 1]) for i in range(b)])
                print(f"| {name} | {h}×{w} | {b} | {torch.equal(y, alone_y)} | {torch.equal(net.g_s(y), alone_x)} |")


@torch.no_grad()
def enhancer_batching(enhancer) -> None:
    x = torch.rand(3, 3, 320, 320, generator=torch.Generator().manual_seed(0))
    batch = enhancer.enhance(x, [1, 2, 3], 0.5)
    alone = torch.cat([enhancer.enhance(x[i:i + 1], [i + 1], 0.5) for i in range(3)])
    print(f"\nmen-small-ucm-1, 320² context, batch 3: same as alone: {torch.equal(batch, alone)} "
          f"(largest difference {float((batch - alone).abs().max()):.1e})")


@torch.no_grad()
def threads(codec, enhancer, timed: bool) -> None:
    x = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(1))
    counts = (1, 2, 3, 4, 8)
    runs = {"g_a": lambda: codec.g_a(x), "g_s": lambda: codec.g_s(codec.g_a(x)),
            "enhancer (320² context)": lambda: enhancer.enhance(x[..., :320, :320], [0], 0.5),
            "g_a without oneDNN": lambda: codec.g_a(x)}
    results: dict[str, dict[int, torch.Tensor]] = {k: {} for k in runs}
    seconds: dict[str, dict[int, float]] = {k: {} for k in runs}
    for n in counts:
        torch.set_num_threads(n)
        for label, run in runs.items():
            torch.backends.mkldnn.enabled = "oneDNN" not in label
            run()
            start = time.perf_counter()
            results[label][n] = run()
            seconds[label][n] = time.perf_counter() - start
        torch.backends.mkldnn.enabled = True
    print("\nThe same 512² tile on n threads; the result's bits against those of 1, 2 and 3 threads"
          + (" (and seconds)" if timed else "") + ":\n")
    print("| | " + " | ".join(f"{n} threads" for n in counts) + " |\n" + "|---" * (len(counts) + 1) + "|")
    for label, by_count in results.items():
        cells = []
        for n in counts:
            same = [str(m) for m in (1, 2, 3) if torch.equal(by_count[n], by_count[m])]
            cell = f"as {'/'.join(same)}" if same else "other"
            cells.append(cell + (f", {seconds[label][n]:.2f} s" if timed else ""))
        print(f"| {label} | " + " | ".join(cells) + " |")
    torch.set_num_threads(2)


@torch.no_grad()
def timing(codec) -> None:
    with rasterio.open(SCENE) as src:
        pixels = src.read([1, 2, 3])[:, :704, :896].astype(np.float32) / 255
    tiles = [torch.from_numpy(np.ascontiguousarray(pixels[:, r:r + 512, c:c + 512]))[None]
             for r in (0, 192) for c in (0, 384)] * 2
    gain, _ = codec.gains(3.0)
    exact = codec.exact_latent_codec()

    def analysis(x):
        return codec.g_a(x) * gain

    def entropy(y):
        return exact.compress(y.to(torch.float64))["strings"]

    def on_threads(n, fn):
        def run(*args):
            torch.set_num_threads(n)
            with torch.no_grad():
                return fn(*args)
        return run

    torch.set_num_threads(2)
    entropy(analysis(tiles[0]))  # warm-up
    quarters = [x[..., r:r + 256, c:c + 256].contiguous() for x in tiles[:4] for r in (0, 256) for c in (0, 256)]
    for size, batch in ((256, quarters), (512, tiles)):
        spent = {"analysis": 0.0, "entropy": 0.0}
        for x in batch:
            start = time.perf_counter()
            y = analysis(x)
            spent["analysis"] += time.perf_counter() - start
            start = time.perf_counter()
            entropy(y)
            spent["entropy"] += time.perf_counter() - start
        total = sum(spent.values())
        print(f"\n{len(batch)} tiles of {size}², compress one after the other: {total:.1f} s; analysis g_a "
              f"{spent['analysis']:.1f} s ({100 * spent['analysis'] / total:.0f}%), exact entropy coding "
              f"{spent['entropy']:.1f} s ({100 * spent['entropy'] / total:.0f}%)")
    sequential = total
    start = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        for f in [pool.submit(on_threads(1, entropy), analysis(x)) for x in tiles]:
            f.result()
    pipelined = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(on_threads(2, lambda x: entropy(analysis(x))), tiles))
    two_at_once = time.perf_counter() - start
    print(f"\n8 tiles of 512², compress: one after the other {sequential:.1f} s; entropy coding on a worker "
          f"thread {pipelined:.1f} s; two tiles at a time {two_at_once:.1f} s")


def readback(path: Path) -> None:
    peaks = {}
    for cache in ("default", "capped"):
        out = subprocess.run([sys.executable, __file__, "--readback-child", str(path), cache],
                             check=True, capture_output=True, text=True)
        peaks[cache] = json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
    print(f"\nReading back {path.name} block by block: peak RSS {peaks['default']:.0f} MB with GDAL's default "
          f"block cache, {peaks['capped']:.0f} MB with ldmrsic-geo's (GDAL_CACHE_MB)")


def _readback_child(path: str, cache: str) -> None:
    from ldmrsic_core.raster_io import bounded_gdal_cache, check_written

    if cache == "capped":
        with bounded_gdal_cache():
            check_written(Path(path), Path(path))
    else:
        check_written(Path(path), Path(path))
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
    print(json.dumps({"peak_mb": peak}))


def main() -> None:
    if sys.argv[1:2] == ["--readback-child"]:
        _readback_child(*sys.argv[2:4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--readback", type=Path, default=None)
    args = parser.parse_args()
    if args.readback:
        readback(args.readback)
        return
    codec = load_codec(None, "cpu").model
    tiny = CONFIGS["elic-tiny"].build().eval()
    enhancer = load_enhancer("men-small-ucm-1", "cpu").model
    batching(codec, tiny)
    enhancer_batching(enhancer)
    threads(codec, enhancer, args.timing)
    if args.timing:
        timing(codec)


if __name__ == "__main__":
    main()
