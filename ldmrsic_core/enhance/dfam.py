"""DFAM, the dynamic feature attention module: how the prior enters MEN (LDM-RSIC §III.D).

Given MEN features M (B×C×h×w) and prior tokens F (B×g×N on a gh×gw grid)::

    F ─► map gh×gw ─► [conv + PixelShuffle(2)]×K ─► UP(F) ─┐
    M ─► LN ────────────────────────────────────────────────┴► Z ─► channel attention A ─► 1×1(A⊗Z) + M = M′
    F ─► mean over tokens ─► Linear_a, Linear_b ─► M″ = GU(LN(M′)·(1+a) + b) + M′

K = log2(64 / stride of the level): one token covers 64×64 pixels, so UP(F) lands exactly on
the feature grid at any tile size. The scale is applied as (1 + a) so the module starts as
an identity-like map.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ldmrsic_core.enhance.lrm import PATCH
from ldmrsic_core.enhance.restormer import GDFN, LayerNorm2d


class PriorUpsampler(nn.Module):
    """Tokens on their grid → a C-channel map at 1/``stride`` of the image size."""

    def __init__(self, dim: int, channels: int, stride: int):
        super().__init__()
        stages = int(math.log2(PATCH // stride))
        layers: list[nn.Module] = []
        width = dim
        for _ in range(stages):
            layers += [nn.Conv2d(width, 4 * channels, 3, padding=1), nn.PixelShuffle(2), nn.LeakyReLU(0.1, True)]
            width = channels
        if not stages:
            layers.append(nn.Conv2d(dim, channels, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        b, _, n = tokens.shape
        return self.body(tokens.transpose(1, 2).reshape(b, n, *grid))


class DFAM(nn.Module):
    def __init__(self, channels: int, dim: int, stride: int, expansion: float, reduction: int = 4):
        super().__init__()
        self.up = PriorUpsampler(dim, channels, stride)
        self.norm_in = LayerNorm2d(channels)
        both = 2 * channels
        self.fc = nn.Sequential(nn.Conv2d(both, max(both // reduction, 4), 1), nn.ReLU(True),
                                nn.Conv2d(max(both // reduction, 4), both, 1))
        self.reduce = nn.Conv2d(both, channels, 1)
        self.norm_mod = LayerNorm2d(channels)
        self.scale = nn.Linear(dim, channels)
        self.shift = nn.Linear(dim, channels)
        self.gate = GDFN(channels, expansion)

    def forward(self, features: torch.Tensor, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        z = torch.cat([self.up(tokens, grid), self.norm_in(features)], dim=1)
        attention = torch.sigmoid(self.fc(z.mean((2, 3), keepdim=True)) + self.fc(z.amax((2, 3), keepdim=True)))
        m = self.reduce(attention * z) + features
        pooled = tokens.mean(1)
        a, b = self.scale(pooled)[..., None, None], self.shift(pooled)[..., None, None]
        return self.gate(self.norm_mod(m) * (1 + a) + b) + m
