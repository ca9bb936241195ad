"""The compact binary header of formats 3 to 6 (``docs/FORMAT.md``): a fixed core, then only the
fields that differ from what the decoder can derive.

Integers are unsigned LEB128 varints unless a width is given; floats are IEEE-754 float64,
little-endian. Layout::

    varint  present   bit set per optional field below (PRESENT_* constants)
    varint  width, height, band count, tile size, overlap
    u8      dtype (index in SUPPORTED_DTYPES), mask kind (index in MASK_CODES),
            entropy scheme (index in ENTROPY_CODES)
    f64     quality                      (format 4: varint, thousandths of a quality unit)
    32 B    SHA-256 of the codec's weights file
                                         (format 4: its first 8 bytes for a bundled model,
                                         the whole hash with PRESENT_CODEC_HASH otherwise)
    varint  software version: major, minor, patch
    then, in bit order, each present optional field.

Format 4 names a bundled model (and enhancer) by the first 8 bytes of its SHA-256: every
installation's table holds the whole hash, which the decoder looks up and checks the weights
against as before; 48 bytes less for a file with its enhancer, a tenth of a small image's bits
at the lowest preset. Format 6 adds PRESENT_CURVES: the interior knots of bands whose values are
mapped through a fitted curve (``ldmrsic_core/value_curves.py``), per band a varint count and that
many (f64 value, f64 unit) pairs.

What is not stored and how the decoder derives it: the names of bundled models and every
model's configuration (from the weights found by hash; other models' names are stored), λ
(from the quality), the band groups (consecutive threes), the
value mapping of 8-bit data (0–255), source bands 1…n, colour interpretation (RGB for three
bands, grey then undefined otherwise), empty descriptions, units, tags and clip counts, scale 1
and offset 0, the identity transform of a raster without georeferencing. A CRS that is an
EPSG code (same definition, as GDAL compares them) is stored as that code, otherwise as WKT.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from typing import Any

from ldmrsic_core.bands import SUPPORTED_DTYPES, ValueMapping, default_mapping, group_bands
from ldmrsic_core.errors import DamagedFileError
from ldmrsic_core.format.header import CodecInfo, EnhancerInfo, Header, MaskKind, RasterInfo
from ldmrsic_core.format.varint import Reader, varint
from ldmrsic_core.format.versions import ENTROPY_SCHEME, VERSION

PRESENT_CRS = 1 << 0
PRESENT_TRANSFORM = 1 << 1
PRESENT_NODATA = 1 << 2
PRESENT_ENHANCER = 1 << 3
PRESENT_SOURCE_BANDS = 1 << 4
PRESENT_GROUPS = 1 << 5
PRESENT_MAPPINGS = 1 << 6
PRESENT_CLIPPED = 1 << 7
PRESENT_COLORINTERP = 1 << 8
PRESENT_METADATA = 1 << 9  # descriptions, units, scales, offsets, tags, band tags, extra: zlib(JSON)
PRESENT_CODEC_NAME = 1 << 10  # for models the decoder cannot name from its bundled table
PRESENT_ENHANCER_NAME = 1 << 11
KNOWN_FIELDS_3 = (1 << 12) - 1
PRESENT_CODEC_HASH = 1 << 12  # format 4: the codec's whole SHA-256 (a model not bundled), else its first 8 bytes
PRESENT_ENHANCER_HASH = 1 << 13  # format 4: likewise for the enhancer
KNOWN_FIELDS_4 = (1 << 14) - 1
PRESENT_CURVES = 1 << 14  # format 6: knots of the bands' fitted value curves
KNOWN_FIELDS_6 = (1 << 15) - 1
#: The first major with value curves.
CURVES_MAJOR = 6

MASK_CODES = (MaskKind.NONE, MaskKind.NODATA, MaskKind.NAN, MaskKind.DATASET_MASK)
ENTROPY_CODES = (ENTROPY_SCHEME,)
CRS_EPSG, CRS_WKT = 1, 2
#: GDAL's colour interpretations, in the order of its GDALColorInterp enum (rasterio's ColorInterp names).
COLOR_NAMES = ("undefined", "gray", "palette", "red", "green", "blue", "alpha", "hue", "saturation",
               "lightness", "cyan", "magenta", "yellow", "black", "Y", "Cb", "Cr", "pan", "coastal",
               "rededge", "nir", "swir", "mwir", "lwir", "tir", "other_ir", "sar_ka", "sar_k", "sar_ku",
               "sar_x", "sar_c", "sar_s", "sar_l", "sar_p")
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SHA256_BYTES = 32
#: Format 4: the bytes of a bundled model's SHA-256 that name it (64 bits: no accidental collision).
SHORT_ID_BYTES = 8
#: Format 4 stores the quality in steps of 1/QUALITY_STEPS (a varint of two bytes).
QUALITY_STEPS = 1000
_F64 = struct.Struct("<d")


def stored_quality(quality: float) -> float:
    """``quality`` on the grid format 4 stores (thousandths): what the encoder codes with."""
    return round(quality * QUALITY_STEPS) / QUALITY_STEPS


def _compact(version: tuple[int, int]) -> bool:
    """Whether ``version`` has format 4's short model ids and quality."""
    return version[0] >= 4


