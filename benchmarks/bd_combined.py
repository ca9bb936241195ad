"""Bjøntegaard deltas over the rows of several ``ldmrsic-geo eval`` folders on the same images: each
codec's row at each setting comes from the first folder that has it, so a new model is run alone (its
presets in as many folders as it was run in) and compared with the classical codecs' sweeps of an earlier
evaluation (they do not change between sessions). Then, for each of our points, its PSNR minus each other
codec's at the same rate (their averaged curve, interpolated in log-rate; "–" outside its range).

    python benchmarks/bd_combined.py EVAL-NEW-Q1-3 EVAL-NEW-Q4-5 EVAL-EARLIER [--codecs ldmrsic,ldmrsic-noenh]
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from ldmrsic_core.evaluation.bjontegaard import psnr_gain_at_equal_rate
from ldmrsic_core.evaluation.report import bd_table, curve


def read_rows(folder: Path) -> tuple[list[str], list[dict]]:
    """The images (per_image.csv, sorted) and the averaged rows (rd_table.csv) of one evaluation."""
    if not (folder / "per_image.csv").is_file() or not (folder / "rd_table.csv").is_file():
        raise SystemExit(f"{folder} has no per_image.csv and rd_table.csv: give folders written by ldmrsic-geo eval")
    with open(folder / "per_image.csv") as f:
        images = sorted({r["image"] for r in csv.DictReader(f)})
    with open(folder / "rd_table.csv") as f:
        rows = [{**r, "bpp": float(r["bpp"]), "psnr": float(r["psnr"])} for r in csv.DictReader(f)]
    return images, rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("--codecs", default="ldmrsic,ldmrsic-noenh", help="the codecs compared with all the others")
    a = p.parse_args()
    table: list[dict] = []
    images = None
    for folder in a.folders:
        these, rows = read_rows(folder)
        if images is not None and these != images:
            raise SystemExit(f"{folder} evaluated other images than {a.folders[0]}: BD-rates would not compare")
        images = these
        have = {(r["codec"], r["setting"]) for r in table}
        table += [{**r, "folder": folder.name} for r in rows if (r["codec"], r["setting"]) not in have]
    ours = tuple(a.codecs.split(","))
    references = sorted({r["codec"] for r in table} - set(ours))
    sources = {c: " + ".join(dict.fromkeys(r["folder"] for r in table if r["codec"] == c))
               for c in [*ours, *references]}
    print(f"{len(images)} images; rows: "
          + ", ".join(f"{c} from {folders}" for c, folders in sources.items() if folders))
    print("| codec | reference | BD-rate % | BD-PSNR dB |")
    print("|---|---|---|---|")
    for row in bd_table(table, ours, references):
        print(f"| {row['codec']} | {row['reference']} | {row['bd_rate_percent']:+.1f} | {row['bd_psnr_db']:+.2f} |")
    for codec in ours:
        points = sorted((r for r in table if r["codec"] == codec), key=lambda r: r["bpp"])
        if not points:
            continue
        print(f"\n{codec}, dB at equal rate against each other codec's curve")
        print("| reference | " + " | ".join(f"{r['setting']}: {r['bpp']:.4f} / {r['psnr']:.2f}" for r in points) + " |")
        print("|---" * (len(points) + 1) + "|")
        for ref in references:
            rates, psnrs = curve(table, ref)
            if len(rates) < 2:
                continue
            gains = [psnr_gain_at_equal_rate(rates, psnrs, r["bpp"], r["psnr"]) for r in points]
            print(f"| {ref} | " + " | ".join("–" if math.isnan(g) else f"{g:+.2f}" for g in gains) + " |")


if __name__ == "__main__":
    main()
