"""The PSNR formula, in a module of its own so that training imports it without GDAL."""

from __future__ import annotations

import math


def psnr(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error at ``peak`` (inf for a perfect copy): the one formula
    evaluation, validation and training logs share."""
    return math.inf if mse <= 0 else 10 * math.log10(peak * peak / mse)
