"""A codec run's own validation (``val.csv``: real streams on the validation images, written by ``train``
at every ``--val-every``), step by step, as BD-rate against a reference's points on the same images —
the shipped codec's ``benchmarks/codec_val.py`` row, given as BPP/PSNR per preset:

    python benchmarks/trainer_val.py ~/.cache/ldmrsic-geo/runs/codec-campaign-25 --qualities 1 2 3 \\
        --reference 0.0794/25.71 0.1135/27.13 0.2331/29.86
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from ldmrsic_core.evaluation.bjontegaard import bd_rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--qualities", type=float, nargs="+", required=True)
    p.add_argument("--reference", nargs="+", required=True, metavar="BPP/PSNR", help="one point per quality")
    a = p.parse_args()
    if len(a.reference) != len(a.qualities) or len(a.qualities) < 2:
        p.error("--reference needs one BPP/PSNR point per quality, and at least two qualities")
    try:
        reference = [(float(bpp), float(psnr)) for bpp, psnr in (point.split("/") for point in a.reference)]
    except ValueError:
        p.error("--reference points are written BPP/PSNR, for example 0.0794/25.71")
    if not (a.run / "val.csv").is_file():
        p.error(f"{a.run} has no val.csv: not a run folder, or the run has not validated yet")
    rows: dict[int, dict[float, tuple[float, float]]] = defaultdict(dict)
    with open(a.run / "val.csv") as f:
        for r in csv.DictReader(f):
            rows[int(r["step"])][float(r["quality"])] = (float(r["bpp"]), float(r["psnr"]))
    print("| step | " + " | ".join(f"q{q:g} bpp / PSNR" for q in a.qualities) + " | BD-rate vs the reference |")
    print("|---" * (len(a.qualities) + 2) + "|")
    for step in sorted(rows):
        points = [rows[step].get(q) for q in a.qualities]
        if None in points:
            continue
        delta = bd_rate([bpp for bpp, _ in reference], [psnr for _, psnr in reference],
                        [bpp for bpp, _ in points], [psnr for _, psnr in points])
        print(f"| {step} | " + " | ".join(f"{bpp:.4f} / {psnr:.2f}" for bpp, psnr in points) + f" | {delta:+.2f}% |")


if __name__ == "__main__":
    main()
