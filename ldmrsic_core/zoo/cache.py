"""The models a process has loaded, shared by its tile jobs: each model is loaded once (its
SHA-256 checked) and the few most recently used are kept. Jobs name models by :class:`ModelRef`,
which pickles, so the same job runs in this process, a thread or a Dask worker."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelRef:
    """A model a job needs: name (or path) as the user gave it, its SHA-256, the device name and the
    float precision its transforms run in (``fp32`` or ``bf16``: :mod:`ldmrsic_core.precision`)."""

    model: str
    sha256: str
    device: str
    kind: str = "codec"
    precision: str = "fp32"


#: Models this process has loaded, most recently used last (a few at most: each can be large).
_loaded: OrderedDict[ModelRef, Any] = OrderedDict()
_loading = threading.Lock()
_KEEP = 4


def _keep(ref: ModelRef, loaded: Any) -> None:
    _loaded[ref] = loaded
    _loaded.move_to_end(ref)
    while len(_loaded) > _KEEP:
        _loaded.popitem(last=False)


def model_ref(model: str | Path, loaded: Any, device: str, kind: str, precision: str = "auto") -> ModelRef:
    """The reference jobs use for a model this process has loaded (and may now use without loading
    it again); a weights file is named by its absolute path. ``precision`` (auto, fp32, bf16) is
    resolved for the model's device here, so every job of a run computes the same way."""
    from ldmrsic_core.precision import resolve_precision

    name = str(Path(model).resolve()) if Path(model).is_file() else str(model)
    chosen = resolve_precision(precision, next(loaded.model.parameters()).device)
    ref = ModelRef(name, loaded.sha256, device, kind, chosen)
    loaded.model.set_precision(chosen)
    if kind == "codec":
        loaded.model.exact_latent_codec()  # built once here, not by concurrent jobs
    with _loading:
        _keep(ref, loaded)
    return ref


def model(ref: ModelRef) -> Any:
    """The loaded model for ``ref`` (a LoadedCodec or LoadedEnhancer), loaded at first use, set to
    compute in the ref's precision (one precision per loaded model at a time: a run uses one)."""
    found = _loaded.get(ref)
    if found is not None:
        found.model.set_precision(ref.precision)
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
        found = _loaded[ref]
        found.model.set_precision(ref.precision)
        return found


def device_of(ref: ModelRef) -> Any:
    """The torch device the model of ``ref`` runs on."""
    return next(model(ref).model.parameters()).device


#: Inference models shared by the calls of this process (see :func:`shared_model`).
_shared: OrderedDict[tuple, Any] = OrderedDict()


def shared_model(kind: str, model: str | Path | None, device: Any, expect_sha256: str | None = None) -> Any:
    """A loaded codec (``kind`` "codec") or enhancer for inference, shared by the calls of this
    process, so a batch of scenes reads and hashes each weights file once. The key is the file's
    path with its size and modification and change times: a replaced file is read, and its hash
    checked, again. Never train a shared model (training loads its own)."""
    from ldmrsic_core.zoo.enhancers import load_enhancer
    from ldmrsic_core.zoo.registry import load_codec
    from ldmrsic_core.zoo.table import resolve

    load = load_codec if kind == "codec" else load_enhancer
    path = resolve(model)[1]
    stat = path.stat()
    key = (kind, str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, str(device))
    with _loading:
        found = _shared.get(key)
    if found is None or (expect_sha256 is not None and found.sha256 != expect_sha256):
        found = load(model, device, expect_sha256=expect_sha256)  # checks the hash (and raises) as ever
        with _loading:
            _shared[key] = found
            _shared.move_to_end(key)
            while len(_shared) > _KEEP:
                _shared.popitem(last=False)
    return found


def clear() -> None:
    """Forget every loaded model (the next use loads it again); for tests that change how models load."""
    with _loading:
        _loaded.clear()
        _shared.clear()