def default_colorinterp(count: int) -> tuple[str, ...]:
    return ("red", "green", "blue") if count == 3 else ("gray",) + ("undefined",) * (count - 1)


def _metadata(r: RasterInfo, extra: dict[str, Any]) -> dict[str, Any]:
    """The free-form metadata that differs from its defaults, as a JSON-ready dict."""
    fields = {"descriptions": r.descriptions, "units": r.units, "band_tags": r.band_tags}
    out: dict[str, Any] = {k: list(v) for k, v in fields.items() if any(v)}
    if any(s != 1.0 for s in r.scales):
        out["scales"] = list(r.scales)
    if any(o != 0.0 for o in r.offsets):
        out["offsets"] = list(r.offsets)
    if r.tags:
        out["tags"] = r.tags
    if extra:
        out["extra"] = extra
    return out


def encode_header(header: Header, named_elsewhere: frozenset[str] = frozenset(),
                  version: tuple[int, int] = VERSION) -> bytes:
    """The binary header of ``header`` in format ``version`` (3 or 4; see the module docstring).
    Model names are stored unless the model's SHA-256 is in ``named_elsewhere`` (the bundled
    models, which every installation can name from its own table); format 4 also names those by
    the first 8 bytes of their hash only."""
    r, n = header.raster, header.raster.count
    if header.entropy not in ENTROPY_CODES:
        raise ValueError(f"format 3 has no code for entropy scheme {header.entropy!r}")
    compact = _compact(version)
    if compact and stored_quality(header.codec.quality) != header.codec.quality:
        raise ValueError(f"format 4 stores the quality in thousandths, not {header.codec.quality!r}")
    optional: list[tuple[int, bytes]] = []
    if r.crs_wkt:
        optional.append((PRESENT_CRS, _crs_bytes(r.crs_wkt)))
    if tuple(r.transform) != IDENTITY:
        optional.append((PRESENT_TRANSFORM, b"".join(_F64.pack(v) for v in r.transform)))
    if r.nodata is not None:
        optional.append((PRESENT_NODATA, _F64.pack(r.nodata)))
    if header.enhancer is not None:
        optional.append((PRESENT_ENHANCER, _model_id(header.enhancer.sha256, named_elsewhere, compact)))
    if tuple(r.source_bands) != tuple(range(1, n + 1)):
        optional.append((PRESENT_SOURCE_BANDS, b"".join(varint(b) for b in r.source_bands)))
    if [list(g) for g in header.groups] != group_bands(n):
        optional.append((PRESENT_GROUPS, varint(len(header.groups)) + b"".join(
            varint(len(g)) + b"".join(varint(i) for i in g) for g in header.groups)))
    if r.dtype != "uint8" or any(m != default_mapping("uint8", 0, 255) for m in header.mappings):
        optional.append((PRESENT_MAPPINGS, b"".join(_F64.pack(m.lo) + _F64.pack(m.hi) for m in header.mappings)))
    if any(m.knots for m in header.mappings):
        if version[0] < CURVES_MAJOR:
            raise ValueError(f"format {version[0]} has no value curves (format {CURVES_MAJOR} has)")
        optional.append((PRESENT_CURVES, b"".join(
            varint(len(m.knots)) + b"".join(_F64.pack(v) + _F64.pack(u) for v, u in m.knots) for m in header.mappings)))
    if any(header.clipped):
        optional.append((PRESENT_CLIPPED, b"".join(varint(c) for c in header.clipped)))
    if tuple(r.colorinterp) != default_colorinterp(n):
        optional.append((PRESENT_COLORINTERP, bytes(COLOR_NAMES.index(c) for c in r.colorinterp)))
    metadata = _metadata(r, header.extra)
    if metadata:
        packed = zlib.compress(json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode(), 9)
        optional.append((PRESENT_METADATA, varint(len(packed)) + packed))
    if header.codec.model and header.codec.sha256 not in named_elsewhere:
        optional.append((PRESENT_CODEC_NAME, _text(header.codec.model)))
    if header.enhancer is not None and header.enhancer.model and header.enhancer.sha256 not in named_elsewhere:
        optional.append((PRESENT_ENHANCER_NAME, _text(header.enhancer.model)))
    present = sum(bit for bit, _ in optional)
    if compact:  # flags without a field: the model ids' lengths
        present |= PRESENT_CODEC_HASH if header.codec.sha256 not in named_elsewhere else 0
        if header.enhancer is not None and header.enhancer.sha256 not in named_elsewhere:
            present |= PRESENT_ENHANCER_HASH
    out = bytearray(varint(present))
    for value in (r.width, r.height, n, header.tile_size, header.overlap):
        out += varint(value)
    out += bytes((SUPPORTED_DTYPES.index(r.dtype), MASK_CODES.index(MaskKind(r.mask_kind)),
                  ENTROPY_CODES.index(header.entropy)))
    if compact:
        out += varint(round(header.codec.quality * QUALITY_STEPS))
    else:
        out += _F64.pack(header.codec.quality)
    out += _model_id(header.codec.sha256, named_elsewhere, compact)
    out += b"".join(varint(v) for v in _software_version(header.software))
    for _, data in sorted(optional):
        out += data
    return bytes(out)


