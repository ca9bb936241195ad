"""Coding one tile's band groups with the learned codec, and decoding them back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ldmrsic_core.bands import from_channels, to_channels
from ldmrsic_core.format.seed import enhancement_seed
from ldmrsic_core.models.codec import STRIDE, VariableRateElic
from ldmrsic_core.tiling import Box, Span, padded


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


def codec_input(units: list[np.ndarray], group: list[int], device: torch.device) -> torch.Tensor:
    """One band group of tiles of one size (each B×h×w, [0, 1]) as the codec's N×3×H×W input, padded
    to its stride."""
    h, w = units[0].shape[1:]
    x = torch.from_numpy(np.stack([to_channels(unit, group) for unit in units])).to(device)
    return F.pad(x, (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")


@torch.no_grad()
def encode_groups(net: VariableRateElic, units: list[np.ndarray], groups: list[list[int]], quality: float,
                  device: torch.device, exact: bool = True, refine: int = 0,
                  cells: tuple[slice, slice] | None = None) -> list[CodedGroups]:
    """Tiles of one size (each bands×h×w, [0, 1]) → each one's codec streams per band group, coded
    in one batch per group (entropy parameters exact unless told: then a tile's streams and
    checksums do not depend on the batch it was coded in, given its latent; ``refine``: encoder-side
    latent refinement steps, :mod:`ldmrsic_core.models.refine`; ``cells``: the latent cells coded,
    the rest being context, :meth:`VariableRateElic.compress`)."""
    streams: list[list[list[bytes]]] = [[] for _ in units]
    checksums: list[list[int]] = [[] for _ in units]
    for group in groups:
        out = net.compress(codec_input(units, group, device), quality, exact=exact, refine=refine, cells=cells)
        for i in range(len(units)):
            streams[i].append([s[i] for s in out["strings"]])
            if exact:
                checksums[i].append(out["checksums"][i])
    return [CodedGroups(s, tuple(c) if exact else None) for s, c in zip(streams, checksums)]


@torch.no_grad()
def decode_groups(net: VariableRateElic, coded: list[CodedGroups], groups: list[list[int]],
                  shape: tuple[int, int], quality: float) -> list[tuple[np.ndarray, list[int]]]:
    """Inverse of :func:`encode_groups` for tiles of one size (``shape``), decoded together (each step
    of the context model is one call for all of them): per tile, float32 bands×h×w in [0, 1] and the
    indices of the groups whose decoded latent does not match its checksum (always empty without
    checksums). The latents do not depend on the batch; the pixels may, in their last bits."""
    latents = decode_latents(net, coded, len(groups), shape, quality)
    crop = Box(Span(0, shape[0]), Span(0, shape[1]))
    units = synthesise_groups(net, [tile for tile, _ in latents], groups, crop)
    return [(unit, mismatched) for unit, (_, mismatched) in zip(units, latents)]


@torch.no_grad()
def decode_latents(net: VariableRateElic, coded: list[CodedGroups], groups: int, shape: tuple[int, int],
                   quality: float) -> list[tuple[list[np.ndarray], list[int]]]:
    """The entropy decoding of :func:`decode_groups`: per tile, its de-gained latent per group (float32
    M×h×w, h and w in cells of 16 pixels of the padded tile) and the groups whose checksum fails."""
    h, w = shape
    latent = net.latent_shape(padded(h, STRIDE), padded(w, STRIDE))
    exact = coded[0].checksums is not None
    latents: list[list[np.ndarray]] = [[] for _ in coded]
    mismatched: list[list[int]] = [[] for _ in coded]
    for g in range(groups):
        strings = [[tile.streams[g][s] for tile in coded] for s in range(len(coded[0].streams[g]))]
        out = net.decode_latent(strings, latent, quality, exact=exact)
        y_hat = out["y_hat"].float().cpu().numpy()
        for i, tile in enumerate(coded):
            if exact and out["checksums"][i] != tile.checksums[g]:
                mismatched[i].append(g)
            latents[i].append(y_hat[i])
    return list(zip(latents, mismatched))


@torch.no_grad()
def synthesise_groups(net: VariableRateElic, latents: list[list[np.ndarray]], groups: list[list[int]],
                      crop: Box) -> list[np.ndarray]:
    """Latents of one shape (per tile, one M×h×w array per group) → the ``crop`` of their synthesis
    (float32 bands×rows×cols in [0, 1]), one batch per group."""
    device = next(net.parameters()).device
    bands: list[list[np.ndarray]] = [[] for _ in latents]
    for g, group in enumerate(groups):
        y_hat = torch.from_numpy(np.stack([tile[g] for tile in latents])).to(device)
        rgb = net.synthesize(y_hat)[(slice(None), slice(None), *crop.slices)].float().cpu().numpy()
        for i in range(len(latents)):
            bands[i].append(from_channels(rgb[i], group))
    return [np.concatenate(b).astype(np.float32) for b in bands]


@torch.no_grad()
def enhance_groups(enhancer, units: list[np.ndarray], groups: list[list[int]], tiles: list[int],
                   device: torch.device, level: float | None = None) -> list[np.ndarray]:
    """Enhance decoded tiles of one size (each B×h×w in [0, 1]; ``tiles`` their indices, which seed the
    noise) group by group in one batch with an :class:`Enhancer` (at a coding ``level`` when the model
    is conditioned on it)."""
    bands: list[list[np.ndarray]] = [[] for _ in units]
    for g, group in enumerate(groups):
        x = torch.from_numpy(np.stack([to_channels(unit, group) for unit in units]).astype(np.float32)).to(device)
        rgb = enhancer.enhance(x, [enhancement_seed(tile, g) for tile in tiles], level).float().cpu().numpy()
        for i in range(len(units)):
            bands[i].append(from_channels(rgb[i], group))
    return [np.concatenate(b).astype(np.float32) for b in bands]
