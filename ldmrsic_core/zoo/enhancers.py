"""Enhancement models by name: loading with hash checks, and the default for a codec or JPEG2000.

An enhancer's weights file is an ordinary ldmrsic-geo weights file with ``kind: "enhancer"``,
the ``source`` it restores (``ldmrsic`` output of one codec, or ``jpeg2000``) and, for the
former, the SHA-256 of that codec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ldmrsic_core.enhance.enhancer import Enhancer, EnhancerConfig, load_enhancer_state
from ldmrsic_core.errors import WeightsError
from ldmrsic_core.zoo.configs import enhancer_config
from ldmrsic_core.zoo.registry import read_weights
from ldmrsic_core.zoo.table import named_weights


@dataclass(frozen=True)
class LoadedEnhancer:
    name: str
    sha256: str
    config: EnhancerConfig
    source: str
    codec_sha256: str | None
    model: Enhancer
    conditioned: bool = False
    validation: tuple[dict[str, float], ...] = ()

    def measured_gain(self, bpp: float) -> tuple[float, float] | None:
        """(validation bpp, PSNR gain in dB) at the validated rate nearest to ``bpp`` (None if unknown)."""
        rows = [r for r in self.validation if "bpp" in r and "psnr_enhanced" in r]
        if not rows:
            return None
        near = min(rows, key=lambda r: abs(math.log(max(r["bpp"], 1e-6)) - math.log(max(bpp, 1e-6))))
        return near["bpp"], near["psnr_enhanced"] - near["psnr_decoded"]


def load_enhancer(model: str | Path, device: str | torch.device = "cpu",
                  expect_sha256: str | None = None) -> LoadedEnhancer:
    """Load an enhancement model by name or path, verifying its SHA-256 before use."""
    name, actual, blob = read_weights(model, expect_sha256)
    if blob.get("kind") != "enhancer":
        raise WeightsError(f"model {name} is a codec, not an enhancement model")
    cfg = enhancer_config(str(blob["config"]))
    net = cfg.build()
    load_enhancer_state(net, blob["state_dict"])
    net.eval().to(device)
    return LoadedEnhancer(name, actual, cfg, str(blob.get("source")), blob.get("codec_sha256"), net,
                          bool(blob.get("conditioned", False)), tuple(blob.get("validation") or ()))


def default_enhancer(source: str, codec_sha256: str | None = None) -> str | None:
    """The enhancer to use for ``source`` (and that codec): bundled before user models, then by name."""
    found = sorted((not w.bundled, w.name) for w in named_weights().values()
                   if w.kind == "enhancer" and w.source == source
                   and (source != "ldmrsic" or w.codec_sha256 == codec_sha256))
    return found[0][1] if found else None


def check_pairing(enhancer: LoadedEnhancer, codec_name: str | None, codec_sha256: str) -> LoadedEnhancer:
    """``enhancer`` if it was trained on this codec's output, else a :class:`WeightsError`."""
    if enhancer.source != "ldmrsic" or enhancer.codec_sha256 != codec_sha256:
        what = "JPEG2000 output" if enhancer.source == "jpeg2000" else "the output of another codec"
        codec = f"model {codec_name!r}" if codec_name else "the codec"
        raise WeightsError(f"enhancer {enhancer.name} restores {what}, not that of {codec} "
                           f"(SHA-256 {codec_sha256[:16]}…)")
    return enhancer
