"""Band selection, grouping into codec triplets, and the per-band value mapping.

The codec sees 3-channel images in [0, 1]. A raster's bands are coded in groups of three
in the order selected; a group with fewer than three bands repeats its last band and the
decoder averages the channels that carry the same band. Each band has a mapping stored in the
header: linear, ``unit = (value − lo) / (hi − lo)``, or (format 6) a piecewise-linear curve from
``lo`` to ``hi`` through interior knots (``ldmrsic_core/value_curves.py`` fits them); values
outside ``[lo, hi]`` are clipped (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldmrsic_core.errors import InputError

SUPPORTED_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")


@dataclass(frozen=True)
class ValueMapping:
    """Map between a band's values and the codec's [0, 1]: linear from ``lo`` to ``hi``, or through
    ``knots``, interior (value, unit) points increasing in both."""

    lo: float
    hi: float
    knots: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.knots:
            values, units = self._curve()
            if not (np.all(np.diff(values) > 0) and np.all(np.diff(units) > 0)):
                raise ValueError(f"the knots of a value curve must increase strictly from ({self.lo}, 0) to "
                                 f"({self.hi}, 1): {self.knots}")

    @property
    def peak(self) -> float:
        return self.hi - self.lo

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.array([self.lo, *(v for v, _ in self.knots), self.hi], np.float64)
        units = np.array([0.0, *(u for _, u in self.knots), 1.0], np.float64)
        return values, units

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Values → float32 in [0, 1] (outside ``[lo, hi]`` clipped; non-finite → 0)."""
        if self.knots:
            unit = np.interp(values.astype(np.float64), *self._curve())
        else:
            unit = (values.astype(np.float64) - self.lo) / self.peak
        return np.nan_to_num(np.clip(unit, 0, 1), nan=0.0).astype(np.float32)

    def count_outside(self, values: np.ndarray) -> int:
        """How many of ``values`` the mapping clips."""
        return int(np.count_nonzero((values < self.lo) | (values > self.hi)))

    def from_unit(self, unit: np.ndarray, dtype: str) -> np.ndarray:
        if self.knots:
            knot_values, knot_units = self._curve()
            values = np.interp(unit.astype(np.float64), knot_units, knot_values)
        else:
            values = self.lo + unit.astype(np.float64) * self.peak
        if np.issubdtype(np.dtype(dtype), np.integer):
            info = np.iinfo(dtype)
            values = np.clip(np.rint(values), info.min, info.max)
        return values.astype(dtype)


def check_dtype(dtype: str) -> None:
    if dtype not in SUPPORTED_DTYPES:
        raise InputError(
            f"data type {dtype} is not supported; supported: {', '.join(SUPPORTED_DTYPES)} "
            "(convert complex data to separate real bands first)"
        )


def parse_band_list(text: str | None, count: int) -> list[int]:
    """``"4,3,2"`` → 1-based band indexes, checked against the raster's band count."""
    if not text:
        return list(range(1, count + 1))
    try:
        bands = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--bands {text!r} is not a comma-separated list of band numbers") from None
    bad = [b for b in bands if not 1 <= b <= count]
    if not bands or bad:
        raise InputError(f"--bands {text!r}: band numbers must be between 1 and {count}")
    if len(set(bands)) != len(bands):
        raise InputError(f"--bands {text!r} lists a band twice")
    return bands


def group_bands(count: int) -> list[list[int]]:
    """Positions 0..count−1 in codec groups of at most three."""
    return [list(range(i, min(i + 3, count))) for i in range(0, count, 3)]


def to_channels(unit: np.ndarray, group: list[int]) -> np.ndarray:
    """Bands (B×H×W, unit range) of one group → a 3×H×W codec image (last band repeated)."""
    picks = group + [group[-1]] * (3 - len(group))
    return unit[picks]


def from_channels(rgb: np.ndarray, group: list[int]) -> np.ndarray:
    """Inverse of :func:`to_channels`: average the channels that carry the same band."""
    bands = [rgb[i] for i in range(len(group))]
    if len(group) < 3:
        bands[-1] = rgb[len(group) - 1:].mean(axis=0)
    return np.stack(bands)


def default_mapping(dtype: str, lo: float, hi: float) -> ValueMapping:
    """The mapping for a band with valid values in [lo, hi] (8-bit data keeps 0–255)."""
    if dtype == "uint8":
        return ValueMapping(0.0, 255.0)
    if not np.isfinite(lo) or not np.isfinite(hi):  # no valid value at all
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    return ValueMapping(float(lo), float(hi))
