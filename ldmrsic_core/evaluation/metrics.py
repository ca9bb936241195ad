"""Quality measures between an original raster and its decoded copy, read window by window.

PSNR is taken over every valid pixel of every band at the data's own peak: 255 for 8-bit
data, else each band's valid range (max − min) in the original, so bands of different
ranges weigh alike: ``PSNR = 10·log10(1 / mean(((a − b) / peak_band)²))``.
The seam measure splits the pixels into those within ``width`` pixels of a boundary
between the tiles' owned boxes (where seams would show) and the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio

from ldmrsic_core.evaluation.psnr import psnr
from ldmrsic_core.raster_io import read_pixels
from ldmrsic_core.tiling import Box, Span, TilePlan


@dataclass(frozen=True)
class SquaredError:
    """Accumulated normalised squared error and pixel count."""

    total: float = 0.0
    count: int = 0

    def __add__(self, other: SquaredError) -> SquaredError:
        return SquaredError(self.total + other.total, self.count + other.count)

    @property
    def psnr(self) -> float:
        """PSNR in dB (inf for identical data, nan for no pixels)."""
        if self.count == 0:
            return math.nan
        return psnr(self.total / self.count)


def band_peaks(path: Path, block: int = 1024) -> np.ndarray:
    """The peak of each band: 255 for uint8, else max − min of the valid values."""
    with rasterio.open(path) as src:
        if src.dtypes[0] == "uint8":
            return np.full(src.count, 255.0)
        lo, hi = np.full(src.count, np.inf), np.full(src.count, -np.inf)
        for box in _blocks(src.height, src.width, block):
            values, valid = read_pixels(src, list(range(1, src.count + 1)), box)
            for b in range(src.count):
                v = values[b][valid[b]]
                if v.size:
                    lo[b], hi[b] = min(lo[b], v.min()), max(hi[b], v.max())
        return np.where(hi > lo, hi - lo, 1.0)


def compare(original: Path, decoded: Path, plan: TilePlan | None = None, seam_width: int = 8,
            block: int = 1024) -> dict[str, float]:
    """PSNR overall and, given the tile plan, near tile borders and in tile interiors."""
    peaks = band_peaks(original)
    border_mask = _border_mask(plan, seam_width) if plan is not None else None
    overall, border, interior = SquaredError(), SquaredError(), SquaredError()
    with rasterio.open(original) as a, rasterio.open(decoded) as b:
        if (a.width, a.height, a.count) != (b.width, b.height, b.count):
            raise ValueError("rasters differ in size or band count")
        bands = list(range(1, a.count + 1))
        for box in _blocks(a.height, a.width, block):
            va, valid = read_pixels(a, bands, box)
            vb, _ = read_pixels(b, bands, box)
            err = ((va.astype(np.float64) - vb.astype(np.float64)) / peaks[:, None, None]) ** 2
            err = np.where(valid, err, 0.0)
            overall += SquaredError(float(err.sum()), int(valid.sum()))
            if border_mask is not None:
                near = border_mask(box)[None] & valid
                border += SquaredError(float(err[near].sum()), int(near.sum()))
                far = ~border_mask(box)[None] & valid
                interior += SquaredError(float(err[far].sum()), int(far.sum()))
    result = {"psnr": overall.psnr}
    if plan is not None:
        result |= {"psnr_tile_borders": border.psnr, "psnr_tile_interiors": interior.psnr}
    return result


def _blocks(height: int, width: int, block: int):
    for r in range(0, height, block):
        for c in range(0, width, block):
            yield Box(Span(r, min(r + block, height)), Span(c, min(c + block, width)))


def _border_mask(plan: TilePlan, width: int):
    """A function box → bool mask of the pixels within ``width`` of an owned-box boundary."""
    def near(axis, length: int) -> np.ndarray:
        mask = np.zeros(length, dtype=bool)
        for i in range(1, axis.count):
            edge = axis.owned(i).start
            mask[max(0, edge - width // 2):edge + width // 2] = True
        return mask

    rows, cols = near(plan.rows, plan.height), near(plan.cols, plan.width)

    def mask(box: Box) -> np.ndarray:
        r = rows[box.rows.start:box.rows.stop]
        c = cols[box.cols.start:box.cols.stop]
        return r[:, None] | c[None, :]

    return mask


def main(argv: list[str] | None = None) -> None:
    """``python -m ldmrsic_core.evaluation.metrics ORIGINAL DECODED [FILE.ldmr]``: JSON with PSNR (and bpp, seams)."""
    import json
    import sys

    from ldmrsic_core import file_info, read_header

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        sys.exit("usage: python -m ldmrsic_core.evaluation.metrics ORIGINAL DECODED [FILE.ldmr]")
    plan = read_header(args[2]).plan if len(args) == 3 else None
    result = compare(Path(args[0]), Path(args[1]), plan)
    if len(args) == 3:
        result = {"bpp": file_info(args[2])["bpp"], **result}
    print(json.dumps({k: round(v, 4) for k, v in result.items()}))


if __name__ == "__main__":
    main()