def _model_id(sha256: str, named_elsewhere: frozenset[str], compact: bool) -> bytes:
    """The bytes naming a model: its SHA-256, or in format 4 its first 8 bytes when it is bundled."""
    digest = bytes.fromhex(sha256)
    if len(digest) != SHA256_BYTES:
        raise ValueError(f"a model's SHA-256 has {SHA256_BYTES} bytes, not {len(digest)}")
    return digest[:SHORT_ID_BYTES] if compact and sha256 in named_elsewhere else digest


def decode_header(data: bytes, names: dict[str, tuple[str, str]] | None = None,
                  version: tuple[int, int] = VERSION) -> Header:
    """Parse a binary header of format ``version`` that fills ``data``; ``names`` maps a weights
    SHA-256 to its (name, config) where that model is installed."""
    header, size = read_header(data, names, version)
    if size != len(data):
        raise DamagedFileError("the header is malformed (trailing bytes)")
    return header


def read_header(data: bytes, names: dict[str, tuple[str, str]] | None = None,
                version: tuple[int, int] = VERSION) -> tuple[Header, int]:
    """Parse the binary header of format ``version`` at the start of ``data``: (header, its length
    in bytes). A format 4 short model id becomes the whole SHA-256 of the installed model it names
    (in ``names``); one no installed model has stays the 16 hex digits stored."""
    reader = Reader(data, ValueError)
    try:
        return _decode(reader, names or {}, len(data), version), reader.pos
    except Exception as exc:  # any malformed field
        raise DamagedFileError(f"the header is malformed ({type(exc).__name__}: {exc})") from None


