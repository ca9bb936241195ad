"""Restormer building blocks: channel LayerNorm, MDTA attention, GDFN feed-forward.

Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image Restoration",
CVPR 2022. Attention is computed across channels ("transposed"), so its cost grows
linearly with the number of pixels and any tile size works::

    x ─► LN ─► MDTA ─► (+) ─► LN ─► GDFN ─► (+) ─► out
    └──────────────────┘ └──────────────────────┘
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a B×C×H×W map (with bias)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight[:, None, None] + self.bias[:, None, None]


class MDTA(nn.Module):
    """Multi-Dconv head transposed attention: a C/heads × C/heads attention map per head."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels cannot be split into {heads} heads")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.qkv_dw = nn.Conv2d(3 * channels, 3 * channels, 3, padding=1, groups=3 * channels)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dw(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        return self.project((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv feed-forward network: GELU(a) ⊙ b after a depthwise 3×3 convolution."""

    def __init__(self, channels: int, expansion: float):
        super().__init__()
        hidden = int(channels * expansion)
        self.expand = nn.Conv2d(channels, 2 * hidden, 1)
        self.dw = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden)
        self.reduce = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dw(self.expand(x)).chunk(2, dim=1)
        if not a.is_contiguous():  # a channel slice of a channels-last map (bf16): GELU on it runs 10× slower
            a = a.contiguous(memory_format=torch.channels_last)
        return self.reduce(F.gelu(a) * b)


class TransformerBlock(nn.Module):
    def __init__(self, channels: int, heads: int, expansion: float):
        super().__init__()
        self.norm1, self.attn = LayerNorm2d(channels), MDTA(channels, heads)
        self.norm2, self.ffn = LayerNorm2d(channels), GDFN(channels, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))
