"""What limits the enhancer's gain (issue 17 §5)? Two probes on decoded ``val/`` images, PSNR gain
over the decoded image per preset (outputs rounded to 8 bits, as a decoded GeoTIFF is):

- the distortion prior: the decode path (the seeded student prior), the teacher prior (taken from
  the original: Stage I's ceiling), the student prior of another image, and a zero prior — if the
  four agree, the MEN no longer reads anything image-specific from the prior;
- test-time ensembles: four noise seeds averaged, and the 8 flips/rotations of the input
  averaged ("self-ensemble") — what more inference alone gives, at 4× / 8× the time.

    python benchmarks/enhancer_probe.py --val ../shared/data/ucmerced/val --cache RUNS/val-cache \\
        --limit 21 --codec elic-small-mix-18 --enhancer men-small-mix-18 --qualities 1 2 3
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ldmrsic_core.enhance.enhancer import Enhancer, level_tensor, pad_to_patch
from ldmrsic_core.evaluation.psnr import psnr
from ldmrsic_core.training.pairs import PairSet, make_source
from ldmrsic_core.zoo.enhancers import load_enhancer

COLUMNS = ("student prior (decode path)", "teacher prior", "another image's prior", "zero prior",
           "4 seeds averaged", "8 flips/rotations averaged")


def psnr_8_bits(out: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR of ``out`` rounded to 8 bits, as a decoded GeoTIFF holds it, against ``x``."""
    return psnr(torch.mean(((out.clamp(0, 1) * 255).round() / 255 - x) ** 2).item())


def dihedral_mean(enhance: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The mean of ``enhance`` over the 8 rotations/flips of ``x``, each mapped back."""
    outs = []
    for turns in range(4):
        for flip in (False, True):
            t = torch.rot90(x, turns, (2, 3))
            t = t.flip(3) if flip else t
            y = enhance(t)
            y = y.flip(3) if flip else y
            outs.append(torch.rot90(y, -turns, (2, 3)))
    return torch.stack(outs).mean(0)


@torch.no_grad()
def probe_image(net: Enhancer, decoded: torch.Tensor, original: torch.Tensor, other: torch.Tensor,
                seed: int, level: float) -> list[torch.Tensor]:
    """The enhanced image under each of COLUMNS, in that order."""
    h, w = decoded.shape[-2:]
    x = pad_to_patch(decoded)
    lv = level_tensor(level, x)

    def student(image: torch.Tensor, s: int) -> torch.Tensor:
        return net.student_prior(image, net.seeded_noise([s], *image.shape[-2:]), lv)

    def men(prior: torch.Tensor) -> torch.Tensor:
        return net.men(x, prior, lv)[..., :h, :w].clamp(0, 1)

    own = student(x, seed)
    priors = [own, net.teacher_prior(x, pad_to_patch(original), lv), student(pad_to_patch(other), seed),
              torch.zeros_like(own)]
    seeds = torch.stack([net.enhance(decoded, [seed + 1000 * k], level) for k in range(4)]).mean(0)
    ensemble = dihedral_mean(lambda t: net.enhance(t, [seed], level), decoded)
    return [men(p) for p in priors] + [seeds, ensemble]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True, help="decoded images' cache (as enhance_val.py)")
    p.add_argument("--limit", type=int, default=21)
    p.add_argument("--codec", required=True)
    p.add_argument("--enhancer", required=True)
    p.add_argument("--qualities", type=float, nargs="+", required=True)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    net = load_enhancer(args.enhancer).model
    source = make_source("ldmrsic", args.codec, levels=tuple(args.qualities))
    pairs = PairSet(args.val, source, args.cache, limit=args.limit, progress=False)
    if len(pairs) < 2:
        raise SystemExit("enhancer_probe: give at least two images (--limit)")
    print(f"{args.enhancer} on {args.codec}, {len(pairs)} images of {args.val}: PSNR gain over decoded (dB)\n")
    print("| quality | decoded | " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * (len(COLUMNS) + 2))
    for li, quality in enumerate(source.levels):
        gains, base = [], []
        for i, (x8, versions) in enumerate(zip(pairs.originals, pairs.decoded)):
            x = torch.from_numpy(x8)[None].float() / 255
            d = torch.from_numpy(versions[li])[None].float() / 255
            other = torch.from_numpy(pairs.decoded[(i + 1) % len(pairs)][li])[None].float() / 255
            outs = probe_image(net, d, x, other, i, source.level_value(li, pairs.bpp[i][li]))
            base.append(psnr_8_bits(d, x))
            gains.append([psnr_8_bits(o, x) - base[-1] for o in outs])
        mean = np.mean(gains, axis=0)
        print(f"| {quality:g} | {np.mean(base):.2f} | " + " | ".join(f"{g:+.3f}" for g in mean) + " |", flush=True)


if __name__ == "__main__":
    main()
