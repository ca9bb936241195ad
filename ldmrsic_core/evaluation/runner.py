"""``evaluate``: every image × codec × setting → per-image CSV, averaged RD table, BD-rates,
plots, a side-by-side crop and a report.

Images are read whole (evaluation images are tiles or modest scenes, not archives). Every
band goes through the mapping ``compress`` uses (8-bit: 0–255; else each band's valid
min–max), so all codecs are scored in the same unit range: PSNR over valid pixels of all bands
at peak 1 — for 8-bit data exactly PSNR at 255. Classical codecs see the mapped bands as 8-bit
images in groups of three (the last band repeated, as ours does), so wider data loses to the
8-bit quantisation there. Ours runs the product path (``compress_raster`` → ``.ldmr`` →
``decompress_raster``, with and without enhancement) and counts the whole file.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import torch

from ldmrsic_core import defaults
from ldmrsic_core.bands import ValueMapping, default_mapping, from_channels, group_bands, to_channels
from ldmrsic_core.errors import InputError, OutputExistsError
from ldmrsic_core.evaluation.codecs import ALL_CODECS, CLASSIC, LEARNED
from ldmrsic_core.evaluation.metrics import psnr
from ldmrsic_core.inputs import IMAGE_SUFFIXES, find_rasters
from ldmrsic_core.outputs import check_folder_writable


@dataclass(frozen=True)
class Image:
    path: Path
    unit: np.ndarray           # bands×H×W in [0, 1]
    valid: np.ndarray          # bands×H×W
    mappings: tuple[ValueMapping, ...]
    bits: int = 8              # bits per sample of the source: 8, or 16 for anything wider

    @property
    def pixels(self) -> int:
        return self.unit.shape[1] * self.unit.shape[2]


def read_image(path: Path) -> Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        try:
            with rasterio.open(path) as src:
                values, valid = src.read(), src.read_masks() > 0
        except rasterio.errors.RasterioIOError:
            raise InputError(f"{path} is not a raster GDAL can read") from None
    if np.issubdtype(values.dtype, np.floating):
        valid &= np.isfinite(values)
    if not valid.any():
        raise InputError(f"{path} has no valid pixel (every value is nodata or masked): it cannot be scored")
    mappings = []
    for b in range(values.shape[0]):
        v = values[b][valid[b]]
        if values.dtype == np.uint8:
            mappings.append(default_mapping("uint8", 0, 255))
        elif v.size:
            mappings.append(default_mapping(values.dtype.name, float(v.min()), float(v.max())))
        else:
            raise InputError(f"{path} band {b + 1} has no valid pixel")
    unit = np.stack([m.to_unit(values[b]) for b, m in enumerate(mappings)]).astype(np.float32)
    return Image(path, np.where(valid, unit, 0), valid, tuple(mappings), 8 if values.dtype == np.uint8 else 16)


def scores(image: Image, decoded: np.ndarray) -> tuple[float, float]:
    """PSNR (valid pixels, all bands, peak 1) and MS-SSIM (mean over groups of three bands; NaN if small)."""
    err = ((decoded - image.unit) ** 2)[image.valid]
    quality = psnr(float(err.mean()))
    if min(image.unit.shape[1:]) <= 160:
        return quality, math.nan
    from pytorch_msssim import ms_ssim

    values = []
    for group in group_bands(image.unit.shape[0]):
        a = torch.from_numpy(np.ascontiguousarray(to_channels(decoded, group)))[None]
        b = torch.from_numpy(np.ascontiguousarray(to_channels(image.unit, group)))[None]
        values.append(ms_ssim(a.float(), b.float(), data_range=1.0).item())
    return quality, float(np.mean(values))


def run_classic(name: str, image: Image, setting: float) -> tuple[int, np.ndarray, float, float]:
    """One classical codec on the image's groups of three bands, at the deepest samples both have
    (an image wider than 8 bits goes to JPEG2000 as 16-bit, to WebP as 8-bit)."""
    codec = CLASSIC[name]
    bits = min(image.bits, codec.bits)
    peak = (1 << bits) - 1
    size, parts, encode_s, decode_s = 0, [], 0.0, 0.0
    for group in group_bands(image.unit.shape[0]):
        samples = np.round(to_channels(image.unit, group) * peak).astype(np.uint8 if bits == 8 else np.uint16)
        start = time.perf_counter()
        data = codec.encode(samples.transpose(1, 2, 0).copy(), setting)
        middle = time.perf_counter()
        decoded = codec.decode(data)
        encode_s, decode_s = encode_s + middle - start, decode_s + time.perf_counter() - middle
        size += len(data)
        parts.append(from_channels(decoded.transpose(2, 0, 1).astype(np.float32) / peak, group))
    return size, np.concatenate(parts), encode_s, decode_s


def run_learned(image: Image, quality: float, model, device: str, modes: list[str],
                tmp: Path, precision: str = defaults.PRECISION,
                jobs: int | None = None) -> dict[str, tuple[int, np.ndarray, float, float]]:
    from ldmrsic_core import compress_raster, decompress_raster

    packed = tmp / "x.ldmr"
    start = time.perf_counter()
    compress_raster(image.path, packed, quality=quality, model=model, device=device, overwrite=True,
                    precision=precision, jobs=jobs)
    encode = time.perf_counter() - start
    out = {}
    for mode in modes:
        restored = tmp / f"{mode}.tif"
        start = time.perf_counter()
        decompress_raster(packed, restored, model=model, device=device, enhance=mode == "ldmrsic", overwrite=True,
                          precision=precision, jobs=jobs)
        decode = time.perf_counter() - start
        with rasterio.open(restored) as src:
            values = src.read()
        unit = np.stack([m.to_unit(values[b]) for b, m in enumerate(image.mappings)]).astype(np.float32)
        out[mode] = (packed.stat().st_size, unit, encode, decode)
    return out


def evaluate(inputs: list[Path], out: Path, *, codecs: tuple[str, ...] = ALL_CODECS,
             qualities: tuple[float, ...] = defaults.EVAL_QUALITIES, anchor: str | None = None, model=None,
             device: str = "auto", limit: int = 0, overwrite: bool = False,
             progress: Callable[[int, int], None] | None = None, precision: str = defaults.PRECISION,
             jobs: int | None = None) -> Path:
    """Run the evaluation and write its files into ``out`` (made atomically: a temporary folder renamed).
    ``jobs`` caps the CPU threads it uses: our codec's tile jobs (one thread each) and the metrics' torch
    threads (restored after); None: one per core. Beside a training run, 1 keeps both going."""
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs {jobs}: give 1 or more CPU threads")
    unknown = [c for c in codecs if c not in ALL_CODECS]
    if unknown:
        raise InputError(f"unknown codec {', '.join(unknown)}; choose from {', '.join(ALL_CODECS)}")
    if anchor and anchor not in codecs:
        raise InputError(f"--anchor {anchor} is not among --codecs")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out} exists and is not empty; pass --overwrite or choose another --out")
    if not out.parent.is_dir():
        raise InputError(f"output folder {out.parent} does not exist")
    check_folder_writable(out.parent)
    files = find_rasters(inputs, suffixes=IMAGE_SUFFIXES, limit=limit,
                         none_found=f"no images found ({', '.join(IMAGE_SUFFIXES)} or GeoTIFF)")
    classic_runs = [(f, c, s) for f in files for c in codecs if c in CLASSIC for s in CLASSIC[c].settings]
    learned = [c for c in codecs if c in LEARNED]
    total = len(classic_runs) + len(files) * len(qualities) * (1 if learned else 0)
    rows: list[dict] = []
    keep: dict[tuple[str, float], tuple[float, np.ndarray]] = {}  # first image's decodings, for the crops
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    done = 0
    threads = torch.get_num_threads()
    if jobs is not None:
        torch.set_num_threads(jobs)
    try:
        for index, path in enumerate(files):
            image = read_image(path)
            results: list[tuple[str, float, tuple[int, np.ndarray, float, float]]] = []
            for name in codecs:
                if name in CLASSIC:
                    for setting in CLASSIC[name].settings:
                        results.append((name, setting, run_classic(name, image, setting)))
                        done += 1
                        if progress:
                            progress(done, total)
            if learned:
                for q in qualities:
                    for mode, result in run_learned(image, q, model, device, learned, work, precision,
                                                    jobs).items():
                        results.append((mode, q, result))
                    done += 1
                    if progress:
                        progress(done, total)
            for name, setting, (size, decoded, enc, dec) in results:
                psnr, msssim = scores(image, decoded)
                bpp = 8 * size / image.pixels
                rows.append({"image": str(path), "codec": name, "setting": setting, "bytes": size, "bpp": bpp,
                             "psnr": psnr, "ms_ssim": msssim, "encode_s": enc, "decode_s": dec})
                if index == 0:
                    keep[(name, setting)] = (bpp, decoded)
            if index == 0:
                first = image
        from ldmrsic_core.evaluation.report import write_report

        write_report(work, rows, files, first, keep, codecs, anchor)
        for leftover in work.glob("*.ldmr"):
            leftover.unlink()
        for leftover in work.glob("*.tif"):
            leftover.unlink()
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
    finally:
        torch.set_num_threads(threads)
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return out
