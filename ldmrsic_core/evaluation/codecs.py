"""Classical codec adapters for the evaluation: images (H×W×3) in, (bytes, decoded) out.

Each codec takes images of up to ``bits`` bits per sample: uint8, or uint16 holding values of
``bits`` bits (JPEG2000 and JPEG XL 16, AVIF 12; the JPEG and WebP GDAL writes are 8-bit only).
The runner hands a codec an image wider than 8 bits at the codec's own depth, as a user would.

What is counted: the codestream or file the codec produces in memory — J2K codestream for
JPEG2000 (GDAL JP2OpenJPEG), the JPEG and WebP files GDAL writes, the AVIF and JPEG XL files
imagecodecs writes (all without georeferencing boxes). Settings span about 0.03–1.5 bpp on
aerial RGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ldmrsic_core.errors import InputError
from ldmrsic_core.evaluation.classic import gdal_decode, gdal_encode, jpeg2000_options

Encoder = Callable[[np.ndarray, float], bytes]   # H×W×3 uint8 or uint16, setting → bytes
Decoder = Callable[[bytes], np.ndarray]          # bytes → H×W×3 of the same dtype
AVIF_BITS = 12


@dataclass(frozen=True)
class ClassicCodec:
    name: str
    setting: str
    settings: tuple[float, ...]
    encode: Encoder
    decode: Decoder
    bits: int = 8  # the deepest samples it codes


def _chw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def _gdal_encoder(driver: str, ext: str) -> Encoder:
    return lambda image, quality: gdal_encode(_chw(image), driver, ext, QUALITY=str(int(quality)))


def _gdal_decoder(data: bytes) -> np.ndarray:
    return gdal_decode(data).transpose(1, 2, 0)


def _jpeg2000(image: np.ndarray, bpp: float) -> bytes:
    return gdal_encode(_chw(image), "JP2OpenJPEG", ".j2k", **jpeg2000_options(_chw(image), bpp))


def _imagecodecs():
    try:
        import imagecodecs
    except ImportError:
        raise InputError("the avif and jpegxl codecs need imagecodecs: pip install 'ldmrsic-geo[eval]'") from None
    return imagecodecs


def _avif(image: np.ndarray, quality: float) -> bytes:
    depth = {"bitspersample": AVIF_BITS} if image.dtype == np.uint16 else {}  # uint16 holds 12-bit values
    return bytes(_imagecodecs().avif_encode(image, level=int(quality), speed=6, **depth))


def _jpegxl(image: np.ndarray, quality: float) -> bytes:
    return bytes(_imagecodecs().jpegxl_encode(image, level=int(quality), effort=7))


CLASSIC: dict[str, ClassicCodec] = {
    c.name: c
    for c in (
        ClassicCodec("jpeg2000", "bpp", (0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 1.5), _jpeg2000, _gdal_decoder, 16),
        ClassicCodec("webp", "quality", (0, 5, 15, 30, 50, 70, 90), _gdal_encoder("WEBP", ".webp"), _gdal_decoder),
        ClassicCodec("jpeg", "quality", (2, 5, 10, 20, 40, 60, 85), _gdal_encoder("JPEG", ".jpg"), _gdal_decoder),
        ClassicCodec("avif", "quality", (0, 5, 15, 30, 45, 60, 75), _avif, lambda d: _imagecodecs().avif_decode(d),
                     AVIF_BITS),
        ClassicCodec("jpegxl", "quality", (1, 10, 25, 40, 55, 70, 85), _jpegxl,
                     lambda d: _imagecodecs().jpegxl_decode(d), 16),
    )
}
LEARNED = ("ldmrsic", "ldmrsic-noenh")
ALL_CODECS = LEARNED + tuple(CLASSIC)
