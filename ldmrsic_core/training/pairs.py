"""Training pairs for the enhancement stages: originals X and decoded versions X̃, cached on disk.

X̃ comes from a frozen source codec at several levels:

* ``ldmrsic`` — the shipped learned codec at quality presets 1–5. X̃ is ``synthesize(ŷ)``
  with the ŷ that entropy coding produced: exactly what the decoder rebuilds;
* ``jpeg2000`` — GDAL's JP2OpenJPEG at bit rates (JPEG2000*, the paper's §IV.E).

Decoded images are cached as 8-bit PNG under ``CACHE/KEY/LEVEL/`` where KEY names the source
(the codec's SHA-256 prefix for ``ldmrsic``), so a cache is never reused for other weights.
``bpp.json`` in each level folder records the real coded size of every image.
"""

from __future__ import annotations

import json
import math
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import torch
import torch.nn.functional as F

from ldmrsic_core.errors import InputError
from ldmrsic_core.evaluation.classic import jpeg2000_roundtrip
from ldmrsic_core.format.header import ENTROPY_SCHEME
from ldmrsic_core.models.codec import STRIDE
from ldmrsic_core.tiling import padded
from ldmrsic_core.training.data import find_images, load_image

SOURCES = ("ldmrsic", "jpeg2000")
CODEC_LEVELS = (1.0, 2.0, 3.0, 4.0, 5.0)
JPEG2000_LEVELS = (0.05, 0.1, 0.2, 0.4, 0.8)

#: (uint8 3×H×W image) → (coded bytes, decoded uint8 3×H×W image)
Degrader = Callable[[np.ndarray], tuple[int, np.ndarray]]


@dataclass(frozen=True)
class Source:
    """A frozen codec that makes X̃, and the levels (quality presets or bpp) it is used at."""

    kind: str
    key: str
    levels: tuple[float, ...]
    degraders: tuple[Degrader, ...]
    codec_sha256: str | None = None

    def level_value(self, index: int, bpp: float) -> float:
        """The enhancer's coding level for level ``index`` of an image coded at ``bpp``: the quality
        for our codec (the decoder reads it from the file), the real rate for JPEG2000 (the file's size)."""
        from ldmrsic_core.enhance.enhancer import bpp_level, quality_level

        return quality_level(self.levels[index]) if self.kind == "ldmrsic" else bpp_level(bpp)


def make_source(kind: str, model: str | None = None, device: str = "cpu",
                levels: tuple[float, ...] | None = None, precision: str = "auto") -> Source:
    """Where decoded training images come from; our codec's are made in ``precision`` as
    ``decompress`` would on this machine (cached apart from fp32 ones, which keep the old name)."""
    if kind == "jpeg2000":
        lv = tuple(levels or JPEG2000_LEVELS)
        return Source(kind, "jpeg2000", lv, tuple(_jpeg2000(b) for b in lv))
    if kind == "ldmrsic":
        from ldmrsic_core.device import resolve_device
        from ldmrsic_core.precision import resolve_precision
        from ldmrsic_core.zoo.registry import load_codec

        torch_device = resolve_device(device)
        codec = load_codec(model, torch_device)
        chosen = resolve_precision(precision, torch_device)
        codec.model.set_precision(chosen)
        lv = tuple(levels or CODEC_LEVELS)
        suffix = "" if chosen == "fp32" else f"-{chosen}"
        return Source(kind, f"ldmrsic-{codec.sha256[:16]}-{ENTROPY_SCHEME}{suffix}", lv,
                      tuple(_learned(codec.model, q) for q in lv),
                      codec.sha256)
    raise InputError(f"unknown source {kind!r}; use one of {', '.join(SOURCES)}")


def _jpeg2000(bpp: float) -> Degrader:
    return lambda image: jpeg2000_roundtrip(image, bpp)


