"""Can the distortion prior carry anything the MEN uses, even from the original (issue 17 §5)?

Stage I (the teacher: LRM sees X̃ and the original X) from an exported enhancer's MEN with the LRM
trained afresh — optionally with the prior entering every encoder level (DFAM at levels 0–3, the
new modules starting as identities) — then, on ``val/``, the teacher's PSNR against the same MEN fed
the teacher prior of another image. Equal figures mean the prior carries nothing image-specific.

    python benchmarks/teacher_probe.py --enhancer men-small-mix-18 --codec EXPORT/elic-small-mix-18.pt \\
        --cache RUNS/pairs-cache-enh-mix-18 --qualities 1 3 --steps 600 --out RUNS/probe-teacher [--every-level]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from enhancer_probe import psnr_8_bits  # the same 8-bit PSNR as the inference probe

from ldmrsic_core.enhance.enhancer import Enhancer, level_tensor
from ldmrsic_core.enhance.lrm import PATCH
from ldmrsic_core.training.enhance_trainer import EnhanceConfig, EnhanceTrainer
from ldmrsic_core.training.pairs import PairSet
from ldmrsic_core.zoo.configs import ENHANCER_CONFIGS
from ldmrsic_core.zoo.enhancers import load_enhancer


def start_from(trainer: EnhanceTrainer, enhancer: str) -> None:
    """The exported enhancer's MEN (its DFAMs included), a fresh LRM; DFAMs it lacks start as identities."""
    kept = {k: v for k, v in load_enhancer(enhancer).model.state_dict().items() if not k.startswith("lrm.")}
    missing, unexpected = trainer.net.load_state_dict(kept, strict=False)
    new_dfams = {k.split(".")[2] for k in missing if k.startswith("men.dfam.")}
    if unexpected or any(not k.startswith(("lrm.", "men.dfam.")) for k in missing):
        raise SystemExit(f"teacher_probe: {enhancer} does not fit: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for level in new_dfams:
            dfam = trainer.net.men.dfam[level]
            for conv in (dfam.reduce, dfam.gate.reduce):
                conv.weight.zero_()
                conv.bias.zero_()
    trainer.ema.load_state_dict(trainer.net.state_dict())


@torch.no_grad()
def own_and_other(net: Enhancer, pairs: PairSet) -> list[tuple[float, float, float, float, int]]:
    """Per level: the quality, the mean PSNR of the teacher, of the same MEN with another image's teacher
    prior, and of the decoded image, and the number of images (those of a size the prior's grid fits)."""
    rows = []
    for li, quality in enumerate(pairs.source.levels):
        scores = []
        for i in range(len(pairs)):
            j = (i + 1) % len(pairs)
            x, d = (torch.from_numpy(a)[None].float() / 255 for a in (pairs.originals[i], pairs.decoded[i][li]))
            xj, dj = (torch.from_numpy(a)[None].float() / 255 for a in (pairs.originals[j], pairs.decoded[j][li]))
            if d.shape != dj.shape or d.shape[-1] % PATCH or d.shape[-2] % PATCH:
                continue
            lv = level_tensor(pairs.source.level_value(li, pairs.bpp[i][li]), d)
            scores.append((psnr_8_bits(net.men(d, net.teacher_prior(d, x, lv), lv), x),
                           psnr_8_bits(net.men(d, net.teacher_prior(dj, xj, lv), lv), x), psnr_8_bits(d, x)))
        own, other, decoded = (sum(s[k] for s in scores) / len(scores) for k in range(3))
        rows.append((quality, own, other, decoded, len(scores)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--enhancer", required=True, help="exported enhancer whose MEN starts the probe")
    p.add_argument("--codec", required=True, help="the codec whose output the pairs hold")
    p.add_argument("--cache", required=True)
    p.add_argument("--tiles", default="../shared/data/ucmerced/train")
    p.add_argument("--val", default="../shared/data/ucmerced/val")
    p.add_argument("--qualities", type=float, nargs=2, required=True)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--every-level", action="store_true",
                   help="the prior enters every encoder level, not the bottleneck only")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    base = load_enhancer(args.enhancer).config
    config = base
    if args.every_level:
        config = replace(base, name=f"{base.name}-prior-every-level", prior_levels=(0, 1, 2, 3))
    ENHANCER_CONFIGS.setdefault(config.name, config)  # this script's variant, not a shipped configuration
    cfg = EnhanceConfig(tiles=args.tiles, out=str(args.out), stage="prior", config=config.name, codec=args.codec,
                        cache=args.cache, steps=args.steps, lr=args.lr, warmup=50, ema_decay=0.99, tiles_limit=200,
                        val=args.val, val_limit=21, val_every=200, threads=args.threads,
                        qualities=tuple(args.qualities), bf16=False)
    trainer = EnhanceTrainer(cfg, progress=False)
    start_from(trainer, args.enhancer)
    trainer.start()
    trainer.run_validation()  # step 0: the enhancer as shipped, with an untrained LRM
    trainer.train(progress=False)
    print(f"Stage I for {args.steps} steps from {args.enhancer}'s MEN ({config.name}, LRM trained afresh):\n")
    print("| quality | images | decoded | teacher (own prior) | another image's teacher prior |\n|---|---|---|---|---|")
    for quality, own, other, decoded, n in own_and_other(trainer.ema.eval(), trainer.val):
        print(f"| {quality:g} | {n} | {decoded:.3f} | {own:.3f} | {other:.3f} |")


if __name__ == "__main__":
    main()
