"""Bjøntegaard deltas over the rows of several ``ldmrsic-geo eval`` folders on the same images: each
codec's rows come from the first folder that has it, so a new model is run alone and compared with the
classical codecs' sweeps of an earlier evaluation (they do not change between sessions).

    python benchmarks/bd_combined.py EVAL-NEW EVAL-EARLIER [--codecs ldmrsic,ldmrsic-noenh]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ldmrsic_core.evaluation.report import bd_table


def read_rows(folder: Path) -> tuple[list[str], list[dict]]:
    """The images (per_image.csv, sorted) and the averaged rows (rd_table.csv) of one evaluation."""
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
        have = {r["codec"] for r in table}
        table += [r for r in rows if r["codec"] not in have]
    ours = tuple(a.codecs.split(","))
    references = sorted({r["codec"] for r in table} - set(ours))
    print(f"{len(images)} images; rows: " + ", ".join(f"{c} from {next(f.name for f in a.folders if c in _codecs(f))}"
                                                    for c in [*ours, *references]))
    print("| codec | reference | BD-rate % | BD-PSNR dB |")
    print("|---|---|---|---|")
    for row in bd_table(table, ours, references):
        print(f"| {row['codec']} | {row['reference']} | {row['bd_rate_percent']:+.1f} | {row['bd_psnr_db']:+.2f} |")


def _codecs(folder: Path) -> set[str]:
    return {r["codec"] for r in read_rows(folder)[1]}


if __name__ == "__main__":
    main()
