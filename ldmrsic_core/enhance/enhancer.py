"""The enhancement model as shipped: configurations, and seeded decode-time enhancement.

An :class:`Enhancer` bundles the four LDM-RSIC parts: the teacher LRM (Stage I, training
only), the student LRM_DM, the prior diffusion and MEN. At decode time::

    X̃ ─► LRM_DM ─► D ─┐
    seed ─► F_T ~ N(0, I) ─► reverse chain (T steps) ─► F̂ ─► MEN(X̃, F̂) ─► X̂

Models are conditioned on the coding level: the quality (1–5 → 0–1) for our codec, which the
decoder reads from the file; the bit rate (log scale) for JPEG2000*, taken from the size of the
JPEG2000 file (or given by the user).
A configuration without prior levels is plain MEN (the "without DFAM" ablation): no prior,
no diffusion. The noise is drawn on the CPU from a generator seeded by the caller, so the
same tile enhances to the same pixels on any device and in any batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ldmrsic_core.enhance.diffusion import PriorDiffusion
from ldmrsic_core.enhance.lrm import PATCH, PriorEncoder
from ldmrsic_core.enhance.men import MEN
from ldmrsic_core.models.codec import MAX_QUALITY, MIN_QUALITY
from ldmrsic_core.precision import compute, prepare
from ldmrsic_core.tiling import padded


@dataclass(frozen=True)
class EnhancerConfig:
    name: str
    channels: tuple[int, int, int, int]
    blocks: tuple[int, int, int, int]
    heads: tuple[int, int, int, int]
    refinement: int
    prior_dim: int
    lrm_base: int
    lrm_blocks: int
    prior_levels: tuple[int, ...] = (3,)
    expansion: float = 2.0
    denoiser_layers: int = 5
    steps: int = 4
    summary: str = ""

    def build(self) -> Enhancer:
        return Enhancer(self)


class Enhancer(nn.Module):
    def __init__(self, cfg: EnhancerConfig):
        super().__init__()
        self.cfg = cfg
        self.men = MEN(cfg.channels, cfg.blocks, cfg.heads, cfg.refinement, cfg.expansion, cfg.prior_dim,
                       cfg.prior_levels)
        self.uses_prior = bool(cfg.prior_levels)
        if self.uses_prior:
            self.lrm = PriorEncoder(cfg.prior_dim, cfg.lrm_base, cfg.lrm_blocks, with_original=True)
            self.lrm_dm = PriorEncoder(cfg.prior_dim, cfg.lrm_base, cfg.lrm_blocks, with_original=False)
            self.diffusion = PriorDiffusion(cfg.prior_dim, cfg.denoiser_layers, cfg.steps)
        self.precision = "fp32"

    def set_precision(self, precision: str) -> None:
        """Enhance in ``fp32`` or ``bf16`` (:mod:`ldmrsic_core.precision`; training is unaffected)."""
        if precision != self.precision:
            prepare(self, precision)
            self.precision = precision

    # -- the two training stages -------------------------------------------------------------
    def teacher_prior(self, decoded: torch.Tensor, original: torch.Tensor,
                      level: torch.Tensor | None = None) -> torch.Tensor | None:
        """Stage I's F = LRM(X̃, X) (None without a prior)."""
        return self.lrm(decoded, original, level) if self.uses_prior else None

    def student_prior(self, decoded: torch.Tensor, noise: torch.Tensor,
                      level: torch.Tensor | None = None) -> torch.Tensor | None:
        """Stage II's F̂: the reverse chain from ``noise`` (F_T) conditioned on LRM_DM(X̃)."""
        return self.diffusion.reverse(noise, self.lrm_dm(decoded, None, level)) if self.uses_prior else None

    def noise_shape(self, batch: int, height: int, width: int) -> tuple[int, int, int]:
        return (batch, (height // PATCH) * (width // PATCH), self.cfg.prior_dim)

    def seeded_noise(self, seeds: list[int], height: int, width: int) -> torch.Tensor:
        """F_T for each image, drawn on the CPU from its own seed (device- and batch-independent)."""
        shape = self.noise_shape(1, height, width)[1:]
        return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])

    # -- decode time -------------------------------------------------------------------------
    @torch.no_grad()
    def enhance(self, decoded: torch.Tensor, seeds: list[int], level: float | None = None) -> torch.Tensor:
        """Enhance a batch (B×3×h×w in [0, 1], any size) with one noise seed per image, at a coding
        ``level`` in [0, 1] when the model is conditioned on it (None: unknown)."""
        if len(seeds) != decoded.shape[0]:
            raise ValueError("give one seed per image")
        h, w = decoded.shape[-2:]
        x = pad_to_patch(decoded)
        lv = level_tensor(level, x)
        if self.precision == "bf16":
            x = x.contiguous(memory_format=torch.channels_last)
        with compute(self.precision, x.device):
            prior = None
            if self.uses_prior:
                noise = self.seeded_noise(seeds, *x.shape[-2:]).to(x.device, x.dtype)
                prior = self.student_prior(x, noise, lv)
            out = self.men(x, prior, lv)
        return out.float()[..., :h, :w].clamp(0, 1).contiguous()

    @torch.no_grad()
    def enhance_with_teacher(self, decoded: torch.Tensor, original: torch.Tensor,
                             level: float | None = None) -> torch.Tensor:
        """Stage I's output (the prior taken from the original): the ceiling Stage II aims at."""
        h, w = decoded.shape[-2:]
        x = pad_to_patch(decoded)
        lv = level_tensor(level, x)
        prior = self.teacher_prior(x, pad_to_patch(original), lv)
        return self.men(x, prior, lv)[..., :h, :w].clamp(0, 1)


def quality_level(quality: float) -> float:
    """Our codec's quality (1–5) as the enhancer's coding level (0–1)."""
    return (quality - MIN_QUALITY) / (MAX_QUALITY - MIN_QUALITY)


#: Bit rates mapped to levels 0 and 1 for classical codecs (log scale; clipped outside).
BPP_RANGE = (0.025, 1.6)


def bpp_level(bpp: float) -> float:
    """A classical codec's bit rate as the enhancer's coding level (0–1, logarithmic)."""
    lo, hi = (math.log2(b) for b in BPP_RANGE)
    return min(1.0, max(0.0, (math.log2(max(bpp, 1e-6)) - lo) / (hi - lo)))


def level_tensor(level: float | None, like: torch.Tensor) -> torch.Tensor | None:
    """A B×1 level tensor for a batch like ``like`` (None stays None)."""
    return None if level is None else like.new_full((like.shape[0], 1), float(level))


def load_enhancer_state(net: Enhancer, state: dict[str, torch.Tensor]) -> None:
    """Load weights; a model saved before the level inputs existed loads with them at zero (unconditioned)."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(".level" not in k for k in missing):
        raise RuntimeError(f"enhancer weights do not match: missing {missing}, unexpected {unexpected}")


def pad_to_patch(x: torch.Tensor) -> torch.Tensor:
    """Replicate-pad B×C×h×w to multiples of the prior patch (64)."""
    h, w = x.shape[-2:]
    return F.pad(x, (0, padded(w, PATCH) - w, 0, padded(h, PATCH) - h), mode="replicate")
