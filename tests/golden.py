"""Helpers for the golden files (``tests/expected/``): decoding them, hashing pixels, the platform."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import torch

from ldmrsic_core.format.versions import VERSION

VERSION_TEXT = "{}.{}".format(*VERSION)
EXPECTED = Path(__file__).resolve().parent / "expected"


def platform_key() -> str:
    """What decoded pixels are bit-identical across: the torch build and the CPU's vector unit.
    (Latents are exact everywhere; the float synthesis and enhancement round per platform.)"""
    return f"torch {torch.__version__.split('+')[0]} / {torch.backends.cpu.get_cpu_capability()}"


def cpu_key() -> str:
    """Where decoded pixels are bit-identical: the platform and the CPU model. Two CPUs of the same
    vector unit can still round the float transforms differently (seen: an AMD EPYC decodes the
    golden files one step off in 0.01% of values against the CPU they were recorded on)."""
    return f"{platform_key()} / {_cpu_model()}"


def _cpu_model() -> str:
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        return f"{fields['vendor_id']} family {fields['cpu family']} model {fields['model']}"
    except (OSError, KeyError):
        import platform

        return platform.processor() or platform.machine()


def decode_golden(path: Path) -> np.ndarray:
    """Decode as a user would (bundled models, the file's own enhancer) and return the pixels, in the
    reference float32 precision the recorded pixels were made in (bf16 rounds them otherwise)."""
    from ldmrsic_core import decompress_raster

    with tempfile.TemporaryDirectory() as work:
        out = decompress_raster(path, Path(work) / "out.tif", device="cpu", precision="fp32").output
        with rasterio.open(out) as src:
            return src.read()


def file_sha256(path: Path | None, pixels: np.ndarray | None = None) -> str:
    if pixels is not None:
        return hashlib.sha256(str(pixels.dtype).encode() + str(pixels.shape).encode() + pixels.tobytes()).hexdigest()
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_pixels(path: Path, pixels: np.ndarray) -> None:
    np.savez_compressed(path, pixels=pixels)


def load_pixels(path: Path) -> np.ndarray:
    with np.load(path) as data:
        return data["pixels"]
