"""Speed and memory against scene size, side by side with GDAL's codecs, and where the time goes.

    python benchmarks/throughput.py --work scratch/throughput [--sizes 1024 4096 20480x1024] [--jobs 1 2]
        [--workers 2] [--no-gdal] [--device cuda --tile-batch 8] [--model PATH --enhancer PATH]

Inputs: ``landsat8_224078_rgb_uint16.tif`` (2041×1860, uint16) and synthetic uint8 RGB scenes of
size² (or W×H) pixels mosaicked (mirrored, so without seams) from ``naip_rgbn_uint8_2020.tif``
(or ``--source``), written window by window. Ours runs once per ``--jobs`` value (tiles in flight in one process)
and, with ``--workers N``, on a local Dask cluster of N worker processes. Every run is a child
process: wall seconds, megapixels per second, the child's own peak RSS (VmHWM) and, on a GPU,
the peak GPU memory torch reserved. Ours:
``compress`` (quality 3, tile 512, overlap 16, ``--device``), ``decompress --no-enhance`` and
``decompress`` (with enhancement); every placement must write the same file. GDAL in the same run on the
same input: JP2OpenJPEG at about our rate (encode: GeoTIFF → .jp2; decode: .jp2 → GeoTIFF), and
GeoTIFF with JPEG and WEBP compression (8-bit inputs only: GDAL's JPEG-in-TIFF and WEBP take
8-bit data). With ``--profile`` the 1024² decompress+enhance is also run under cProfile and its
time split into model parts, entropy coding and I/O.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scenes"
LANDSAT = "landsat8_224078_rgb_uint16.tif"
NAIP = "naip_rgbn_uint8_2020.tif"


def peak_mb() -> float:
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024


def peak_gpu_mb() -> float | None:
    """Peak GPU memory torch reserved in this process (what the GPU had to hold), None without CUDA use."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return max(torch.cuda.max_memory_reserved(i) for i in range(torch.cuda.device_count())) / 2**20


def child(kind: str, src: str, dst: str, extra: str) -> None:
    """One measured job in this (fresh) process; prints {"seconds", "peak_mb"} as JSON."""
    import rasterio
    import rasterio.shutil

    options = json.loads(extra)
    start = time.perf_counter()
    if kind == "compress":
        from ldmrsic_core import compress_raster

        compress_raster(src, dst, quality=3.0, overwrite=True, **options)
    elif kind in ("decompress", "decompress+enhance"):
        from ldmrsic_core import decompress_raster

        decompress_raster(src, dst, enhance=kind != "decompress", overwrite=True, **options)
    elif kind == "gdal-encode":
        rasterio.shutil.copy(src, dst, **options)
    elif kind == "gdal-decode":
        rasterio.shutil.copy(src, dst, driver="GTiff", tiled=True)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": peak_mb(), "peak_gpu_mb": peak_gpu_mb()}))


def measure(kind: str, src: Path, dst: Path, extra: dict | None = None) -> dict:
    """Run one job in a child process; peak RSS is that process's own (not its Dask workers')."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(src), str(dst), json.dumps(extra or {})],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_size(text: str) -> tuple[int, int]:
    """``"4096"`` → (4096, 4096); ``"20480x1024"`` → (width, height)."""
    width, _, height = text.partition("x")
    return int(width), int(height or width)


def mosaic(source: Path, target: Path, width: int, height: int) -> Path:
    """A width×height RGB uint8 scene of mirrored copies of ``source``'s first three bands, written by windows."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    if target.exists():
        return target
    with rasterio.open(source) as src:
        data = src.read([1, 2, 3])
        profile = {"driver": "GTiff", "width": width, "height": height, "count": 3, "dtype": "uint8",
                   "crs": src.crs, "transform": src.transform, "tiled": True, "blockxsize": 512,
                   "blockysize": 512, "compress": "deflate", "predictor": 2, "bigtiff": "IF_SAFER"}
    h, w = data.shape[1:]
    rows = np.arange(height) % (2 * h)
    rows = np.where(rows < h, rows, 2 * h - 1 - rows)
    cols = np.arange(width) % (2 * w)
    cols = np.where(cols < w, cols, 2 * w - 1 - cols)
    with rasterio.open(target, "w", **profile) as dst:
        for r in range(0, height, 512):
            for c in range(0, width, 512):
                block = data[:, rows[r:r + 512]][:, :, cols[c:c + 512]]
                dst.write(block, window=Window(c, r, block.shape[2], block.shape[1]))
    return target


