"""Compress and decompress scenes; print rate, PSNR, seams, times, peak memory and container overhead.

    python benchmarks/scenes.py --model MODEL [--quality 3] [--tile 512 --overlap 0 ...] [--value-curve linear] \
        [--no-enhance] SCENE...

Each compress and decompress runs in a child process so its peak RSS is its own. Several
--tile/--overlap values give every combination (the tiling choice). PSNR is at each band's
own peak over valid pixels; "border" is the 8-pixel band along tile boundaries, "interior"
the rest (ldmrsic_core.evaluation.metrics). tile_B: bytes per tile that are neither codec streams nor
mask (index entry + framing); mask_B: all nodata-mask bytes; fixed_B: start, header and trailer.
A named model decodes enhanced by its bundled enhancer, a weights file outside the table by none:
``--no-enhance`` compares both as the codec alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(args: list[str]) -> None:
    """Run one compress or decompress in this process; print seconds and peak RSS as JSON."""
    from ldmrsic_core import compress_raster, decompress_raster

    kind, src, dst, model, quality, tile, overlap, curve, enhance = args
    enhance = enhance == "enhance"
    start = time.perf_counter()
    if kind == "compress":
        compress_raster(src, dst, model=model, quality=float(quality), tile=int(tile), overlap=int(overlap),
                        value_curve=curve, device="cpu", enhance=enhance, overwrite=True)
    else:
        decompress_raster(src, dst, model=model, device="cpu", enhance=enhance, overwrite=True)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(*args: object) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def overhead(path: Path) -> dict:
    """Bytes that are not entropy-coded streams: fixed (preamble, header, CRCs) and per tile (index, framing)."""
    from ldmrsic_core.format.container import ContainerReader
    from ldmrsic_core.format.header import exact_entropy
    from ldmrsic_core.format.payload import TilePayload
    from ldmrsic_core.format.varint import varint

    with ContainerReader(path) as r:
        header = r.typed_header
        plan = header.plan
        checksummed = exact_entropy(header, r.version, path.name)  # formats 2+: a latent CRC per group
        framing = streams = masks = 0
        for i, entry in enumerate(r.entries):
            payload = TilePayload.decode(r.read_tile(i), header.raster.count, plan.owned(i).shape,
                                         checksummed=checksummed)
            coded = sum(len(s) for g in payload.groups for s in g)
            mask = len(TilePayload(payload.valid, []).encode()) - 2  # minus the kind and group-count varints
            streams += coded
            masks += mask
            framing += entry.length - coded - mask
        n = len(r.entries)
        index = sum(len(varint(e.length)) + 4 for e in r.entries)  # format 3+: varint length, CRC32 per tile
        return {"tiles": n, "per_tile_bytes": round((framing + index) / n, 1), "mask_bytes": masks,
                "fixed_bytes": r.container_bytes - index, "stream_bytes": streams}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenes", nargs="+", type=Path)
    p.add_argument("--model", required=True)
    p.add_argument("--quality", type=float, default=3.0)
    p.add_argument("--tile", type=int, nargs="+", default=[512])
    p.add_argument("--overlap", type=int, nargs="+", default=[0],
                   help="0 (the product's default since format 5): joined tiles; 16 was format 4's default")
    p.add_argument("--value-curve", default="fitted", help="compress's value curve: fitted or linear")
    p.add_argument("--no-enhance", action="store_true", help="code and decode without the enhancer (the codec alone)")
    p.add_argument("--json", type=Path, help="Also write the rows here.")
    a = p.parse_args()
    from ldmrsic_core import file_info, read_header
    from ldmrsic_core.evaluation.metrics import compare

    rows = []
    cols = ("scene", "tile", "ovl", "bpp", "psnr", "border", "interior", "enc_s", "dec_s", "enc_MB", "dec_MB",
            "tile_B", "mask_B", "fixed_B")
    print(" | ".join(cols))
    with tempfile.TemporaryDirectory() as tmp:
        for scene in a.scenes:
            for tile in a.tile:
                for ovl in a.overlap:
                    packed, restored = Path(tmp) / "x.ldmr", Path(tmp) / "x.tif"
                    settings = (a.model, a.quality, tile, ovl, a.value_curve, "plain" if a.no_enhance else "enhance")
                    enc = run_child("compress", scene, packed, *settings)
                    dec = run_child("decompress", packed, restored, *settings)
                    quality = compare(scene, restored, read_header(packed).plan)
                    over = overhead(packed)
                    row = {"scene": scene.name, "tile": tile, "overlap": ovl, "enhanced": not a.no_enhance,
                           "bpp": file_info(packed)["bpp"],
                           **quality, "compress_s": enc["seconds"], "decompress_s": dec["seconds"],
                           "compress_peak_rss_mb": enc["peak_rss_mb"], "decompress_peak_rss_mb": dec["peak_rss_mb"],
                           **over}
                    rows.append(row)
                    print(" | ".join(str(v) for v in (
                        scene.name, tile, ovl, f"{row['bpp']:.4f}", f"{row['psnr']:.2f}",
                        f"{row['psnr_tile_borders']:.2f}", f"{row['psnr_tile_interiors']:.2f}",
                        f"{enc['seconds']:.1f}", f"{dec['seconds']:.1f}", f"{enc['peak_rss_mb']:.0f}",
                        f"{dec['peak_rss_mb']:.0f}", over["per_tile_bytes"], over["mask_bytes"], over["fixed_bytes"])),
                        flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