def _learned(net, quality: float) -> Degrader:
    device = next(net.parameters()).device

    @torch.no_grad()
    def degrade(image: np.ndarray) -> tuple[int, np.ndarray]:
        h, w = image.shape[1:]
        x = torch.from_numpy(image.astype(np.float32) / 255)[None].to(device)
        x = F.pad(x, (0, padded(w, STRIDE) - w, 0, padded(h, STRIDE) - h), mode="replicate")
        enc = net.compress(x, quality, exact=True)  # exactly what decompress reproduces
        size = sum(len(s[0]) for s in enc["strings"])
        x_hat = net.synthesize(enc["y_hat"])[0, :, :h, :w]
        return size, (x_hat * 255).round().byte().cpu().numpy()

    return degrade


def _level_name(level: float) -> str:
    return f"{level:g}"


class PairSet:
    """Originals (uint8) and their decoded versions at every level of ``source``."""

    def __init__(self, folder: Path, source: Source, cache: Path, *, limit: int = 0, min_size: int = STRIDE,
                 progress: bool = True):
        files = find_images(folder)
        if limit and limit < len(files):
            files = files[:: math.ceil(len(files) / limit)][:limit]
        self.source = source
        self.files: list[Path] = []
        self.originals: list[np.ndarray] = []
        self.decoded: list[list[np.ndarray]] = []
        self.bpp: list[list[float]] = []
        root = cache / source.key
        tables = [self._table(root / _level_name(lv)) for lv in source.levels]
        from tqdm import tqdm

        for path in tqdm(files, desc=f"X̃ ({source.key})", disable=not progress, unit="img"):
            original = (load_image(path) * 255).round().astype(np.uint8)
            if min(original.shape[1:]) < min_size:
                continue
            rel = path.relative_to(folder).with_suffix(".png")
            versions, rates = [], []
            for level, degrade, table in zip(source.levels, source.degraders, tables):
                target = root / _level_name(level) / rel
                if target.is_file() and str(rel) in table:
                    versions.append((load_image(target) * 255).round().astype(np.uint8))
                else:
                    size, image = degrade(original)
                    _write_png(target, image)
                    table[str(rel)] = 8 * size / (original.shape[1] * original.shape[2])
                    versions.append(image)
                rates.append(table[str(rel)])
            self.files.append(path)
            self.originals.append(original)
            self.decoded.append(versions)
            self.bpp.append(rates)
        for level, table in zip(source.levels, tables):
            _write_json(root / _level_name(level) / "bpp.json", table)
        if not self.originals:
            raise InputError(f"no image in {folder} is at least {min_size}×{min_size} pixels")

    @staticmethod
    def _table(folder: Path) -> dict[str, float]:
        path = folder / "bpp.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def __len__(self) -> int:
        return len(self.originals)

    def batch(self, size: int, crop: int,
              rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(X, X̃, coding levels B×1) crops: the same random crop, flip and rotation for X and X̃,
        and a random level for each pair."""
        xs, ds, lv = [], [], []
        for _ in range(size):
            i = rng.randrange(len(self.originals))
            level = rng.randrange(len(self.source.levels))
            lv.append(self.source.level_value(level, self.bpp[i][level]))
            x, d = self.originals[i], self.decoded[i][level]
            h, w = x.shape[1:]
            c = min(crop, h // STRIDE * STRIDE, w // STRIDE * STRIDE)
            y0, x0 = rng.randint(0, h - c), rng.randint(0, w - c)
            flip, turns = rng.random() < 0.5, rng.randrange(4)
            for img, out in ((x, xs), (d, ds)):
                patch = img[:, y0:y0 + c, x0:x0 + c]
                patch = patch[:, :, ::-1] if flip else patch
                out.append(torch.from_numpy(np.ascontiguousarray(np.rot90(patch, turns, axes=(1, 2)))))
        if len({t.shape for t in xs}) > 1:
            raise InputError(f"images are smaller than --crop {crop}; lower it")
        levels = torch.tensor(lv, dtype=torch.float32)[:, None]
        return torch.stack(xs).float() / 255, torch.stack(ds).float() / 255, levels


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", driver="PNG", width=image.shape[2], height=image.shape[1],
                           count=image.shape[0], dtype="uint8") as dst:
            dst.write(image)
    os.replace(tmp, path)
    Path(str(tmp) + ".aux.xml").unlink(missing_ok=True)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)