def _decode(reader: Reader, names: dict[str, tuple[str, str]], size: int, version: tuple[int, int]) -> Header:
    compact = _compact(version)
    present = reader.varint()
    known = KNOWN_FIELDS_6 if version[0] >= CURVES_MAJOR else KNOWN_FIELDS_4 if compact else KNOWN_FIELDS_3
    if present & ~known:
        raise ValueError(f"unknown header fields {present & ~known:#x}")
    width, height, n, tile, overlap = (reader.varint() for _ in range(5))
    if not 0 < n <= size * 8:  # a band costs at least a bit somewhere: bounds allocations below
        raise ValueError(f"{n} bands")
    dtype_code, mask_code, entropy_code = reader.take(3)
    dtype, mask_kind, entropy = SUPPORTED_DTYPES[dtype_code], MASK_CODES[mask_code], ENTROPY_CODES[entropy_code]
    quality = reader.varint() / QUALITY_STEPS if compact else _F64.unpack(reader.take(8))[0]
    codec_sha = _read_model_id(reader, names, compact and not present & PRESENT_CODEC_HASH)
    software = "ldmrsic-geo " + ".".join(str(reader.varint()) for _ in range(3))
    crs = transform = nodata = enhancer_sha = None
    source_bands = tuple(range(1, n + 1))
    groups = tuple(tuple(g) for g in group_bands(n))
    mappings = (default_mapping("uint8", 0, 255),) * n
    clipped = (0,) * n
    colorinterp = default_colorinterp(n)
    metadata: dict[str, Any] = {}
    if present & PRESENT_CRS:
        crs = _crs_from(reader)
    if present & PRESENT_TRANSFORM:
        transform = tuple(_F64.unpack(reader.take(8))[0] for _ in range(6))
    if present & PRESENT_NODATA:
        nodata = _F64.unpack(reader.take(8))[0]
    if present & PRESENT_ENHANCER:
        enhancer_sha = _read_model_id(reader, names, compact and not present & PRESENT_ENHANCER_HASH)
    if present & PRESENT_SOURCE_BANDS:
        source_bands = tuple(reader.varint() for _ in range(n))
    if present & PRESENT_GROUPS:
        count = reader.varint()
        if count > n:
            raise ValueError(f"{count} band groups for {n} bands")
        groups = tuple(tuple(reader.varint() for _ in range(min(reader.varint(), 3))) for _ in range(count))
    if present & PRESENT_MAPPINGS:
        mappings = tuple(ValueMapping(_F64.unpack(reader.take(8))[0], _F64.unpack(reader.take(8))[0])
                         for _ in range(n))
    if present & PRESENT_CLIPPED:
        clipped = tuple(reader.varint() for _ in range(n))
    if present & PRESENT_COLORINTERP:
        colorinterp = tuple(COLOR_NAMES[c] for c in reader.take(n))
    if present & PRESENT_METADATA:
        inflater = zlib.decompressobj()
        metadata = json.loads(inflater.decompress(reader.take(reader.varint()), 16 << 20))
        if inflater.unconsumed_tail:
            raise ValueError("metadata larger than 16 MiB")
    stored_names = {}
    if present & PRESENT_CODEC_NAME:
        stored_names[codec_sha] = reader.take(reader.varint()).decode()
    if present & PRESENT_ENHANCER_NAME and enhancer_sha is not None:
        stored_names[enhancer_sha] = reader.take(reader.varint()).decode()
    if present & PRESENT_CURVES:
        mappings = tuple(ValueMapping(m.lo, m.hi, _read_knots(reader, size)) for m in mappings)
    raster = RasterInfo(
        width=width, height=height, dtype=dtype, crs_wkt=crs, transform=transform or IDENTITY, nodata=nodata,
        source_bands=source_bands, descriptions=tuple(metadata.get("descriptions", (None,) * n)),
        colorinterp=colorinterp, units=tuple(metadata.get("units", (None,) * n)),
        scales=tuple(float(s) for s in metadata.get("scales", (1.0,) * n)),
        offsets=tuple(float(o) for o in metadata.get("offsets", (0.0,) * n)),
        tags=dict(metadata.get("tags", {})), band_tags=tuple(dict(t) for t in metadata.get("band_tags", ({},) * n)),
        mask_kind=mask_kind)
    lengths = {len(v) for v in (raster.descriptions, raster.units, raster.scales, raster.offsets, raster.band_tags)}
    if lengths != {n}:
        raise ValueError("per-band metadata of the wrong length")
    codec_name, codec_config = names.get(codec_sha, (None, None))
    codec_name = stored_names.get(codec_sha, codec_name)
    enhancer = None
    if enhancer_sha is not None:
        enhancer_name, enhancer_config = names.get(enhancer_sha, (None, None))
        enhancer = EnhancerInfo(stored_names.get(enhancer_sha, enhancer_name), enhancer_sha, enhancer_config)
    header = Header(raster=raster, codec=CodecInfo(codec_name, codec_sha, codec_config, quality, None),
                    tile_size=tile, overlap=overlap, groups=groups, mappings=mappings, clipped=clipped,
                    software=software, extra=dict(metadata.get("extra", {})), enhancer=enhancer, entropy=entropy)
    if not (math.isfinite(quality) and len(header.plan) > 0):  # also validates the grid
        raise ValueError("no tiles")
    return header


