"""The latent diffusion in prior-token space (LDM-RSIC §III.C; DiffIR-style, T = 4 steps).

Variance-preserving forward process ``F_t = √ᾱ_t F + √(1−ᾱ_t) ε`` with β linear in √β from
0.1 to 0.99. The denoiser predicts F₀ directly ("x0" parameterisation) from (F_t, D, t); the
reverse step takes the posterior mean without fresh noise, so the chain is deterministic
once the initial draw is fixed — decoders seed that draw per tile::

    F_T ~ N(0, I) ─► [denoise(F_t, D, t) → F̂₀ ─► posterior mean] × T ─► F̂
"""

from __future__ import annotations

import torch
from torch import nn


class Denoiser(nn.Module):
    """A residual MLP over tokens: (F_t, D, t/(10T)) → F̂₀."""

    def __init__(self, dim: int, layers: int, steps: int):
        super().__init__()
        self.steps = steps
        self.inp = nn.Sequential(nn.Linear(2 * dim + 1, dim), nn.LeakyReLU(0.1, True))
        self.body = nn.ModuleList(nn.Sequential(nn.Linear(dim, dim), nn.LeakyReLU(0.1, True)) for _ in range(layers))
        self.out = nn.Linear(dim, dim)

    def forward(self, noisy: torch.Tensor, condition: torch.Tensor, t: int) -> torch.Tensor:
        time = noisy.new_full((*noisy.shape[:-1], 1), t / (10 * self.steps))
        h = self.inp(torch.cat([noisy, condition, time], dim=-1))
        for layer in self.body:
            h = h + layer(h)
        return self.out(h)


def beta_schedule(steps: int, start: float = 0.1, end: float = 0.99) -> torch.Tensor:
    """β_t linear in √β between ``start`` and ``end`` (float64)."""
    return torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float64) ** 2


class PriorDiffusion(nn.Module):
    """Forward noising and the T-step reverse chain, around a :class:`Denoiser`."""

    def __init__(self, dim: int, layers: int = 5, steps: int = 4):
        super().__init__()
        self.steps = steps
        self.denoiser = Denoiser(dim, layers, steps)
        betas = beta_schedule(steps)
        alphas_bar = torch.cumprod(1 - betas, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_bar[:-1]])
        self.register_buffer("sqrt_ab", alphas_bar.sqrt().float(), persistent=False)
        self.register_buffer("sqrt_1mab", (1 - alphas_bar).sqrt().float(), persistent=False)
        self.register_buffer("coef_x0", (prev.sqrt() * betas / (1 - alphas_bar)).float(), persistent=False)
        self.register_buffer("coef_xt", ((1 - betas).sqrt() * (1 - prev) / (1 - alphas_bar)).float(), persistent=False)

    def noised(self, prior: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """q(F_T | F): the start of the training chain."""
        return self.sqrt_ab[-1] * prior + self.sqrt_1mab[-1] * noise

    def reverse(self, start: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Run all T reverse steps from ``start`` (F_T) to F̂."""
        x = start
        for t in reversed(range(self.steps)):
            x0 = self.denoiser(x, condition, t)
            x = self.coef_x0[t] * x0 + self.coef_xt[t] * x
        return x