def median_measure(repeat: int, kind: str, src: Path, dst: Path, extra: dict | None = None) -> dict:
    """:func:`measure` ``repeat`` times; the run with the median seconds (GDAL's runs are short and noisy)."""
    runs = sorted((measure(kind, src, dst, extra) for _ in range(repeat)), key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def scene_rows(src: Path, work: Path, name: str, placements: list[tuple[str, dict]],
               gdal: bool = True, gdal_repeat: int = 5) -> list[tuple[str, str, float, float, float, float, str]]:
    """(input, job, MP, seconds, MP/s, peak MB, peak GPU MB) for ours (once per placement: where the tile jobs
    run, in which precision) and GDAL's codecs on one input (median of ``gdal_repeat`` runs). Every placement
    of one precision must write the same file."""
    import rasterio

    with rasterio.open(src) as ds:
        mp = ds.width * ds.height / 1e6
        eight_bit = ds.dtypes[0] == "uint8"
    packed, rows, first = work / f"{name}.ldmr", [], {}
    for where, options in placements:
        jobs = [("compress", src, packed), ("decompress", packed, work / f"{name}.noenh.tif"),
                ("decompress+enhance", packed, work / f"{name}.enh.tif")]
        for kind, src_, dst in jobs:
            result = measure(kind, src_, dst, options)
            gpu = result.get("peak_gpu_mb")
            rows.append((name, f"ours ({where}): {kind}", mp, result["seconds"], mp / result["seconds"],
                         result["peak_mb"], "–" if gpu is None else f"{gpu:.0f}"))
        precision = options.get("precision", "auto")
        if precision not in first:
            first[precision] = (where, packed.read_bytes())
        elif packed.read_bytes() != first[precision][1]:
            raise SystemExit(f"{where} wrote another file than {first[precision][0]}: a bug")
    if not gdal:
        return rows
    bpp = 8 * packed.stat().st_size / (mp * 1e6)
    gdal = [("JP2OpenJPEG", work / f"{name}.jp2", _jp2_options(bpp, "uint8" if eight_bit else "uint16"))]
    if eight_bit:
        gdal += [("GTiff JPEG", work / f"{name}.jpeg.tif", {"driver": "GTiff", "compress": "JPEG", "jpeg_quality": 75,
                                                             "tiled": True, "photometric": "YCBCR"}),
                 ("GTiff WEBP", work / f"{name}.webp.tif", {"driver": "GTiff", "compress": "WEBP", "webp_level": 75,
                                                             "tiled": True})]
    for label, dst, options in gdal:
        enc = median_measure(gdal_repeat, "gdal-encode", src, dst, options)
        dec = median_measure(gdal_repeat, "gdal-decode", dst, work / f"{name}.{dst.suffix[1:]}.back.tif")
        rows.append((name, f"GDAL {label}: encode", mp, enc["seconds"], mp / enc["seconds"], enc["peak_mb"], "–"))
        rows.append((name, f"GDAL {label}: decode", mp, dec["seconds"], mp / dec["seconds"], dec["peak_mb"], "–"))
    return rows


def print_ratios(rows: list[tuple]) -> None:
    """Ours as a fraction of GDAL JPEG2000's speed on the same input (the issue's measure: 1/N)."""
    speed = {job: mps for _, job, _, _, mps, _, _ in rows}
    encode, decode = speed.get("GDAL JP2OpenJPEG: encode"), speed.get("GDAL JP2OpenJPEG: decode")
    if not encode or not decode:
        return
    for job, mps in speed.items():
        if job.startswith("ours"):
            reference = encode if job.endswith("compress") and "decompress" not in job else decode
            print(f"  {job}: 1/{reference / mps:.0f} of GDAL JPEG2000's speed", flush=True)


def _jp2_options(bpp: float, dtype: str) -> dict:
    import numpy as np

    from ldmrsic_core.evaluation.classic import jpeg2000_options

    return {"driver": "JP2OpenJPEG", **jpeg2000_options(np.zeros((3, 1, 1), dtype), bpp)}


def profile(packed: Path, work: Path) -> None:
    """Where decompress+enhance spends its time (cProfile, cumulative seconds of chosen functions)."""
    from ldmrsic_core import decompress_raster

    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    decompress_raster(packed, work / "profiled.tif", device="cpu", overwrite=True)
    prof.disable()
    total = time.perf_counter() - start
    stats = pstats.Stats(prof).stats
    parts = {  # label: (file name ending or "~" for built-ins, a text the function's name must contain)
        "entropy model + rANS (exact latent codec decompress)": ("hyperprior.py", "decompress"),
        "  of which rANS decoding (C++, own time of the entropy models' decompress)":
            ("entropy_models.py", "decompress*"),
        "synthesis transform g_s": ("codec.py", "synthesize"),
        "enhancement (LRM_DM + diffusion + MEN)": ("enhancer.py", "enhance"),
        "loading the codec and enhancer (read, SHA-256, build)": ("registry.py", "load_codec"),
        "  enhancer": ("enhancers.py", "load_enhancer"),
    }
    print(f"\nProfile of decompress+enhance of {packed.name}: {total:.1f} s in all (cProfile adds a little)")
    print("| part | seconds | share |\n|---|---|---|")
    counted = 0.0
    for label, (file, func) in parts.items():
        if file == "~":
            seconds = sum(st[3] for (f, _, name), st in stats.items() if f == "~" and func in name)
        else:
            own = func.endswith("*")  # own time (cProfile does not see pybind11 methods: C++ counts as the caller's)
            seconds = sum(st[2] if own else st[3] for (f, _, name), st in stats.items()
                          if f.endswith(file) and name == func.rstrip("*"))
        counted += 0 if label.startswith(" ") else seconds
        print(f"| {label} | {seconds:.1f} | {100 * seconds / total:.0f}% |")
    rest = total - counted
    print(f"| the rest: reading tiles, blending, GeoTIFF writing and read-back check, Python | {rest:.1f} | "
          f"{100 * rest / total:.0f}% |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sizes", nargs="*", default=["1024", "4096", "8192"], help="N (N²) or WxH")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1], help="tiles in flight in one process")
    parser.add_argument("--workers", type=int, default=None, help="also run on a local Dask cluster")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (for ours)")
    parser.add_argument("--precisions", nargs="*", default=["auto"], help="auto, fp32, bf16 (for ours)")
    parser.add_argument("--no-landsat", action="store_true")
    parser.add_argument("--no-gdal", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--gdal-repeat", type=int, default=5, help="GDAL runs per job (the median is shown)")
    parser.add_argument("--source", type=Path, default=SHARED / NAIP, help="RGB scene the mosaics are made of")
    parser.add_argument("--tile-batch", type=int, default=None, help="tiles per model call (for ours)")
    parser.add_argument("--model", default=None, help="codec name or weights file (default: the installed one)")
    parser.add_argument("--enhancer", default=None, help="enhancer name or weights file (default: the codec's)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    inputs = [] if args.no_landsat else [(SHARED / LANDSAT, "landsat8-uint16")]
    inputs += [(mosaic(args.source, args.work / f"naip-mosaic-{s}.tif", *parse_size(s)), f"mosaic-{s}")
               for s in args.sizes]
    models = {k: v for k, v in (("model", args.model), ("enhancer", args.enhancer), ("tile_batch", args.tile_batch))
              if v is not None}
    placements = [(f"jobs {j}, {p}", {"jobs": j, "device": args.device, "precision": p, **models})
                  for p in args.precisions for j in args.jobs]
    if args.workers:
        placements.append((f"Dask {args.workers} workers", {"workers": args.workers, "device": args.device,
                                                            "precision": args.precisions[0], **models}))
    print("| input | job | MP | seconds | MP/s | peak RSS MB | peak GPU MB |", "|---|---|---|---|---|---|---|",
          sep="\n", flush=True)
    for src, name in inputs:
        rows = scene_rows(src, args.work, name, placements, gdal=not args.no_gdal, gdal_repeat=args.gdal_repeat)
        for row in rows:
            print("| {} | {} | {:.2f} | {:.1f} | {:.3f} | {:.0f} | {} |".format(*row), flush=True)
        print_ratios(rows)
    if args.profile:
        smallest = min(args.sizes, key=lambda s: parse_size(s)[0] * parse_size(s)[1]) if args.sizes else None
        profile(args.work / (f"mosaic-{smallest}.ldmr" if smallest else "landsat8-uint16.ldmr"), args.work)


if __name__ == "__main__":
    main()
