"""MEN, the multi-scale enhancement network of LDM-RSIC (§III.D): a Restormer-style U-Net.

Four levels of Transformer blocks (MDTA + GDFN); the prior enters through DFAM before the
blocks of the chosen levels (the paper's code: the deepest level only). Global residual
X̂ = X̃ + output. Inputs must be multiples of 64 (the prior grid; callers pad)::

    X̃ ─► conv ─► L1 ─► down ─► L2 ─► down ─► L3 ─► down ─► L4 (DFAM + blocks)
                 │             │             │             │
                 └──── L1′ ◄── up ◄─ L2′ ◄── up ◄── L3′ ◄── up
                        └► refine ─► conv ─► (+X̃) ─► X̂
"""

from __future__ import annotations

import torch
from torch import nn

from ldmrsic_core.enhance.dfam import DFAM
from ldmrsic_core.enhance.lrm import PATCH
from ldmrsic_core.enhance.restormer import TransformerBlock


def _blocks(channels: int, count: int, heads: int, expansion: float) -> nn.Sequential:
    return nn.Sequential(*[TransformerBlock(channels, heads, expansion) for _ in range(count)])


class MEN(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (48, 96, 192, 384), blocks: tuple[int, ...] = (2, 2, 4, 4),
                 heads: tuple[int, ...] = (1, 2, 4, 8), refinement: int = 4, expansion: float = 2.0,
                 prior_dim: int = 256, prior_levels: tuple[int, ...] = (3,)):
        super().__init__()
        if not (len(channels) == len(blocks) == len(heads) == 4):
            raise ValueError("MEN has four levels: give four channels, blocks and heads")
        self.prior_levels = tuple(prior_levels)
        c = channels
        self.embed = nn.Conv2d(3, c[0], 3, padding=1)
        self.encoders = nn.ModuleList(_blocks(c[i], blocks[i], heads[i], expansion) for i in range(3))
        self.downs = nn.ModuleList(nn.Sequential(nn.Conv2d(c[i], c[i + 1] // 4, 3, padding=1), nn.PixelUnshuffle(2))
                                   for i in range(3))
        self.bottleneck = _blocks(c[3], blocks[3], heads[3], expansion)
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(c[i + 1], 4 * c[i], 3, padding=1), nn.PixelShuffle(2))
                                 for i in range(3))
        # Decoder level i gets [up, skip]: levels 2 and 3 reduce back to c[i], level 1 keeps 2·c[0] (Restormer).
        self.fuse = nn.ModuleList([nn.Identity()] + [nn.Conv2d(2 * c[i], c[i], 1) for i in (1, 2)])
        dec = (2 * c[0], c[1], c[2])
        self.decoders = nn.ModuleList(_blocks(dec[i], blocks[i], heads[i], expansion) for i in range(3))
        self.refine = _blocks(dec[0], refinement, heads[0], expansion)
        self.out = nn.Conv2d(dec[0], 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # start as the identity X̂ = X̃: short trainings never make X̃ worse
        nn.init.zeros_(self.out.bias)
        self.level_in, self.level_mid = nn.Linear(1, c[0]), nn.Linear(1, c[3])
        self.level_out = nn.Linear(1, 3)  # per-channel gain of the correction: lets a level ask for less
        for layer in (self.level_in, self.level_mid, self.level_out):  # zero: starts unconditioned
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.dfam = nn.ModuleDict({str(level): DFAM(c[level], prior_dim, 2**level, expansion)
                                   for level in self.prior_levels})

    def _prior(self, level: int, x: torch.Tensor, tokens: torch.Tensor | None, grid: tuple[int, int]) -> torch.Tensor:
        key = str(level)
        return self.dfam[key](x, tokens, grid) if key in self.dfam and tokens is not None else x

    def forward(self, decoded: torch.Tensor, tokens: torch.Tensor | None,
                level: torch.Tensor | None = None) -> torch.Tensor:
        h, w = decoded.shape[-2:]
        if h % PATCH or w % PATCH:
            raise ValueError(f"MEN input {h}×{w} is not a multiple of {PATCH}")
        if self.dfam and tokens is None:
            raise ValueError("this MEN takes prior tokens")
        grid = (h // PATCH, w // PATCH)
        x = self.embed(decoded)
        if level is not None:
            x = x + self.level_in(level)[..., None, None]
        skips = []
        for depth in range(3):
            x = self.encoders[depth](self._prior(depth, x, tokens, grid))
            skips.append(x)
            x = self.downs[depth](x)
        if level is not None:
            x = x + self.level_mid(level)[..., None, None]
        x = self.bottleneck(self._prior(3, x, tokens, grid))
        for depth in reversed(range(3)):
            x = self.fuse[depth](torch.cat([self.ups[depth](x), skips[depth]], dim=1))
            x = self.decoders[depth](x)
        correction = self.out(self.refine(x))
        if level is not None:
            correction = correction * (1 + self.level_out(level)[..., None, None])
        return decoded + correction
