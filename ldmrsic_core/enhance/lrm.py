"""LRM and LRM_DM: the prior encoders of LDM-RSIC (Li et al., arXiv:2406.03961, §III.B).

The teacher LRM sees the decoded tile X̃ and the original X and summarises what was lost
as prior tokens F; the student LRM_DM sees X̃ alone and gives the diffusion's condition D.
An optional coding level (B×1, e.g. the quality preset scaled to [0, 1]) is added to the
tokens, so one model serves every preset knowing which it restores. One token per ``PATCH``×``PATCH``
pixels (64: a 4×4 grid for a 256² tile, as in the paper),
so every tile size that is a multiple of 64 works and the tokens stay local::

    X̃ ─► unshuffle(4) ─┐
    X  ─► unshuffle(4) ─┴► concat ─► conv3×3 ─► res×n ─► conv s2 ─► conv ─► pool(8) ─► tokens ─► MLP×2 ─► F
    (LRM_DM: the X branch is absent)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Pixels per prior token along each axis; input sizes must be multiples of it.
PATCH = 64


class _ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.1, True),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PriorEncoder(nn.Module):
    """LRM (``with_original=True``) or LRM_DM (``False``): images → B×tokens×``dim``."""

    def __init__(self, dim: int = 256, base: int = 64, blocks: int = 5, with_original: bool = True):
        super().__init__()
        self.with_original = with_original
        inputs = 48 * (2 if with_original else 1)
        self.features = nn.Sequential(
            nn.Conv2d(inputs, base, 3, padding=1), nn.LeakyReLU(0.1, True),
            *[_ResBlock(base) for _ in range(blocks)],
            nn.Conv2d(base, 2 * base, 3, stride=2, padding=1), nn.LeakyReLU(0.1, True),
            nn.Conv2d(2 * base, dim, 3, padding=1), nn.LeakyReLU(0.1, True),
        )
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.LeakyReLU(0.1, True),
                                 nn.Linear(dim, dim), nn.LeakyReLU(0.1, True))
        self.level = nn.Linear(1, dim)  # the coding level (quality), when known; zero: starts unconditioned
        nn.init.zeros_(self.level.weight)
        nn.init.zeros_(self.level.bias)

    def forward(self, decoded: torch.Tensor, original: torch.Tensor | None = None,
                level: torch.Tensor | None = None) -> torch.Tensor:
        h, w = decoded.shape[-2:]
        if h % PATCH or w % PATCH:
            raise ValueError(f"prior encoder input {h}×{w} is not a multiple of {PATCH}")
        if self.with_original != (original is not None):
            raise ValueError("LRM needs the original image, LRM_DM must not get it")
        x = F.pixel_unshuffle(decoded, 4)
        if original is not None:
            x = torch.cat([x, F.pixel_unshuffle(original, 4)], dim=1)
        grid = F.avg_pool2d(self.features(x), PATCH // 8)  # features are at 1/8: 8×8 cells per token
        tokens = grid.flatten(2).transpose(1, 2)
        if level is not None:
            tokens = tokens + self.level(level)[:, None, :]
        return self.mlp(tokens)
