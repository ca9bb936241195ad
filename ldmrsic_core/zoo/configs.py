"""The named configurations of both kinds of model: codecs (the variable-rate ELIC's channel
sizes) and enhancers (MEN, LRM and the prior diffusion's sizes). A weights file names its
configuration; ``ldmrsic-geo models`` lists these."""

from __future__ import annotations

from dataclasses import dataclass

from ldmrsic_core.enhance.enhancer import EnhancerConfig
from ldmrsic_core.errors import WeightsError
from ldmrsic_core.models.codec import VariableRateElic


@dataclass(frozen=True)
class CodecConfig:
    """Channel sizes of a :class:`VariableRateElic`."""

    name: str
    N: int
    M: int
    groups: tuple[int, ...]
    summary: str

    def build(self) -> VariableRateElic:
        return VariableRateElic(N=self.N, M=self.M, groups=list(self.groups))


CODEC_CONFIGS: dict[str, CodecConfig] = {
    c.name: c
    for c in (
        CodecConfig("elic-paper", 192, 320, (16, 16, 32, 64, 192), "ELIC as in the paper"),
        CodecConfig("elic-small", 128, 192, (16, 16, 32, 64, 64), "production default size"),
        CodecConfig("elic-wide", 128, 320, (16, 16, 32, 64, 192),
                    "elic-small's transforms with the paper's 320-channel latent"),
        CodecConfig("elic-tiny", 16, 32, (4, 4, 8, 16), "for tests only"),
    )
}
DEFAULT_CODEC_CONFIG = "elic-small"


def codec_config(name: str) -> CodecConfig:
    try:
        return CODEC_CONFIGS[name]
    except KeyError:
        raise WeightsError(f"unknown model configuration {name!r}; known: {', '.join(CODEC_CONFIGS)}") from None


ENHANCER_CONFIGS: dict[str, EnhancerConfig] = {
    c.name: c
    for c in (
        EnhancerConfig("men-paper", (48, 96, 192, 384), (2, 2, 4, 4), (1, 2, 4, 8), 4, 256, 64, 5,
                       summary="MEN, LRM and LDM as in the paper"),
        EnhancerConfig("men-small", (16, 32, 64, 128), (0, 1, 1, 2), (1, 1, 2, 4), 0, 64, 16, 2, expansion=1.5,
                       denoiser_layers=3, summary="default: no full-resolution blocks, trainable on a CPU"),
        EnhancerConfig("men-small-r1", (16, 32, 64, 128), (0, 1, 1, 2), (1, 1, 2, 4), 1, 64, 16, 2, expansion=1.5,
                       denoiser_layers=3, summary="men-small with a Transformer block at full resolution (refinement)"),
        EnhancerConfig("men-small-nodfam", (16, 32, 64, 128), (0, 1, 1, 2), (1, 1, 2, 4), 0, 64, 16, 2,
                       expansion=1.5, denoiser_layers=3, prior_levels=(),
                       summary="men-small without the prior (ablation)"),
        EnhancerConfig("men-tiny", (8, 16, 32, 64), (1, 1, 1, 1), (1, 1, 2, 2), 0, 16, 8, 1,
                       denoiser_layers=1, summary="for tests only"),
    )
}
DEFAULT_ENHANCER_CONFIG = "men-small"


def enhancer_config(name: str) -> EnhancerConfig:
    try:
        return ENHANCER_CONFIGS[name]
    except KeyError:
        raise WeightsError(f"unknown enhancer configuration {name!r}; known: {', '.join(ENHANCER_CONFIGS)}") from None
