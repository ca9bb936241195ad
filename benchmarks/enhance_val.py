"""The LDM-RSIC table on UC Merced val/: codec alone, Stage I (teacher), Stage II, Stage II
without DFAM — and JPEG2000 vs JPEG2000* — with PSNR and MS-SSIM per level, plus CPU
enhancement time per 256² tile.

X̃ for our codec is ``synthesize(ŷ)`` of the real entropy-coded latent (what decompress
rebuilds; one 512 tile covers a 256² image), cached like training pairs; bpp counts the coded
streams (``rd_val.py`` gives whole-file bpp: +~60 bytes of container per image). Outputs are
rounded to 8 bits, as a decoded GeoTIFF is. Example::

    python benchmarks/enhance_val.py --val ../shared/data/ucmerced/val --cache runs/pairs-cache \\
        --codec-enhancer runs/enh-codec-ldm --nodfam runs/enh-codec-nodfam --jp2-enhancer runs/enh-jp2-ldm
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ms_ssim

from ldmrsic_core.enhance.enhancer import Enhancer, load_enhancer_state
from ldmrsic_core.training.pairs import PairSet, make_source
from ldmrsic_core.training.run import read_checkpoint
from ldmrsic_core.zoo.configs import enhancer_config
from ldmrsic_core.zoo.enhancers import load_enhancer


def model(ref: str) -> Enhancer:
    """An enhancer from a run folder (best checkpoint's EMA) or a name/weights file."""
    path = Path(ref)
    if path.is_dir():
        state = read_checkpoint(path / "best.pt" if (path / "best.pt").is_file() else path / "last.pt")
        net = enhancer_config(state["config"]["config"]).build()
        load_enhancer_state(net, state["ema"])
        return net.eval()
    return load_enhancer(ref).model


def q8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def scores(out: torch.Tensor, x: torch.Tensor) -> tuple[float, float]:
    mse = torch.mean((out - x) ** 2).item()
    return 10 * math.log10(1 / max(mse, 1e-12)), ms_ssim(out, x, data_range=1.0).item()


@torch.no_grad()
def table(pairs: PairSet, columns: dict[str, tuple[Enhancer, str]]) -> list[dict[str, float]]:
    rows = []
    for li, level in enumerate(pairs.source.levels):
        sums: dict[str, list[float]] = {}
        for i, (x8, versions) in enumerate(zip(pairs.originals, pairs.decoded)):
            lv = pairs.source.level_value(li, pairs.bpp[i][li])
            x = torch.from_numpy(x8)[None].float() / 255
            d = torch.from_numpy(versions[li])[None].float() / 255
            outs = {"decoded": d}
            for name, (net, how) in columns.items():
                outs[name] = q8(net.enhance_with_teacher(d, x, lv) if how == "teacher" else net.enhance(d, [i], lv))
            for name, out in outs.items():
                p, s = scores(out, x)
                sums.setdefault(f"psnr_{name}", []).append(p)
                sums.setdefault(f"msssim_{name}", []).append(s)
            sums.setdefault("bpp", []).append(pairs.bpp[i][li])
        rows.append({"level": level, **{k: float(np.mean(v)) for k, v in sums.items()}})
    return rows


def print_table(title: str, rows: list[dict[str, float]], names: list[str]) -> None:
    print(f"\n{title}\n")
    head = "| level | bpp | " + " | ".join(f"{n} PSNR / MS-SSIM" for n in ["decoded", *names]) + " |"
    print(head)
    print("|" + "---|" * (2 + len(names) + 1))
    for r in rows:
        cells = [f"{r[f'psnr_{n}']:.2f} / {r[f'msssim_{n}']:.4f}" for n in ["decoded", *names]]
        print(f"| {r['level']:g} | {r['bpp']:.4f} | " + " | ".join(cells) + " |")
    gains = {n: np.mean([r[f"psnr_{n}"] - r["psnr_decoded"] for r in rows]) for n in names}
    print("\nmean PSNR gain over decoded: " + ", ".join(f"{n} {g:+.3f} dB" for n, g in gains.items()))


def timing(net: Enhancer, threads: int, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    x = torch.rand(1, 3, 256, 256)
    net.enhance(x, [0])
    start = time.perf_counter()
    for i in range(repeats):
        net.enhance(x, [i])
    return (time.perf_counter() - start) / repeats


def codec_timing(codec_name: str | None, folder: Path, threads: int, repeats: int = 5) -> float:
    """Seconds to entropy-decode and synthesise one 256² tile (quality 3) with our codec."""
    from ldmrsic_core.training.data import find_images, load_image
    from ldmrsic_core.zoo.registry import load_codec

    torch.set_num_threads(threads)
    net = load_codec(codec_name).model
    image = torch.from_numpy(load_image(find_images(folder)[0]))[None, :, :256, :256]
    enc = net.compress(torch.nn.functional.pad(image, (0, 256 - image.shape[-1], 0, 256 - image.shape[-2]),
                                               mode="replicate"), 3.0)
    shape = net.latent_shape(256, 256)
    net.decompress(enc["strings"], shape, 3.0)
    start = time.perf_counter()
    for _ in range(repeats):
        net.decompress(enc["strings"], shape, 3.0)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--val", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--limit", type=int, default=0, help="images (spread over the folder) [default: all]")
    p.add_argument("--codec", default=None, help="codec name [default: bundled default]")
    p.add_argument("--qualities", type=float, nargs="+", default=None,
                   help="our codec's presets to measure [default: 1 2 3 4 5] (a codec for the top rates: 4 5)")
    p.add_argument("--codec-prior", help="Stage I run/model for our codec (the teacher)")
    p.add_argument("--codec-enhancer", help="Stage II run/model for our codec")
    p.add_argument("--nodfam", help="run/model without DFAM (plain MEN) for our codec")
    p.add_argument("--jp2-prior", help="Stage I run/model for JPEG2000 (the teacher)")
    p.add_argument("--jp2-enhancer", help="Stage II run/model for JPEG2000")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    columns: dict[str, tuple[Enhancer, str]] = {}
    if args.codec_prior:
        columns["stage1_teacher"] = (model(args.codec_prior), "teacher")
    if args.codec_enhancer:
        columns["stage2"] = (model(args.codec_enhancer), "student")
        columns.setdefault("stage1_teacher", (columns["stage2"][0], "teacher"))
    if args.nodfam:
        columns["no_dfam"] = (model(args.nodfam), "student")
    if columns:
        source = make_source("ldmrsic", args.codec, levels=tuple(args.qualities) if args.qualities else None)
        pairs = PairSet(args.val, source, args.cache, limit=args.limit)
        rows = table(pairs, columns)
        print_table(f"Our codec on {len(pairs)} images of {args.val} (level = quality preset)", rows, list(columns))
    if args.jp2_enhancer:
        jp2 = model(args.jp2_enhancer)
        pairs = PairSet(args.val, make_source("jpeg2000"), args.cache, limit=args.limit)
        jp2_columns = {"jpeg2000_star": (jp2, "student")}
        if args.jp2_prior:
            jp2_columns["stage1_teacher"] = (model(args.jp2_prior), "teacher")
        rows = table(pairs, jp2_columns)
        print_table(f"JPEG2000 vs JPEG2000* on {len(pairs)} images (level = target bpp)", rows, list(jp2_columns))
    print("\nCPU time per 256² tile (s):")
    print(f"  codec decode (quality 3): 1 thread {codec_timing(args.codec, args.val, 1):.3f}, "
          f"{args.threads} threads {codec_timing(args.codec, args.val, args.threads):.3f}")
    for name, (net, _) in columns.items() | ({"jpeg2000_star": (jp2, "")}.items() if args.jp2_enhancer else set()):
        one, many = timing(net, 1), timing(net, args.threads)
        print(f"  enhance, {name}: 1 thread {one:.3f}, {args.threads} threads {many:.3f}")


if __name__ == "__main__":
    main()