def _read_knots(reader: Reader, size: int) -> tuple[tuple[float, float], ...]:
    count = reader.varint()
    if count > size // 16:  # each knot takes 16 bytes: bounds the allocation
        raise ValueError(f"{count} knots")
    return tuple((_F64.unpack(reader.take(8))[0], _F64.unpack(reader.take(8))[0]) for _ in range(count))


def _read_model_id(reader: Reader, names: dict[str, tuple[str, str]], short: bool) -> str:
    """A model's SHA-256 (hex): read whole, or from a short id looked up among ``names``."""
    if not short:
        return reader.take(SHA256_BYTES).hex()
    prefix = reader.take(SHORT_ID_BYTES).hex()
    matches = [sha for sha in names if sha.startswith(prefix)]
    return matches[0] if len(matches) == 1 else prefix


def _text(value: str) -> bytes:
    data = value.encode()
    return varint(len(data)) + data


def _software_version(software: str) -> tuple[int, int, int]:
    """``"ldmrsic-geo 0.1.0"`` → (0, 1, 0); anything unparsable → (0, 0, 0)."""
    parts = software.rsplit(" ", 1)[-1].split(".")
    try:
        numbers = [int(p) for p in parts[:3]]
    except ValueError:
        return (0, 0, 0)
    return tuple(numbers + [0] * (3 - len(numbers)))  # type: ignore[return-value]


def _crs_bytes(wkt: str) -> bytes:
    """An EPSG code when the CRS is exactly one (GDAL's comparison), else its WKT, compressed."""
    from rasterio.crs import CRS

    crs = CRS.from_wkt(wkt)
    code = crs.to_epsg()
    if code is not None and CRS.from_epsg(code) == crs:
        return varint(CRS_EPSG) + varint(code)
    packed = zlib.compress(wkt.encode(), 9)
    return varint(CRS_WKT) + varint(len(packed)) + packed


def _crs_from(reader: Reader) -> str:
    kind = reader.varint()
    if kind == CRS_EPSG:
        from rasterio.crs import CRS

        return CRS.from_epsg(reader.varint()).to_wkt()
    if kind == CRS_WKT:
        inflater = zlib.decompressobj()
        text = inflater.decompress(reader.take(reader.varint()), 1 << 20)
        if inflater.unconsumed_tail:
            raise ValueError("CRS larger than 1 MiB")
        return text.decode()
    raise ValueError(f"unknown CRS kind {kind}")
