"""Fitted value curves: how a band wider than 8 bits is spread over the codec's [0, 1] (format 6).

A linear map from the band's valid min–max gives its rare extremes (clouds, glints, sensor noise at
the ends of a 16-bit range) as much of [0, 1] as its common values: on Sentinel-2 B05 the middle
99.8% of the pixels get 39% of the range, and the codec, trained on images that fill it, codes
such a flat input badly. A *fitted curve* is a piecewise-linear, strictly increasing map through
knots at the 0.1th and 99.9th percentiles of the band's valid values, each piece's slope following
the density of the values there to the power 1/3: the point density that minimises a quantiser's
mean squared error (Panter and Dite, 1951). So each piece gets a share of [0, 1] proportional to
``mass^(1/3) · length^(2/3)``: long sparse tails are squeezed, the middle 99.8% keeps a linear map
over most of the range, no value is clipped, and a band without long tails keeps its linear map.
On the shared 16-bit bands (BENCHMARKS.md, 2026-12-06, second session): 24% fewer bits at equal PSNR on Sentinel-2
B05, 8% on B11, 3% on Landsat 8 B2, level on SpaceNet pan. More knots (at 0.01/0.1/1% from each end)
expand the middle further and lost 4% on SpaceNet pan.

The knots are found from a histogram filled tile by tile (:class:`BandHistogram`), never the whole
band in memory, and stored in the file's header; decoding only inverts the curve.
"""

from __future__ import annotations

import numpy as np

from ldmrsic_core import defaults
from ldmrsic_core.errors import InputError

__all__ = ["BINS", "QUANTILES", "BandHistogram", "fit_knots", "wants_curves"]

#: The quantiles the curve's interior knots sit at (min and max are its ends).
QUANTILES = (1e-3, 1 - 1e-3)
#: Histogram bins over a band's [min, max] (an integer band of a smaller range gets one bin per value).
BINS = 1 << 16
#: A curve that stays this close to the linear map (in units of [0, 1]) is stored as the linear map.
LINEAR_ENOUGH = 0.01


class BandHistogram:
    """Counts of one band's valid values over [lo, hi], filled one tile at a time."""

    def __init__(self, lo: float, hi: float, integer: bool):
        self.lo, self.hi = float(lo), float(hi)
        per_value = integer and self.hi - self.lo + 1 <= BINS
        self.bins = int(self.hi - self.lo + 1) if per_value else BINS
        # one bin per value: integer values sit at bin centres, bin i holds lo + i
        self.edges = (np.linspace(self.lo - 0.5, self.hi + 0.5, self.bins + 1) if per_value
                      else np.linspace(self.lo, self.hi, self.bins + 1))
        self.counts = np.zeros(self.bins, np.int64)

    def add(self, values: np.ndarray) -> None:
        scaled = (values.astype(np.float64) - self.edges[0]) / (self.edges[-1] - self.edges[0]) * self.bins
        index = np.clip(scaled.astype(np.int64), 0, self.bins - 1)
        self.counts += np.bincount(index.ravel(), minlength=self.bins)

    def quantiles(self, qs: tuple[float, ...]) -> np.ndarray:
        """Values at the quantiles ``qs``, interpolated inside the bins and kept within [lo, hi]."""
        cumulative = np.concatenate([[0], np.cumsum(self.counts)]) / max(int(self.counts.sum()), 1)
        return np.clip(np.interp(qs, cumulative, self.edges), self.lo, self.hi)


def fit_knots(histogram: BandHistogram, quantiles: tuple[float, ...] = QUANTILES) -> tuple[tuple[float, float], ...]:
    """The interior knots (value, unit) of the band's fitted curve from its histogram; () for a band
    whose curve would be (nearly) its linear map."""
    lo, hi = histogram.lo, histogram.hi
    if not hi > lo or histogram.counts.sum() == 0:
        return ()
    values = [lo, *(float(v) for v in histogram.quantiles(quantiles)), hi]
    ends, masses = [lo], []
    carried = 0.0
    for value, mass in zip(values[1:], np.diff([0.0, *quantiles, 1.0])):
        carried += mass
        if value > ends[-1] + 1e-9 * (hi - lo):  # a piece of no length gives its mass to the next
            ends.append(value)
            masses.append(carried)
            carried = 0.0
    if len(masses) < 2:
        return ()
    masses[-1] += carried  # the top quantiles at the maximum
    ends[-1] = hi
    lengths = np.diff(ends)
    shares = np.asarray(masses) ** (1 / 3) * lengths ** (2 / 3)
    units = np.cumsum(shares)[:-1] / shares.sum()
    values = np.asarray(ends[1:-1])
    if np.max(np.abs(units - (values - lo) / (hi - lo))) < LINEAR_ENOUGH:
        return ()
    return tuple((float(v), float(u)) for v, u in zip(values, units))


def wants_curves(value_curve: str) -> bool:
    """Whether a ``value_curve`` choice ("fitted" or "linear") fits curves; any other is one clear error."""
    if value_curve not in defaults.VALUE_CURVES:
        raise InputError(f"value curve {value_curve!r}: use one of {', '.join(defaults.VALUE_CURVES)}")
    return value_curve == "fitted"
