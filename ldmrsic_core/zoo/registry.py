"""The model table: configurations, named weights shipped with the package, and loading.

A weights file is a ``torch.save`` of plain containers and tensors (loaded with
``weights_only=True``, so no code runs on load)::

    {"format": "ldmrsic-weights", "version": 1, "name": str, "config": str,
     "trained": bool, "notes": str, "state_dict": {...},
     # enhancers only:
     "kind": "enhancer", "source": "ldmrsic" | "jpeg2000", "codec_sha256": str | None}

Codec and enhancer configurations have distinct names, so ``config`` says which it is.

Its identity is the SHA-256 of the file's bytes; a container records it, and decoding
refuses weights with another hash.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ldmrsic_core.errors import WeightsError
from ldmrsic_core.models.codec import VariableRateElic
from ldmrsic_core.zoo.configs import CodecConfig, codec_config
from ldmrsic_core.zoo.table import resolve

WEIGHTS_FORMAT = "ldmrsic-weights"
WEIGHTS_VERSION = 1


@dataclass(frozen=True)
class LoadedCodec:
    """A codec ready for entropy coding, with the identity a container records."""

    name: str
    sha256: str
    config: CodecConfig
    trained: bool
    model: VariableRateElic


def read_weights(model: str | Path | None, expect_sha256: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """(name, SHA-256, contents) of a weights file given by name or path, hashes checked before loading.
    ``expect_sha256`` is a whole SHA-256 or, from a format 4 file that names a bundled model this
    installation lacks, the 16 hex digits it stores."""
    name, path, digest = resolve(model)
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if digest is not None and actual != digest:
        raise WeightsError(f"weights file {path} is damaged or replaced: SHA-256 {actual} differs from the "
                           f"recorded {digest}")
    if expect_sha256 is not None and (len(expect_sha256) < 16 or not actual.startswith(expect_sha256)):
        raise WeightsError(
            f"weights {path} (SHA-256 {actual[:16]}…) are not the ones this file needs (SHA-256 {expect_sha256})"
        )
    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a bad file
        raise WeightsError(f"{path} is not a readable weights file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise WeightsError(f"{path} is not an ldmrsic-geo weights file")
    if blob.get("version") != WEIGHTS_VERSION:
        raise WeightsError(f"{path} has weights format version {blob.get('version')}, "
                           f"this reader needs {WEIGHTS_VERSION}")
    return str(blob.get("name") or name), actual, blob


def load_codec(model: str | Path | None = None, device: str | torch.device = "cpu",
               expect_sha256: str | None = None) -> LoadedCodec:
    """Load a codec by bundled name or path, verifying its SHA-256 (and ``expect_sha256`` if given)."""
    name, actual, blob = read_weights(model, expect_sha256)
    if blob.get("kind", "codec") != "codec":
        raise WeightsError(f"model {name} is an enhancement model, not a codec; pass it as --enhancer")
    cfg = codec_config(str(blob["config"]))
    net = cfg.build()
    net.load_state_dict(blob["state_dict"])
    net.eval().to(device)
    return LoadedCodec(name=name, sha256=actual, config=cfg, trained=bool(blob.get("trained")), model=net)


def save_weights(net: torch.nn.Module, config_name: str, path: Path, *, name: str,
                 trained: bool, notes: str = "", extra: dict[str, Any] | None = None, float16: bool = False) -> str:
    """Write a weights file (a codec's CDF tables built first) and return its SHA-256.

    ``float16`` stores the weight matrices and kernels in half precision (half the file): they are
    rounded in ``net`` first, so the tables and the file describe the same model, which loads as
    float32 like any other."""
    if float16:
        with torch.no_grad():
            for param in net.parameters():
                if param.dim() >= 2 and param.dtype == torch.float32:
                    param.copy_(param.half().float())
    if isinstance(net, VariableRateElic):
        net.update(force=True)
    blob = {
        **(extra or {}),
        "format": WEIGHTS_FORMAT,
        "version": WEIGHTS_VERSION,
        "name": name,
        "config": config_name,
        "trained": trained,
        "notes": notes,
        "state_dict": {k: _stored(v, float16) for k, v in net.state_dict().items()},
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    Path(path).write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _stored(tensor: torch.Tensor, float16: bool) -> torch.Tensor:
    tensor = tensor.detach().cpu().contiguous()
    return tensor.half() if float16 and tensor.dim() >= 2 and tensor.dtype == torch.float32 else tensor
