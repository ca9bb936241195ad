"""The work done for one tile, as picklable jobs a :mod:`~ldmrsic_core.pipeline.executors` can run anywhere.

A job carries the tile's data and a :class:`ModelRef` (the model's name or path, SHA-256 and
device); the process that runs it loads each model once, checking the hash, and keeps it.
Jobs return plain values; a damaged tile comes back as an error value, not an exception, so
the caller decides between stopping and ``--allow-damaged``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ldmrsic_core.bands import ValueMapping
from ldmrsic_core.errors import DamagedTileError, LatentMismatchError
from ldmrsic_core.pipeline.tile_codec import CodedGroups, decode_groups, encode_groups, enhance_groups, fill_invalid
from ldmrsic_core.format.payload import PayloadError, TilePayload
from ldmrsic_core.tiling import Box


@dataclass(frozen=True)
class ModelRef:
    """A model a job needs: name (or path) as the user gave it, its SHA-256 and the device name."""

    model: str
    sha256: str
    device: str
    kind: str = "codec"


#: Models this process has loaded, most recently used last (a few at most: each can be large).
_loaded: OrderedDict[ModelRef, Any] = OrderedDict()
_loading = threading.Lock()
_KEEP = 4


def _keep(ref: ModelRef, loaded: Any) -> None:
    _loaded[ref] = loaded
    _loaded.move_to_end(ref)
    while len(_loaded) > _KEEP:
        _loaded.popitem(last=False)


def model_ref(model: str | Path, loaded: Any, device: str, kind: str) -> ModelRef:
    """The reference jobs use for a model this process has loaded (and may now use without loading
    it again); a weights file is named by its absolute path."""
    name = str(Path(model).resolve()) if Path(model).is_file() else str(model)
    ref = ModelRef(name, loaded.sha256, device, kind)
    if kind == "codec":
        loaded.model.exact_latent_codec()  # built once here, not by concurrent jobs
    with _loading:
        _keep(ref, loaded)
    return ref


def model(ref: ModelRef) -> Any:
    """The loaded model for ``ref`` (a LoadedCodec or LoadedEnhancer), loaded at first use."""
    found = _loaded.get(ref)
    if found is not None:
        return found
    from ldmrsic_core.device import resolve_device

    with _loading:
        if ref not in _loaded:
            device = resolve_device(ref.device)
            if ref.kind == "codec":
                from ldmrsic_core.zoo.registry import load_codec

                loaded = load_codec(ref.model, device, expect_sha256=ref.sha256)
                loaded.model.exact_latent_codec()
            else:
                from ldmrsic_core.zoo.enhancers import load_enhancer

                loaded = load_enhancer(ref.model, device, expect_sha256=ref.sha256)
            _keep(ref, loaded)
        return _loaded[ref]


def _device(ref: ModelRef):
    return next(model(ref).model.parameters()).device


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


def encode_tile(settings: EncodeSettings, values: np.ndarray, valid: np.ndarray, owned: Box) -> EncodedTile:
    """One tile's payload from its source values and validity over its extent (``owned`` relative to it)."""
    unit = np.stack([m.to_unit(v) for m, v in zip(settings.mappings, values)])
    coded = CodedGroups([], ())
    any_valid = bool(valid.any())
    if any_valid:
        codec = model(settings.codec)
        coded = encode_groups(codec.model, fill_invalid(unit, valid), [list(g) for g in settings.groups],
                              settings.quality, _device(settings.codec))
    inside = (slice(None), *owned.slices)
    owned_values, owned_valid = values[inside], valid[inside]
    clipped = tuple(m.count_outside(v[ok]) for m, v, ok in zip(settings.mappings, owned_values, owned_valid))
    return EncodedTile(TilePayload(owned_valid, coded.streams, coded.checksums).encode(), clipped, any_valid)


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
                         _device(settings.enhancer), settings.level)
    return out[(slice(None), *crop.slices)]
