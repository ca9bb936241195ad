"""One scene, our file against GDAL's JPEG2000 and WebP at the same file size: the demo's table and
its side-by-side crop.

Ours is the product path (``compress_raster`` then ``decompress_raster``, with and without the
enhancement, whole-file bytes). The classical codecs are those of ``eval`` (each group of three
bands as an 8-bit image), set to the bytes of our file: JPEG2000 by its rate (corrected by the
bytes it wrote until within 2% below ours), WebP by a bisection on its quality (the largest file not above ours).
WebP takes 8-bit three-band groups only, so it is left out for other data. PSNR and MS-SSIM are
``eval``'s.

    python -m ldmrsic_core.evaluation.side_by_side SCENE --work DIR [--quality Q] [--crop-png P]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from ldmrsic_core import defaults
from ldmrsic_core.bands import group_bands
from ldmrsic_core.evaluation.runner import Image, read_image, run_classic, run_learned, scores

#: JPEG2000 rate tries, and WebP quality bisection steps.
JPEG2000_TRIES = 8
WEBP_STEPS = 7


@dataclass(frozen=True)
class Row:
    codec: str
    bytes: int
    bpp: float
    psnr: float
    ms_ssim: float
    encode_s: float
    decode_s: float
    unit: np.ndarray  # the decoded bands in [0, 1], for the crops


def compare_at_same_size(scene: Path, work: Path, quality: float = defaults.QUALITY, model=None,
                         device: str = "cpu", precision: str = defaults.PRECISION) -> list[Row]:
    """Ours (enhanced, and the codec alone), then JPEG2000 and WebP at our file's size."""
    image = read_image(scene)
    work.mkdir(parents=True, exist_ok=True)
    learned = run_learned(image, quality, model, device, ["ldmrsic", "ldmrsic-noenh"], work, precision)
    rows = [_row(image, name, *learned[mode]) for mode, name in (("ldmrsic", "ldmrsic-geo"),
                                                                 ("ldmrsic-noenh", "ldmrsic-geo, no enhancement"))]
    goal = rows[0].bytes
    rows.append(_row(image, "JPEG2000 (GDAL OpenJPEG)", *_jpeg2000_at(image, goal)))
    webp = _webp_at(image, goal)
    if webp is not None:
        rows.append(_row(image, "WebP (GDAL)", *webp))
    return rows


def _row(image: Image, name: str, size: int, unit: np.ndarray, encode_s: float, decode_s: float) -> Row:
    quality, msssim = scores(image, unit)
    return Row(name, size, 8 * size / image.pixels, quality, msssim, encode_s, decode_s, unit)


def _jpeg2000_at(image: Image, goal: int) -> tuple[int, np.ndarray, float, float]:
    """JPEG2000 at the largest size not above ``goal`` bytes that a few rate corrections find."""
    groups = len(group_bands(image.unit.shape[0]))
    bpp = 8 * goal / image.pixels / groups  # per coded group, as run_classic sets it
    below, above = None, None  # (setting, result) nearest the goal on each side
    for _ in range(JPEG2000_TRIES):
        result = run_classic("jpeg2000", image, bpp)
        if result[0] <= goal:
            if below is None or result[0] > below[1][0]:
                below = (bpp, result)
        elif above is None or bpp < above[0]:
            above = (bpp, result)
        if result[0] >= 0.98 * goal and result[0] <= goal:
            break
        # the rate control is coarse: bisect once a setting above and one below are known
        bpp = (below[0] + above[0]) / 2 if below and above else bpp * 0.99 * goal / result[0]
    return below[1] if below is not None else result


def _webp_at(image: Image, goal: int) -> tuple[int, np.ndarray, float, float] | None:
    """The largest WebP not above ``goal`` bytes (None: WebP cannot code this data, or not that small)."""
    if any(m.peak != 255 or m.lo != 0 for m in image.mappings):
        return None
    lo, hi, best = 0.0, 100.0, None
    for _ in range(WEBP_STEPS):
        mid = round((lo + hi) / 2)
        result = run_classic("webp", image, mid)
        if result[0] <= goal:
            lo, best = mid, result
        else:
            hi = mid
        if hi - lo <= 1:
            break
    return best


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| codec | bytes | bpp | PSNR dB | MS-SSIM | encode s | decode s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        msssim = "–" if math.isnan(r.ms_ssim) else f"{r.ms_ssim:.4f}"
        lines.append(f"| {r.codec} | {r.bytes} | {r.bpp:.4f} | {r.psnr:.2f} | {msssim} | {r.encode_s:.2f} | "
                     f"{r.decode_s:.2f} |")
    return "\n".join(lines)


