"""How a single band's mapping to the codec's [0, 1] changes its coding: the band's valid min–max (compress
--value-curve linear), percentile ranges with the outliers clipped (what ``--value-range`` does) or left
outside [0, 1], piecewise-linear maps that squeeze the tails into the ends, and compress's fitted curve
(format 6's default). Real streams of the codec on the centre crop (``--crop 0``: the whole band), the band
repeated into three channels as compress codes it; PSNR over the band's full range; BD-rate against min–max.

    python benchmarks/value_range.py SCENES/sentinel2_bands/s2_B05.tif SCENES/landsat8_bands/l8_B2.tif \
        --model elic-small-mix-8
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import rasterio
import torch
import torch.nn.functional as F

from ldmrsic_core.evaluation.bjontegaard import bd_rate
from ldmrsic_core.tiling import padded
from ldmrsic_core.value_curves import BandHistogram, fit_knots
from ldmrsic_core.zoo.registry import load_codec

QUALITIES = (1.5, 2.0, 3.0, 4.0)


def code(net: torch.nn.Module, units: np.ndarray, quality: float) -> tuple[int, np.ndarray]:
    """Bytes of the streams of a C×H×W image in unit values and its decoding (C×H×W, not clamped); sides that
    are not multiples of the codec's stride are padded by replication, as compress pads tiles."""
    h, w = units.shape[1:]
    x = torch.from_numpy(units.astype(np.float32))[None]
    x = F.pad(x, (0, padded(w) - w, 0, padded(h) - h), mode="replicate")
    with torch.no_grad():
        enc = net.compress(x, quality)
        out = net.decompress(enc["strings"], net.latent_shape(*x.shape[2:]), quality)["x_hat"]
    return sum(len(s[0]) for s in enc["strings"]), out[0, :, :h, :w].numpy()


def fitted(band: np.ndarray) -> tuple[list[float], list[float]]:
    """The knots of compress's fitted value curve for the band (``ldmrsic_core/value_curves.py``)."""
    histogram = BandHistogram(float(band.min()), float(band.max()), integer=bool(np.all(band == np.round(band))))
    histogram.add(band)
    knots = fit_knots(histogram)
    return [histogram.lo, *(v for v, _ in knots), histogram.hi], [0.0, *(u for _, u in knots), 1.0]


def mappings(band: np.ndarray) -> dict[str, tuple[list[float], list[float], bool]]:
    """name: (data knots, unit knots, clip the input to the knots' range)."""
    lo, hi = float(band.min()), float(band.max())
    p01, p999 = np.percentile(band, [0.1, 99.9])
    p1, p99 = np.percentile(band, [1, 99])
    return {"valid min-max (today)": ([lo, hi], [0, 1], False),
            "p0.1-p99.9, clipped": ([p01, p999], [0, 1], True),
            "p0.1-p99.9, unclipped": ([p01, p999], [0, 1], False),
            "p1-p99, clipped": ([p1, p99], [0, 1], True),
            "tails squeezed into 2%": ([lo, p01, p999, hi], [0, 0.02, 0.98, 1], False),
            "tails squeezed into 5%": ([lo, p01, p999, hi], [0, 0.05, 0.95, 1], False),
            "tails squeezed into 10%": ([lo, p01, p999, hi], [0, 0.1, 0.9, 1], False),
            "fitted curve (compress's default)": (*fitted(band), False)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bands", nargs="+", type=Path, help="single-band rasters")
    p.add_argument("--model", default="elic-small-mix-8")
    p.add_argument("--crop", type=int, default=512, help="centre crop size; 0: the whole band")
    p.add_argument("--only", nargs="*", help="mappings to run (default: all)")
    a = p.parse_args()
    net = load_codec(a.model).model.eval()
    net.update(force=True)
    print("| band | mapping | outside the range | " + " | ".join(f"q{q:g} bpp / PSNR" for q in QUALITIES)
          + " | BD-rate vs min-max |")
    print("|---|---|---|" + "---|" * len(QUALITIES) + "---|")
    for path in a.bands:
        with rasterio.open(path) as src:
            band = src.read(1).astype(np.float64)
        peak = band.max() - band.min()
        h, w = band.shape
        c = a.crop
        crop = band[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c] if c else band
        reference = None
        for name, (data, unit, clip) in mappings(band).items():
            if a.only and name not in a.only:
                continue
            lo_hi = (data[0], data[-1])
            slope = (unit[1] - unit[0]) / (data[1] - data[0])
            mapped = np.interp(crop, data, unit) if not clip and len(data) > 2 else (crop - data[0]) * slope
            if clip:
                mapped = np.clip(mapped, 0, 1)
            points = []
            for q in QUALITIES:
                nbytes, decoded = code(net, np.repeat(mapped[None], 3, 0), q)  # the band as compress codes it
                decoded = decoded.mean(0)
                back = np.interp(decoded, unit, data) if len(data) > 2 else data[0] + decoded / slope
                back = np.clip(np.rint(back), band.min(), band.max())
                points.append((8 * nbytes / crop.size, 10 * math.log10(peak**2 / np.mean((back - crop) ** 2))))
            rates, psnrs = [r for r, _ in points], [s for _, s in points]
            reference = reference or (rates, psnrs)
            delta = bd_rate(*reference, rates, psnrs)
            outside = np.mean((band < lo_hi[0]) | (band > lo_hi[1]))
            print(f"| {path.stem} | {name} | {outside:.2%} | " + " | ".join(f"{r:.4f} / {s:.2f}" for r, s in points)
                  + f" | {delta:+.1f}% |", flush=True)


if __name__ == "__main__":
    main()
