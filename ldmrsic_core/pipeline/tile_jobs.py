"""The work done for one tile, as picklable jobs a :mod:`~ldmrsic_core.pipeline.executors` can run anywhere.

A job carries the tile's data and a :class:`~ldmrsic_core.zoo.cache.ModelRef` (the model's name
or path, SHA-256 and device); the process that runs it loads each model once through the zoo's
cache, checking the hash, and keeps it.
Jobs return plain values; a damaged tile comes back as an error value, not an exception, so
the caller decides between stopping and ``--allow-damaged``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldmrsic_core.bands import ValueMapping
from ldmrsic_core.errors import DamagedTileError, LatentMismatchError
from ldmrsic_core.format.payload import PayloadError, TilePayload
from ldmrsic_core.pipeline.tile_codec import CodedGroups, decode_groups, encode_groups, enhance_groups, fill_invalid
from ldmrsic_core.tiling import Box
from ldmrsic_core.zoo.cache import ModelRef, device_of, model


# -- compress -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncodeSettings:
    codec: ModelRef
    mappings: tuple[ValueMapping, ...]
    groups: tuple[tuple[int, ...], ...]
    quality: float


@dataclass(frozen=True)
class EncodedTile:
    payload: bytes
    clipped: tuple[int, ...]
    any_valid: bool
    valid_pixels: int = 0  # owned pixels valid in some band


def encode_tile(settings: EncodeSettings, values: np.ndarray, valid: np.ndarray, owned: Box) -> EncodedTile:
    """One tile's payload from its source values and validity over its extent (``owned`` relative to it)."""
    unit = np.stack([m.to_unit(v) for m, v in zip(settings.mappings, values)])
    coded = CodedGroups([], ())
    any_valid = bool(valid.any())
    if any_valid:
        codec = model(settings.codec)
        coded = encode_groups(codec.model, fill_invalid(unit, valid), [list(g) for g in settings.groups],
                              settings.quality, device_of(settings.codec))
    inside = (slice(None), *owned.slices)
    owned_values, owned_valid = values[inside], valid[inside]
    clipped = tuple(m.count_outside(v[ok]) for m, v, ok in zip(settings.mappings, owned_values, owned_valid))
    return EncodedTile(TilePayload(owned_valid, coded.streams, coded.checksums).encode(), clipped, any_valid,
                       int(owned_valid.any(axis=0).sum()))


# -- decompress ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeSettings:
    codec: ModelRef
    bands: int
    groups: tuple[tuple[int, ...], ...]
    quality: float
    exact: bool


@dataclass(frozen=True)
class DecodedTile:
    """``unit``: bands×extent in [0, 1] (None: no valid pixel, or damaged); ``valid``: over the owned
    box (None: damaged); ``error``: why the tile is damaged."""

    unit: np.ndarray | None
    valid: np.ndarray | None
    error: DamagedTileError | None = None


def decode_tile(settings: DecodeSettings, index: int, payload: bytes | DamagedTileError,
                extent: tuple[int, int], owned: tuple[int, int]) -> DecodedTile:
    """One tile's payload (or the error reading it gave) → its decoded bands and validity."""
    if isinstance(payload, DamagedTileError):
        return DecodedTile(None, None, payload)
    try:
        parsed = TilePayload.decode(payload, settings.bands, owned, checksummed=settings.exact)
        if parsed.groups and len(parsed.groups) != len(settings.groups):
            raise DamagedTileError(index, "wrong number of band groups")
    except PayloadError as exc:
        return DecodedTile(None, None, DamagedTileError(index, str(exc)))
    except DamagedTileError as exc:
        return DecodedTile(None, None, exc)
    if not parsed.groups:
        return DecodedTile(None, parsed.valid)
    unit, mismatched = decode_groups(model(settings.codec).model, CodedGroups(parsed.groups, parsed.checksums),
                                     [list(g) for g in settings.groups], extent, settings.quality)
    if mismatched:
        return DecodedTile(None, None, LatentMismatchError(index, mismatched))
    return DecodedTile(unit, parsed.valid)


# -- enhancement --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnhanceSettings:
    enhancer: ModelRef
    groups: tuple[tuple[int, ...], ...]
    level: float | None


def enhance_tile(settings: EnhanceSettings, index: int, context: np.ndarray | None, crop: Box) -> np.ndarray | None:
    """Enhance a tile seen with its surroundings (``context``, bands×h×w in [0, 1]); return the
    ``crop`` of it that is the tile (None stays None: nothing to enhance)."""
    if context is None:
        return None
    out = enhance_groups(model(settings.enhancer).model, context, [list(g) for g in settings.groups], index,
                         device_of(settings.enhancer), settings.level)
    return out[(slice(None), *crop.slices)]
