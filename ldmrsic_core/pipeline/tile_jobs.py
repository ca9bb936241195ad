"""The work done for a batch of tiles, as picklable jobs a :mod:`~ldmrsic_core.pipeline.executors` can run
anywhere.

A job carries its tiles' data (one tile, or :func:`~ldmrsic_core.pipeline.executors.resolve_tile_batch`
of them: the tiles of one size go through each model call together) and a
:class:`~ldmrsic_core.zoo.cache.ModelRef` (the model's name or path, SHA-256 and device); the
process that runs it loads each model once through the zoo's cache, checking the hash, and keeps it.
Jobs return plain values; a damaged tile comes back as an error value, not an exception, so
the caller decides between stopping and ``--allow-damaged``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ldmrsic_core.bands import ValueMapping
from ldmrsic_core.errors import DamagedTileError, LatentMismatchError
from ldmrsic_core.format.payload import PayloadError, TilePayload
from ldmrsic_core.pipeline.joined import coded_cells
from ldmrsic_core.pipeline.tile_codec import (
    CodedGroups,
    decode_groups,
    decode_latents,
    encode_groups,
    enhance_groups,
    fill_invalid,
    synthesise_groups,
)
from ldmrsic_core.tiling import Box, padded
from ldmrsic_core.zoo.cache import ModelRef, device_of, model


# -- compress -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncodeSettings:
    codec: ModelRef
    mappings: tuple[ValueMapping, ...]
    groups: tuple[tuple[int, ...], ...]
    quality: float
    refine: int = 0
    joined: bool = False  # code only each tile's own latent cells, the rest of its window being context


@dataclass(frozen=True)
class EncodedTile:
    payload: bytes
    clipped: tuple[int, ...]
    any_valid: bool
    valid_pixels: int = 0  # owned pixels valid in some band


def encode_tiles(settings: EncodeSettings, tiles: list[tuple[np.ndarray, np.ndarray, Box]]) -> list[EncodedTile]:
    """Tiles' payloads from their source values and validity over their extents — or, ``joined``,
    their analysis windows — (``owned`` relative to each); the tiles with a valid pixel are coded in
    batches of one size (and, joined, one place in the window)."""
    units = [np.stack([m.to_unit(v) for m, v in zip(settings.mappings, values)]) for values, _, _ in tiles]
    coded = [CodedGroups([], ())] * len(tiles)
    # a tile is coded when its extent has a valid pixel (a joined tile's context does not count)
    extent_valid = [bool(valid[(slice(None), *owned.slices)].any() if settings.joined else valid.any())
                    for _, valid, owned in tiles]
    wanted = [i for i, has in enumerate(extent_valid) if has]
    net = model(settings.codec).model if wanted else None

    def cells(i: int) -> tuple[slice, slice] | None:
        owned = tiles[i][2]
        return coded_cells(owned, (padded(owned.rows.length), padded(owned.cols.length))) if settings.joined else None

    for batch in same_shape(wanted, lambda i: (*units[i].shape, tiles[i][2] if settings.joined else None)):
        filled = [fill_invalid(units[i], tiles[i][1]) for i in batch]
        for i, out in zip(batch, encode_groups(net, filled, [list(g) for g in settings.groups], settings.quality,
                                               device_of(settings.codec), refine=settings.refine,
                                               cells=cells(batch[0]))):
            coded[i] = out
    results = []
    for (values, valid, owned), out, has_valid in zip(tiles, coded, extent_valid):
        inside = (slice(None), *owned.slices)
        owned_values, owned_valid = values[inside], valid[inside]
        clipped = tuple(m.count_outside(v[ok]) for m, v, ok in zip(settings.mappings, owned_values, owned_valid))
        results.append(EncodedTile(TilePayload(owned_valid, out.streams, out.checksums).encode(), clipped,
                                   has_valid, int(owned_valid.any(axis=0).sum())))
    return results


def same_shape(items: list[int], shape: Callable[[int], tuple]) -> list[list[int]]:
    """``items`` split into batches whose ``shape`` is the same (in order of first appearance)."""
    batches: dict[tuple[int, ...], list[int]] = {}
    for item in items:
        batches.setdefault(tuple(shape(item)), []).append(item)
    return list(batches.values())


# -- decompress ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeSettings:
    codec: ModelRef
    bands: int
    groups: tuple[tuple[int, ...], ...]
    quality: float
    exact: bool
    latents_only: bool = False  # joined tiles: entropy-decode only, synthesis comes later


@dataclass(frozen=True)
class DecodedTile:
    """``unit``: bands×extent in [0, 1] (None: no valid pixel, or damaged, or ``latents`` instead);
    ``valid``: over the owned box (None: damaged); ``error``: why the tile is damaged; ``latents``:
    its de-gained latent per band group (``latents_only``)."""

    unit: np.ndarray | None
    valid: np.ndarray | None
    error: DamagedTileError | None = None
    latents: tuple[np.ndarray, ...] | None = None


PayloadOrError = bytes | DamagedTileError


def decode_tiles(settings: DecodeSettings,
                 tiles: list[tuple[int, PayloadOrError, tuple[int, int], tuple[int, int]]]) -> list[DecodedTile]:
    """Tiles' payloads (or the errors reading them gave), each with its index, extent and owned shape →
    their decoded bands and validity; the tiles of one extent are decoded together."""
    results: list[DecodedTile | None] = []
    parsed: dict[int, TilePayload] = {}
    for i, (index, payload, _, owned) in enumerate(tiles):
        result, payload_parsed = _parse(settings, index, payload, owned)
        results.append(result)
        if payload_parsed is not None:
            parsed[i] = payload_parsed
    net = model(settings.codec).model if parsed else None
    groups = [list(g) for g in settings.groups]
    for batch in same_shape(list(parsed), lambda i: tiles[i][2]):
        coded = [CodedGroups(parsed[i].groups, parsed[i].checksums) for i in batch]
        shape = tiles[batch[0]][2]
        if settings.latents_only:
            decoded = [(DecodedTile(None, parsed[i].valid, latents=tuple(latents)), mismatched)
                       for i, (latents, mismatched) in zip(batch, decode_latents(net, coded, len(groups), shape,
                                                                                 settings.quality))]
        else:
            decoded = [(DecodedTile(unit, parsed[i].valid), mismatched) for i, (unit, mismatched)
                       in zip(batch, decode_groups(net, coded, groups, shape, settings.quality))]
        for i, (tile, mismatched) in zip(batch, decoded):
            results[i] = DecodedTile(None, None, LatentMismatchError(tiles[i][0], mismatched)) if mismatched else tile
    return results  # type: ignore[return-value]  # every None was filled above


@dataclass(frozen=True)
class SynthesisSettings:
    codec: ModelRef
    groups: tuple[tuple[int, ...], ...]


def synthesise_tiles(settings: SynthesisSettings,
                     tiles: list[tuple[DecodedTile, list[np.ndarray] | None, Box | None]]) -> list[DecodedTile]:
    """Joined tiles (:mod:`~ldmrsic_core.pipeline.joined`): each tile's entropy-decoded result with its
    synthesis window (latents per group stitched to its neighbours', None: nothing to synthesise) and
    the crop that is its extent → the tile with its pixels; windows of one shape go together."""
    results = [DecodedTile(tile.unit, tile.valid, tile.error) for tile, _, _ in tiles]
    wanted = [i for i, (_, windows, _) in enumerate(tiles) if windows is not None]
    net = model(settings.codec).model if wanted else None
    for batch in same_shape(wanted, lambda i: (*tiles[i][1][0].shape, tiles[i][2])):
        units = synthesise_groups(net, [tiles[i][1] for i in batch], [list(g) for g in settings.groups],
                                  tiles[batch[0]][2])
        for i, unit in zip(batch, units):
            results[i] = DecodedTile(unit, tiles[i][0].valid)
    return results


def _parse(settings: DecodeSettings, index: int, payload: PayloadOrError,
           owned: tuple[int, int]) -> tuple[DecodedTile | None, TilePayload | None]:
    """(the tile's result when it needs no decoding, else None; its payload when it does)."""
    if isinstance(payload, DamagedTileError):
        return DecodedTile(None, None, payload), None
    try:
        parsed = TilePayload.decode(payload, settings.bands, owned, checksummed=settings.exact)
        if parsed.groups and len(parsed.groups) != len(settings.groups):
            raise DamagedTileError(index, "wrong number of band groups")
    except PayloadError as exc:
        return DecodedTile(None, None, DamagedTileError(index, str(exc))), None
    except DamagedTileError as exc:
        return DecodedTile(None, None, exc), None
    if not parsed.groups:
        return DecodedTile(None, parsed.valid), None
    return None, parsed


# -- enhancement --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnhanceSettings:
    enhancer: ModelRef
    groups: tuple[tuple[int, ...], ...]
    level: float | None


def enhance_tiles(settings: EnhanceSettings,
                  tiles: list[tuple[int, np.ndarray | None, Box]]) -> list[np.ndarray | None]:
    """Enhance tiles seen with their surroundings (each: index, ``context`` bands×h×w in [0, 1], and the
    ``crop`` of it that is the tile); return the crops (None stays None: nothing to enhance). The
    contexts of one size are enhanced together."""
    results: list[np.ndarray | None] = [None] * len(tiles)
    wanted = [i for i, (_, context, _) in enumerate(tiles) if context is not None]
    for batch in same_shape(wanted, lambda i: tiles[i][1].shape):
        out = enhance_groups(model(settings.enhancer).model, [tiles[i][1] for i in batch],
                             [list(g) for g in settings.groups], [tiles[i][0] for i in batch],
                             device_of(settings.enhancer), settings.level)
        for i, enhanced in zip(batch, out):
            results[i] = enhanced[(slice(None), *tiles[i][2].slices)]
    return results
