"""Where a scene's coding error is, and whether a value map in front of the codec moves it.

The scene's first three bands (8-bit) are coded whole, as one image (replicate-padded to the codec's stride,
nodata filled with each band's valid mean, as compress fills it), with real streams; PSNR is over valid pixels
at 255. Two tables:

- rate and PSNR per quality for each *map* from the band's values to the codec's [0, 1] and back: ``u8``
  (/255, what compress does with 8-bit bands), ``minmax`` (the band's valid min–max), ``gamma0.7`` (a
  power curve that spreads the dark values), ``pd`` (a Panter–Dite compander over the whole histogram: slope
  ∝ density^⅓, half mixed with a uniform slope); BD-rate against ``u8``;
- at ``--detail-quality`` with ``u8``: the squared error by brightness (mean of the bands) and the original's
  local contrast (energy of a 3×3 high-pass), to see which pixels carry the error.

    python benchmarks/scene_error.py ../shared/data/scenes/landsat7_rgb_uint8_nodata.tif --model elic-small-mix-15
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import rasterio
import torch
from value_range import code  # the same real-stream coding as the value-range study

from ldmrsic_core.evaluation.bjontegaard import bd_rate
from ldmrsic_core.zoo.registry import load_codec

MAPS = ("u8", "minmax", "gamma0.7", "pd")
BRIGHTNESS = ((0, 40), (40, 80), (80, 150), (150, 220), (220, 256))


def high_pass_energy(band: np.ndarray) -> np.ndarray:
    """Squared difference between each pixel and its 3×3 mean (edges replicated)."""
    padded_band = np.pad(band, 1, mode="edge")
    h, w = band.shape
    mean = sum(padded_band[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9
    return (band - mean) ** 2


def value_map(band: np.ndarray, valid: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Knots (values, units) of a piecewise-linear, increasing map from 8-bit values to [0, 1]."""
    v = band[valid]
    if kind == "u8":
        return np.array([0.0, 255.0]), np.array([0.0, 1.0])
    if kind == "minmax":
        return np.array([v.min(), v.max()], float), np.array([0.0, 1.0])
    if kind == "gamma0.7":
        values = np.linspace(0, 255, 257)
        return values, (values / 255) ** 0.7
    density = np.bincount(v.astype(np.int64), minlength=256)[:256] / v.size
    slope = density ** (1 / 3)
    slope = 0.5 * slope / slope.sum() + 0.5 / 256
    return np.arange(257) - 0.5, np.concatenate([[0.0], np.cumsum(slope)]) / slope.sum()


def run(net, scene: np.ndarray, valid: np.ndarray, kind: str, quality: float) -> tuple[float, float, np.ndarray]:
    """bpp over valid pixels, PSNR over valid pixels and the squared error (bands × H × W) for one map."""
    maps = [value_map(b, valid, kind) for b in scene]
    units = np.stack([np.interp(b, *m) for b, m in zip(scene, maps)])
    for band in units:
        band[~valid] = band[valid].mean()
    nbytes, out = code(net, units, quality)
    out = out.clip(0, 1)
    restored = np.stack([np.clip(np.round(np.interp(o, m[1], m[0])), 0, 255) for o, m in zip(out, maps)])
    error = (restored - scene) ** 2
    return nbytes * 8 / valid.sum(), 10 * np.log10(255**2 / error[:, valid].mean()), error


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scene", type=Path, help="an 8-bit raster (its first three bands are coded)")
    p.add_argument("--model", default="elic-small-mix-15")
    p.add_argument("--qualities", type=float, nargs="+", default=[2.0, 3.0, 4.0])
    p.add_argument("--maps", nargs="+", default=list(MAPS), choices=MAPS)
    p.add_argument("--detail-quality", type=float, default=4.0)
    a = p.parse_args()
    if len(a.qualities) < 2:
        p.error("--qualities: give at least two presets (the Bjøntegaard deltas need a curve)")
    torch.set_num_threads(1)
    with rasterio.open(a.scene) as src:
        if src.dtypes[0] != "uint8":
            p.error(f"{a.scene.name} has {src.dtypes[0]} pixels; this study maps 8-bit bands (value_range.py "
                    "studies wider ones)")
        scene = src.read(list(range(1, min(src.count, 3) + 1))).astype(np.float64)
        nodata = src.nodata
    valid = np.all(scene != nodata, axis=0) if nodata is not None else np.ones(scene.shape[1:], bool)
    net = load_codec(a.model).model.eval()

    print(f"{a.scene.name}: {valid.mean():.1%} valid; {a.model}, the scene coded whole")
    print("| map | " + " | ".join(f"q{q:g} bpp / PSNR" for q in a.qualities) + " | BD-rate vs u8 |")
    print("|---|" + "---|" * (len(a.qualities) + 1))
    curves, coded_at = {}, {}
    for kind in a.maps:
        coded = [run(net, scene, valid, kind, q) for q in a.qualities]
        curves[kind] = [(rate, psnr) for rate, psnr, _ in coded]
        coded_at.update({(kind, q): c for q, c in zip(a.qualities, coded)})
        base = curves.get("u8")
        bd = "" if base is None or kind == "u8" else f"{bd_rate(*zip(*base), *zip(*curves[kind])):+.2f}%"
        print(f"| {kind} | " + " | ".join(f"{r:.4f} / {s:.2f}" for r, s in curves[kind]) + f" | {bd} |", flush=True)

    _, psnr, error = coded_at.get(("u8", a.detail_quality)) or run(net, scene, valid, "u8", a.detail_quality)
    brightness = scene.mean(0)
    print(f"\nq{a.detail_quality:g}, u8: PSNR {psnr:.2f}, MSE {error[:, valid].mean():.1f} over valid pixels")
    print("| brightness | share of valid pixels | MSE |\n|---|---|---|")
    for lo, hi in BRIGHTNESS:
        sel = valid & (brightness >= lo) & (brightness < hi)
        if sel.any():
            print(f"| {lo}–{hi} | {sel.sum() / valid.sum():.1%} | {error[:, sel].mean():.0f} |")
    contrast = np.mean([high_pass_energy(b) for b in scene], axis=0)[valid]
    print("3×3 high-pass energy of the original, percentiles 50 / 90 / 99: "
          + " / ".join(f"{np.percentile(contrast, q):.0f}" for q in (50, 90, 99)))


if __name__ == "__main__":
    main()
