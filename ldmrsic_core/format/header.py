"""The typed ``.ldmr`` header: everything needed to rebuild the GeoTIFF and decode its tiles."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from ldmrsic_core.bands import ValueMapping
from ldmrsic_core.errors import DamagedFileError
from ldmrsic_core.format.versions import ENTROPY_SCHEME, FLOAT_ENTROPY, exact_entropy
from ldmrsic_core.tiling import TilePlan


class MaskKind(str, Enum):
    """How invalid pixels are represented in the source, and so in the output."""

    NODATA = "nodata"
    NAN = "nan"
    DATASET_MASK = "dataset-mask"
    NONE = "none"


@dataclass(frozen=True)
class RasterInfo:
    """The source raster's grid and metadata (for the selected bands, in output order)."""

    width: int
    height: int
    dtype: str
    crs_wkt: str | None
    transform: tuple[float, ...]
    nodata: float | None
    source_bands: tuple[int, ...]
    descriptions: tuple[str | None, ...]
    colorinterp: tuple[str, ...]
    units: tuple[str | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    tags: dict[str, str]
    band_tags: tuple[dict[str, str], ...]
    mask_kind: MaskKind

    @property
    def count(self) -> int:
        return len(self.source_bands)


@dataclass(frozen=True)
class CodecInfo:
    """The codec a file was coded with. Format 3 stores only its hash and the quality: ``model``
    and ``config`` are then filled from the installed model table (None when not installed),
    and ``lam`` is None."""

    model: str | None
    sha256: str
    config: str | None
    quality: float
    lam: float | None


@dataclass(frozen=True)
class EnhancerInfo:
    """The decode-time enhancement chosen at compress time (no bits: it runs on the decoded tiles);
    in format 3, ``model`` and ``config`` come from the installed model table as for the codec."""

    model: str | None
    sha256: str
    config: str | None


@dataclass(frozen=True)
class Header:
    raster: RasterInfo
    codec: CodecInfo
    tile_size: int
    overlap: int
    groups: tuple[tuple[int, ...], ...]
    mappings: tuple[ValueMapping, ...]
    clipped: tuple[int, ...]
    software: str
    extra: dict[str, Any] = field(default_factory=dict)
    enhancer: EnhancerInfo | None = None
    entropy: str = FLOAT_ENTROPY

    @property
    def plan(self) -> TilePlan:
        return TilePlan(self.raster.height, self.raster.width, self.tile_size, self.overlap)

    def to_json(self) -> dict[str, Any]:
        raster = asdict(self.raster)
        raster["nodata"] = _float_text(self.raster.nodata)
        raster["mask_kind"] = MaskKind(self.raster.mask_kind).value
        return {
            "raster": raster,
            "codec": asdict(self.codec),
            "tiling": {"size": self.tile_size, "overlap": self.overlap},
            "bands": {
                "groups": [list(g) for g in self.groups],
                "mapping": [[m.lo, m.hi] for m in self.mappings],
                "clipped": list(self.clipped),
                **({"curves": [[list(k) for k in m.knots] for m in self.mappings]}
                   if any(m.knots for m in self.mappings) else {}),
            },
            "software": self.software,
            "extra": self.extra,
            "enhancer": asdict(self.enhancer) if self.enhancer else None,
            "entropy": self.entropy,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Header:
        try:
            r = dict(data["raster"])
            r["nodata"] = None if r["nodata"] is None else float(r["nodata"])
            for key in ("transform", "source_bands", "descriptions", "colorinterp", "units",
                        "scales", "offsets", "band_tags"):
                r[key] = tuple(r[key])
            r["mask_kind"] = MaskKind(r["mask_kind"])
            bands = data["bands"]
            header = cls(
                raster=RasterInfo(**r),
                codec=CodecInfo(**data["codec"]),
                tile_size=int(data["tiling"]["size"]),
                overlap=int(data["tiling"]["overlap"]),
                groups=tuple(tuple(int(i) for i in g) for g in bands["groups"]),
                mappings=tuple(ValueMapping(float(lo), float(hi), tuple((float(v), float(u)) for v, u in knots))
                               for (lo, hi), knots in zip(bands["mapping"],
                                                          bands.get("curves", [[]] * len(bands["mapping"])))),
                clipped=tuple(int(c) for c in bands["clipped"]),
                software=str(data["software"]),
                extra=dict(data.get("extra", {})),
                enhancer=EnhancerInfo(**data["enhancer"]) if data.get("enhancer") else None,
                entropy=str(data.get("entropy", FLOAT_ENTROPY)),
            )
            header.plan  # validates the grid
        except Exception as exc:  # any missing or malformed field
            raise DamagedFileError(f"the header is malformed ({type(exc).__name__}: {exc})") from None
        return header


def _float_text(value: float | None) -> str | None:
    """Nodata as text, so NaN and ±inf survive strict JSON."""
    if value is None:
        return None
    return "nan" if math.isnan(value) else repr(float(value))


__all__ = ["CodecInfo", "EnhancerInfo", "Header", "MaskKind", "RasterInfo", "ENTROPY_SCHEME", "FLOAT_ENTROPY",
           "exact_entropy"]
