"""The codec validation of ``train`` (real bitstreams per preset, bpp of the entropy-coded streams,
no container) for exported models and training checkpoints side by side, with Bjøntegaard
deltas against the first one — how a campaign's run is compared with the shipped codec.

    python benchmarks/codec_val.py --val ../shared/data/ucmerced/val --limit 21 \
        elic-small-ucm-1 ~/.cache/ldmrsic-geo/runs/codec-campaign-1/best.pt

A model is a name or weights file (``ldmrsic-geo models``) or a run checkpoint (``best.pt``,
``last.pt``: its EMA weights, which validation and export use). ``NAME@CONFIG`` widens an
exported codec into a larger configuration first (what ``train --init NAME --config CONFIG``
starts from; :mod:`ldmrsic_core.training.widen`), to check that the widened codec starts where
the trained one is. ``--qualities 4 5`` (after the models) codes those presets only, with the
Bjøntegaard deltas over them: how a codec line that serves some presets is compared.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from ldmrsic_core.evaluation.bjontegaard import bd_psnr, bd_rate, psnr_gain_at_equal_rate
from ldmrsic_core.training.codec_trainer import init_weights
from ldmrsic_core.training.run import read_checkpoint
from ldmrsic_core.training.validation import ValidationSet, validate
from ldmrsic_core.zoo.configs import codec_config
from ldmrsic_core.zoo.registry import load_codec


def codec(model: str) -> tuple[str, torch.nn.Module]:
    if "@" in model:
        model, wider = model.rsplit("@", 1)
        net = codec_config(wider).build()
        net.load_state_dict(init_weights(model, wider, net))
        return f"{model} widened into {wider}", net.eval()
    path = Path(model).expanduser()
    if path.suffix == ".pt" and path.is_file():
        try:
            state = read_checkpoint(path)
        except Exception:  # not a checkpoint: a weights file
            state = None
        if state is not None:
            net = codec_config(state["config"]["config"]).build()
            net.load_state_dict(state["ema"])
            return f"{path.parent.name}/{path.name} (step {state['step']})", net.eval()
    loaded = load_codec(model)
    return loaded.name, loaded.model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--limit", type=int, default=21)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--qualities", type=float, nargs="+", default=[1, 2, 3, 4, 5],
                   help="presets to code (a line that serves some presets only: those; BD-rates over them)")
    a = p.parse_args()
    if len(a.qualities) < 2:
        p.error("--qualities: give at least two presets (the Bjøntegaard deltas need a curve)")
    if a.threads:
        torch.set_num_threads(a.threads)
    images = ValidationSet(a.val, a.limit)
    curves = []
    print(f"{len(images.images)} images of {a.val}; bpp of the coded streams (no container)")
    presets = " | ".join(f"q{q:g}" for q in a.qualities[1:])
    print(f"| model | q{a.qualities[0]:g} bpp / PSNR | {presets} | BD-rate / BD-PSNR vs the first "
          "| ΔPSNR per preset at equal rate |")
    print("|---" * (len(a.qualities) + 3) + "|")
    for model in a.models:
        name, net = codec(model)
        rows = validate(net, images, torch.device("cpu"), tuple(a.qualities))
        rates, psnrs = [r["bpp"] for r in rows], [r["psnr"] for r in rows]
        curves.append((rates, psnrs))
        delta = equal_rate = ""
        if len(curves) > 1:
            delta = f"{bd_rate(*curves[0], rates, psnrs):+.2f}% / {bd_psnr(*curves[0], rates, psnrs):+.3f} dB"
            equal_rate = " ".join(at_equal_rate(curves[0], rate, psnr) for rate, psnr in zip(rates, psnrs))
        cells = " | ".join(f"{r['bpp']:.4f} / {r['psnr']:.2f}" for r in rows)
        print(f"| {name} | {cells} | {delta} | {equal_rate} |", flush=True)


def at_equal_rate(reference: tuple[list[float], list[float]], rate: float, psnr: float) -> str:
    """PSNR minus the reference's at the same rate (log-rate interpolation; "–" outside its range)."""
    gain = psnr_gain_at_equal_rate(*reference, rate, psnr)
    return "–" if math.isnan(gain) else f"{gain:+.2f}"


if __name__ == "__main__":
    main()
