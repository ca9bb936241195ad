"""Bjøntegaard deltas (G. Bjøntegaard, VCEG-M33, 2001): the average rate or PSNR difference
between two rate–distortion curves over the range where both are defined.

Each curve is fitted by a polynomial (cubic when it has four or more points) — log10(rate) as
a function of PSNR for BD-rate, PSNR as a function of log10(rate) for BD-PSNR — and the fits
are integrated over the overlap of the two curves.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _fit_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    degree = min(3, len(x) - 1)
    poly = np.polyint(np.polyfit(x, y, degree))
    return float(np.polyval(poly, hi) - np.polyval(poly, lo))


def _check(rates: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rates, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    if len(r) != len(q) or len(r) < 2 or np.any(r <= 0) or not np.all(np.isfinite(q)):
        raise ValueError("a curve needs at least two points with positive rates and finite quality")
    return r, q


def bd_rate(ref_rates: Sequence[float], ref_psnr: Sequence[float],
            test_rates: Sequence[float], test_psnr: Sequence[float]) -> float:
    """Average rate difference of ``test`` against ``ref`` at equal PSNR, in percent (negative = saves bits).

    NaN when the PSNR ranges do not overlap."""
    r1, p1 = _check(ref_rates, ref_psnr)
    r2, p2 = _check(test_rates, test_psnr)
    lo, hi = max(p1.min(), p2.min()), min(p1.max(), p2.max())
    if not lo < hi:
        return math.nan
    diff = (_fit_integral(p2, np.log10(r2), lo, hi) - _fit_integral(p1, np.log10(r1), lo, hi)) / (hi - lo)
    return (10**diff - 1) * 100


def bd_psnr(ref_rates: Sequence[float], ref_psnr: Sequence[float],
            test_rates: Sequence[float], test_psnr: Sequence[float]) -> float:
    """Average PSNR difference of ``test`` against ``ref`` at equal rate, in dB (NaN without overlap)."""
    r1, p1 = _check(ref_rates, ref_psnr)
    r2, p2 = _check(test_rates, test_psnr)
    l1, l2 = np.log10(r1), np.log10(r2)
    lo, hi = max(l1.min(), l2.min()), min(l1.max(), l2.max())
    if not lo < hi:
        return math.nan
    return (_fit_integral(l2, p2, lo, hi) - _fit_integral(l1, p1, lo, hi)) / (hi - lo)


def psnr_gain_at_equal_rate(ref_rates: Sequence[float], ref_psnr: Sequence[float], rate: float, psnr: float) -> float:
    """PSNR of one point minus the reference curve's at the same rate, in dB: the reference is interpolated
    linearly in log-rate between its points, so the rate must lie within its range (NaN outside)."""
    r, q = _check(ref_rates, ref_psnr)
    if not r.min() <= rate <= r.max():
        return math.nan
    order = np.argsort(r)
    return psnr - float(np.interp(np.log(rate), np.log(r[order]), q[order]))