def verdict(rows: list[Row]) -> str:
    """One plain sentence per classical codec: where ours stands at the same size."""
    ours = rows[0]
    out = []
    for r in rows[2:]:
        gap = ours.psnr - r.psnr
        word = "ahead of" if gap > 0.05 else "behind" if gap < -0.05 else "level with"
        fewer = 100 * (1 - r.bytes / ours.bytes)
        bytes_note = f", with {fewer:.0f}% fewer bytes" if fewer > 2 else ""
        out.append(f"at {ours.bpp:.3f} bpp ldmrsic-geo is {abs(gap):.2f} dB {word} {r.codec.split(' ')[0]} "
                   f"({ours.psnr:.2f} against {r.psnr:.2f} dB at {r.bpp:.3f} bpp{bytes_note})")
    return "; ".join(out)


def crops_png(image: Image, rows: list[Row], path: Path, bands: tuple[int, ...] = (1, 2, 3), size: int = 160,
              zoom: int = 2) -> Path:
    """Original, JPEG2000 and ours side by side: the most textured ``size``² crop, ``zoom``× enlarged,
    shown through ``bands`` (1-based) stretched from the original's 2nd to 98th percentile."""
    from PIL import Image as Picture
    from PIL import ImageDraw

    chosen = [r for r in rows if r.codec.startswith(("JPEG2000", "ldmrsic-geo")) and "no enhancement" not in r.codec]
    chosen = [chosen[-1], chosen[0]]  # JPEG2000, then ours
    idx = [b - 1 for b in bands]
    h, w = image.unit.shape[1:]
    size = min(size, h, w)
    r0, c0 = _textured(image.unit[idx].mean(axis=0), size)
    window = (slice(None), slice(r0, r0 + size), slice(c0, c0 + size))
    lo, hi = np.percentile(image.unit[idx][image.valid[idx]], [2, 98]) if image.valid[idx].any() else (0.0, 1.0)
    panels = [("original", image.unit)] + [(f"{r.codec.split(' (')[0]} {r.bpp:.3f} bpp {r.psnr:.2f} dB", r.unit)
                                           for r in chosen]
    label = 16
    sheet = Picture.new("RGB", (len(panels) * size * zoom, size * zoom + label), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (title, unit) in enumerate(panels):
        rgb = np.clip((unit[idx][window] - lo) / max(hi - lo, 1e-6), 0, 1)
        tile = Picture.fromarray((rgb.transpose(1, 2, 0) * 255).round().astype(np.uint8))
        sheet.paste(tile.resize((size * zoom, size * zoom), Picture.NEAREST), (i * size * zoom, label))
        draw.text((i * size * zoom + 4, 2), title, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def _textured(gray: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size``² window (on a half-size grid) with the most gradient energy."""
    gy, gx = np.gradient(gray.astype(np.float64))
    energy = gy ** 2 + gx ** 2
    h, w = gray.shape
    step = max(size // 2, 1)
    best, corner = -1.0, (0, 0)
    for r in range(0, max(h - size, 0) + 1, step):
        for c in range(0, max(w - size, 0) + 1, step):
            e = float(energy[r:r + size, c:c + size].sum())
            if e > best:
                best, corner = e, (r, c)
    return corner


def kept_georeferencing(scene: Path, decoded: Path) -> str:
    """What the decoded GeoTIFF kept of the original: CRS, size, bands, dtype."""
    with rasterio.open(scene) as a, rasterio.open(decoded) as b:
        same = (a.crs == b.crs, (a.width, a.height) == (b.width, b.height), a.count == b.count,
                a.dtypes == b.dtypes, a.transform == b.transform)
        crs = b.crs.to_string() if b.crs else "no CRS"
        return (f"decoded GeoTIFF: {crs}, {b.width}×{b.height}, {b.count} × {b.dtypes[0]}, nodata {b.nodata}"
                f" — {'all kept' if all(same) else 'CHANGED'} (CRS, size, bands, dtype, geotransform)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scene", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--quality", type=float, default=defaults.QUALITY)
    parser.add_argument("--model", default=None)
    parser.add_argument("--crop-png", type=Path, default=None)
    parser.add_argument("--bands", default="1,2,3", help="bands shown in the crop PNG")
    args = parser.parse_args(argv)
    rows = compare_at_same_size(args.scene, args.work, args.quality, args.model)
    print(f"{args.scene.name}, quality {args.quality:g}:")
    print(table(rows))
    print(verdict(rows))
    print(kept_georeferencing(args.scene, args.work / "ldmrsic.tif"))
    if args.crop_png:
        bands = tuple(int(b) for b in args.bands.split(","))
        print(f"crops: {crops_png(read_image(args.scene), rows, args.crop_png, bands)}")


if __name__ == "__main__":
    main()
