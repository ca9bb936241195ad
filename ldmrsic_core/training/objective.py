"""The rate–distortion objective (CompressAI convention): L = λ·255²·MSE(x, x̃) + bpp."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def rd_loss(output: dict[str, Any], x: Tensor, lam: float) -> dict[str, Tensor]:
    """Loss, MSE and estimated bpp (from the likelihoods: training only; reported rates use bytes)."""
    n, _, h, w = x.shape
    bits = sum(torch.log(p).sum() for p in output["likelihoods"].values()) / -math.log(2)
    bpp = bits / (n * h * w)
    mse = torch.mean((output["x_hat"].float() - x) ** 2)
    return {"loss": lam * 255**2 * mse + bpp, "mse": mse, "bpp": bpp}
