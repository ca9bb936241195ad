"""How close ``compress --bpp/--ratio/--psnr`` lands, and what the search costs.

For every scene and target: the quality the search chose, what it estimated, what the real file
achieved (bits per valid pixel from its bytes; PSNR by decoding it, enhanced as the file says,
and comparing with the original), the search's seconds and the whole compress's seconds.

    python benchmarks/targets.py SCENE... --bpp 0.2 0.4 --ratio 60 --psnr-offsets 0.5 --work scratch/targets
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ldmrsic_core import compress_raster, decompress_raster
from ldmrsic_core.evaluation.metrics import compare
from ldmrsic_core.pipeline.targets import Target


def run(scene: Path, target: Target, work: Path, precision: str) -> dict:
    packed = work / f"{scene.stem}-{target.kind}-{target.value:g}.ldmr"
    start = time.perf_counter()
    result = compress_raster(scene, packed, target=target, overwrite=True, precision=precision)
    seconds = time.perf_counter() - start
    row = {"scene": scene.name, "target": str(target), "quality": result.quality,
           "estimated_bpp": result.target.estimate.bpp, "bpp": result.valid_bpp, "ratio": result.ratio,
           "estimated_psnr": result.target.estimate.psnr, "search_s": result.target.seconds,
           "compress_s": seconds, "tries": result.target.tries, "crops": result.target.crops}
    if target.kind == "psnr":
        decoded = work / f"{packed.stem}.tif"
        decompress_raster(packed, decoded, overwrite=True, precision=precision)
        row["psnr"] = compare(scene, decoded)["psnr"]
    return row


def error(row: dict, target: Target) -> str:
    if target.kind == "psnr":
        return f"{row['psnr'] - target.value:+.2f} dB"
    achieved = row["bpp"] if target.kind == "bpp" else row["ratio"]
    return f"{100 * (achieved / target.value - 1):+.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenes", nargs="+", type=Path)
    parser.add_argument("--bpp", nargs="*", type=float, default=[])
    parser.add_argument("--ratio", nargs="*", type=float, default=[])
    parser.add_argument("--psnr", nargs="*", type=float, default=[])
    parser.add_argument("--psnr-offsets", nargs="*", type=float, default=[],
                        help="PSNR targets per scene: the PSNR estimated at the first rate target plus each offset "
                             "(reachable targets without choosing them per scene)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    targets = ([Target("bpp", v) for v in args.bpp] + [Target("ratio", v) for v in args.ratio]
               + [Target("psnr", v) for v in args.psnr])
    print("| scene | target | quality | estimated | achieved | error | tries × crops | search s | compress s | share |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for scene in args.scenes:
        scene_targets = list(targets)
        done = 0
        while done < len(scene_targets):
            target = scene_targets[done]
            done += 1
            try:
                row = run(scene, target, args.work, args.precision)
            except Exception as exc:  # a target out of reach is a result too
                print(f"| {scene.name} | {target} | – | – | – | {exc} | | | | |", flush=True)
                continue
            if done == 1 and row["estimated_psnr"] is not None:
                scene_targets += [Target("psnr", round(row["estimated_psnr"] + d, 1)) for d in args.psnr_offsets]
            if target.kind == "psnr":
                estimated, achieved = f"{row['estimated_psnr']:.2f} dB", f"{row['psnr']:.2f} dB"
            elif target.kind == "ratio":
                estimated = f"{row['ratio'] * row['bpp'] / row['estimated_bpp']:.1f}:1"
                achieved = f"{row['ratio']:.1f}:1"
            else:
                estimated, achieved = f"{row['estimated_bpp']:.4f}", f"{row['bpp']:.4f}"
            print(f"| {row['scene']} | {row['target']} | {row['quality']:.2f} | {estimated} | {achieved} | "
                  f"{error(row, target)} | {row['tries']} × {row['crops']} | {row['search_s']:.1f} | "
                  f"{row['compress_s']:.1f} | {100 * row['search_s'] / row['compress_s']:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
