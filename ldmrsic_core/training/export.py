"""``export_codec``: a training run's EMA weights → a named weights file the CLI loads by name."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from ldmrsic_core.errors import InputError, OutputExistsError
from ldmrsic_core.models.registry import config as codec_config
from ldmrsic_core.models.registry import read_model_table, save_weights, user_model_dir
from ldmrsic_core.outputs import temporary_sibling
from ldmrsic_core.training.codec_trainer import CHECKPOINT_FORMAT

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def export_codec(run: Path, name: str, *, checkpoint: str = "best", folder: Path | None = None,
                 default: bool = False, notes: str = "", overwrite: bool = False) -> tuple[Path, str]:
    """Write ``folder/NAME.pt`` from the run's checkpoint (EMA weights) and record it in ``models.json``."""
    if not NAME.match(name):
        raise InputError(f"model name {name!r} is invalid: use letters, digits, '.', '_' and '-'")
    source = run / f"{checkpoint}.pt"
    if not source.is_file():
        raise InputError(f"{source} does not exist; is {run} a training run (try --checkpoint last)?")
    state = torch.load(source, map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{source} is not an ldmrsic-geo training checkpoint")
    cfg_name = state["config"]["config"]
    net = codec_config(cfg_name).build()
    net.load_state_dict(state["ema"])
    folder = folder or user_model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    table = read_model_table(folder)
    target = folder / f"{name}.pt"
    if (name in table["models"] or target.exists()) and not overwrite:
        raise OutputExistsError(f"model {name} exists in {folder}; pass --overwrite to replace it")
    notes = notes or f"EMA weights of {run.name} at step {state['step']} ({checkpoint} checkpoint)"
    tmp = temporary_sibling(target)
    try:
        digest = save_weights(net.eval(), cfg_name, tmp, name=name, trained=True, notes=notes)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    table["models"][name] = {"file": target.name, "sha256": digest, "config": cfg_name, "notes": notes}
    if default:
        table["default"] = name
    table_path = folder / "models.json"
    tmp_table = temporary_sibling(table_path)
    tmp_table.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_table, table_path)
    return target, digest
