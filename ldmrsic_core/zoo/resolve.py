"""Which weights decode a file: the codec and the decode-time enhancer its header names (by
SHA-256, with the name where known), or the ones the user gives, checked against it; loaded here
so that a mismatch is reported before any work, and named for the tile jobs (:mod:`.cache`)."""

from __future__ import annotations

from pathlib import Path

from ldmrsic_core.device import resolve_device
from ldmrsic_core.errors import WeightsError
from ldmrsic_core.format.header import CodecInfo, EnhancerInfo, Header
from ldmrsic_core.zoo.cache import ModelRef, model_ref, shared_model
from ldmrsic_core.zoo.enhancers import LoadedEnhancer, check_pairing
from ldmrsic_core.zoo.table import named_weights


def described(need: CodecInfo | EnhancerInfo, kind: str = "model") -> str:
    """How an error names the weights a file needs: by name where the file (format 1–2) or the
    installed models know it, always by SHA-256 (a format 4 file's short id: its first 16 hex digits)."""
    digest = need.sha256 if len(need.sha256) == 64 else need.sha256 + "…"
    return f"{kind} {need.model!r} (SHA-256 {digest})" if need.model else f"the {kind} with SHA-256 {digest}"


def codec_for(header: Header, model: str | Path | None, device: str, precision: str = "auto") -> ModelRef:
    """The weights a file was made with: ``model`` if given (hash checked), else a bundled match;
    loaded here (so a mismatch is reported before any work) and named for the jobs."""
    need = header.codec
    if model is None:
        match = [w.name for w in named_weights().values() if w.sha256 == need.sha256]
        if not match:
            raise WeightsError(
                f"weights not available: this file needs {described(need)}; "
                "pass --model PATH to that weights file"
            )
        model = match[0]
    try:
        loaded = shared_model("codec", model, resolve_device(device), expect_sha256=need.sha256)
    except WeightsError as exc:
        raise WeightsError(f"weights not available: this file needs {described(need)}; {exc}") from None
    return model_ref(model, loaded, device, "codec", precision)


def enhancer_for(header: Header, enhance: bool, enhancer: str | Path | None,
                 device: str, precision: str = "auto") -> tuple[ModelRef, LoadedEnhancer] | None:
    """The decode-time enhancer: ``enhancer`` if given, else the one the file names (hash checked)."""
    if not enhance:
        return None
    if enhancer is not None:
        loaded = check_pairing(shared_model("enhancer", enhancer, resolve_device(device)), header.codec.model,
                               header.codec.sha256)
        return model_ref(enhancer, loaded, device, "enhancer", precision), loaded
    need = header.enhancer
    if need is None:
        return None
    match = [w.name for w in named_weights().values() if w.sha256 == need.sha256]
    if not match:
        raise WeightsError(
            f"this file is enhanced at decode time by {described(need, 'enhancer')}, which is not "
            "installed; pass --no-enhance to decode without it or --enhancer NAME|PATH to choose one"
        )
    loaded = shared_model("enhancer", match[0], resolve_device(device), expect_sha256=need.sha256)
    return model_ref(match[0], loaded, device, "enhancer", precision), loaded
