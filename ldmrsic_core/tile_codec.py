"""Coding one tile's band groups with the learned codec, and decoding them back."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ldmrsic_core.bands import from_channels, to_channels
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


@torch.no_grad()
def encode_groups(net: VariableRateElic, unit: np.ndarray, groups: list[list[int]], quality: float,
                  device: torch.device) -> list[list[bytes]]:
    """Bands (B×h×w, [0, 1]) → one list of codec streams per band group."""
    h, w = unit.shape[1:]
    out = []
    for group in groups:
        x = torch.from_numpy(np.ascontiguousarray(to_channels(unit, group)))[None].to(device)
        x = F.pad(x, (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")
        strings = net.compress(x, quality)["strings"]
        out.append([s[0] for s in strings])
    return out


@torch.no_grad()
def decode_groups(net: VariableRateElic, streams: list[list[bytes]], groups: list[list[int]],
                  shape: tuple[int, int], quality: float, device: torch.device) -> np.ndarray:
    """Inverse of :func:`encode_groups`: float32 bands×h×w in [0, 1]."""
    h, w = shape
    latent = net.latent_shape(padded(h, STRIDE), padded(w, STRIDE))
    bands = []
    for group, group_streams in zip(groups, streams):
        x_hat = net.decompress([[s] for s in group_streams], latent, quality)["x_hat"]
        rgb = x_hat[0, :, :h, :w].float().cpu().numpy()
        bands.append(from_channels(rgb, group))
    return np.concatenate(bands).astype(np.float32)


def enhancement_seed(tile: int, group: int) -> int:
    """The diffusion noise seed of one band group of one tile: fixed, so decoding is reproducible."""
    return tile * 4096 + group


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
