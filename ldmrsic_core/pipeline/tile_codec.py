"""Coding one tile's band groups with the learned codec, and decoding them back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ldmrsic_core.bands import from_channels, to_channels
from ldmrsic_core.format.seed import enhancement_seed
from ldmrsic_core.models.codec import STRIDE, VariableRateElic
from ldmrsic_core.tiling import padded


def fill_invalid(unit: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid pixels by their band's mean valid value, which costs almost no bits."""
    out = unit.copy()
    for b in range(unit.shape[0]):
        if not valid[b].all():
            mean = float(unit[b][valid[b]].mean()) if valid[b].any() else 0.5
            out[b][~valid[b]] = mean
    return out


@dataclass(frozen=True)
class CodedGroups:
    """One tile's codec streams per band group, and (exact arithmetic) each group's latent CRC32."""

    streams: list[list[bytes]]
    checksums: tuple[int, ...] | None


def codec_input(unit: np.ndarray, group: list[int], device: torch.device) -> torch.Tensor:
    """One band group of a tile (B×h×w, [0, 1]) as the codec's 1×3×H×W input, padded to its stride."""
    h, w = unit.shape[1:]
    x = torch.from_numpy(np.ascontiguousarray(to_channels(unit, group)))[None].to(device)
    return F.pad(x, (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")


@torch.no_grad()
def encode_groups(net: VariableRateElic, unit: np.ndarray, groups: list[list[int]], quality: float,
                  device: torch.device, exact: bool = True) -> CodedGroups:
    """Bands (B×h×w, [0, 1]) → codec streams per band group (entropy parameters exact unless told)."""
    streams, checksums = [], []
    for group in groups:
        out = net.compress(codec_input(unit, group, device), quality, exact=exact)
        streams.append([s[0] for s in out["strings"]])
        checksums.append(out.get("checksum"))
    return CodedGroups(streams, tuple(checksums) if exact else None)


@torch.no_grad()
def decode_groups(net: VariableRateElic, coded: CodedGroups, groups: list[list[int]],
                  shape: tuple[int, int], quality: float) -> tuple[np.ndarray, list[int]]:
    """Inverse of :func:`encode_groups`: float32 bands×h×w in [0, 1], and the indices of the
    groups whose decoded latent does not match its checksum (always empty without checksums)."""
    h, w = shape
    latent = net.latent_shape(padded(h, STRIDE), padded(w, STRIDE))
    exact = coded.checksums is not None
    bands, mismatched = [], []
    for g, (group, group_streams) in enumerate(zip(groups, coded.streams)):
        out = net.decompress([[s] for s in group_streams], latent, quality, exact=exact)
        if exact and out["checksum"] != coded.checksums[g]:
            mismatched.append(g)
        rgb = out["x_hat"][0, :, :h, :w].float().cpu().numpy()
        bands.append(from_channels(rgb, group))
    return np.concatenate(bands).astype(np.float32), mismatched


@torch.no_grad()
def enhance_groups(enhancer, unit: np.ndarray, groups: list[list[int]], tile: int,
                   device: torch.device, level: float | None = None) -> np.ndarray:
    """Enhance decoded bands (B×h×w in [0, 1]) group by group with an :class:`Enhancer` (at a coding
    ``level`` when the model is conditioned on it)."""
    bands = []
    for g, group in enumerate(groups):
        x = torch.from_numpy(np.ascontiguousarray(to_channels(unit, group), dtype=np.float32))[None].to(device)
        rgb = enhancer.enhance(x, [enhancement_seed(tile, g)], level)[0].float().cpu().numpy()
        bands.append(from_channels(rgb, group))
    return np.concatenate(bands).astype(np.float32)
