"""``export_model``: a training run's EMA weights → a named weights file the CLI loads by name.

Codec runs export a codec; Stage I/II runs export an enhancer, recording the source it
restores and (for our codec) that codec's SHA-256, so decoding pairs them by hash.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ldmrsic_core.defaults import MAX_QUALITY, MIN_QUALITY
from ldmrsic_core.errors import InputError, OutputExistsError
from ldmrsic_core.outputs import temporary_sibling
from ldmrsic_core.training.run import read_checkpoint
from ldmrsic_core.zoo.registry import save_weights
from ldmrsic_core.zoo.table import read_model_table, user_model_dir

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _built(run: Path, state: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The run's network with its EMA weights, and the extra weights-file entries of its kind."""
    cfg = state["config"]
    if state.get("stage", "codec") == "codec":
        from ldmrsic_core.zoo.configs import codec_config

        net = codec_config(cfg["config"]).build()
        extra: dict[str, Any] = {}
    else:
        from ldmrsic_core.zoo.configs import enhancer_config

        net = enhancer_config(cfg["config"]).build()
        codec_sha = state.get("codec_sha256")
        if cfg["source"] == "ldmrsic" and codec_sha is None:  # runs that predate the entry
            from ldmrsic_core.zoo.registry import read_weights

            codec_sha = read_weights(cfg["codec"])[1]
        extra = {"kind": "enhancer", "source": cfg["source"], "codec_sha256": codec_sha, "stage": state["stage"],
                 "conditioned": bool(state.get("conditioned", False)),
                 "validation": _validation_rows(run, int(state["step"]))}
        from ldmrsic_core.enhance.enhancer import load_enhancer_state

        load_enhancer_state(net, state["ema"])
        return net.eval(), extra
    net.load_state_dict(state["ema"])
    return net.eval(), extra


def _validation_rows(run: Path, step: int) -> list[dict[str, float]]:
    """The run's validation rows for the exported step (per level: bpp, PSNR decoded/teacher/enhanced)."""
    import csv

    path = run / "val.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return [r for r in rows if int(r["step"]) == step]


def export_model(run: Path, name: str, *, checkpoint: str = "best", folder: Path | None = None,
                 default: bool = False, default_from: float | None = None, notes: str = "",
                 overwrite: bool = False, float16: bool = False) -> tuple[Path, str]:
    """Write ``folder/NAME.pt`` from the run's checkpoint (EMA weights) and record it in ``models.json``
    (``float16``: weight tensors stored in half precision, see :func:`save_weights`). ``default``
    makes it the folder's default codec; ``default_from`` its default from that quality up (a codec
    for the top rates: :func:`ldmrsic_core.zoo.table.default_models`)."""
    if not NAME.match(name):
        raise InputError(f"model name {name!r} is invalid: use letters, digits, '.', '_' and '-'")
    source = run / f"{checkpoint}.pt"
    if not source.is_file():
        raise InputError(f"{source} does not exist; is {run} a training run (try --checkpoint last)?")
    state = read_checkpoint(source)
    net, extra = _built(run, state)
    if (default or default_from is not None) and extra:
        raise InputError("--default and --default-from apply to codecs; enhancers pair with their codec by hash")
    if default_from is not None and not MIN_QUALITY < default_from <= MAX_QUALITY:
        raise InputError(f"--default-from {default_from:g}: give a quality above {MIN_QUALITY:g} and at most "
                         f"{MAX_QUALITY:g} (below it the folder's default codec stays)")
    cfg_name = state["config"]["config"]
    folder = folder or user_model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    table = read_model_table(folder)
    target = folder / f"{name}.pt"
    if (name in table["models"] or target.exists()) and not overwrite:
        raise OutputExistsError(f"model {name} exists in {folder}; pass --overwrite to replace it")
    notes = notes or f"EMA weights of {run.name} at step {state['step']} ({checkpoint} checkpoint)"
    tmp = temporary_sibling(target)
    try:
        digest = save_weights(net, cfg_name, tmp, name=name, trained=True, notes=notes, extra=extra,
                              float16=float16)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    entry = {"file": target.name, "sha256": digest, "config": cfg_name, "notes": notes}
    entry.update({k: extra[k] for k in ("kind", "source", "codec_sha256") if k in extra})
    table["models"][name] = entry
    if default:
        table["default"] = name
    if default_from is not None:
        tops = [e for e in table.get("top_defaults", []) if e["model"] != name and e["from_quality"] != default_from]
        table["top_defaults"] = sorted(tops + [{"from_quality": default_from, "model": name}],
                                       key=lambda e: e["from_quality"])
    table_path = folder / "models.json"
    tmp_table = temporary_sibling(table_path)
    tmp_table.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_table, table_path)
    return target, digest
