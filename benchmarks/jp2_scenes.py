"""GDAL JPEG2000 (OpenJPEG) on scenes at the rates ldmrsic reached, PSNR measured as for ldmrsic.

    python benchmarks/jp2_scenes.py scratch/scenes_final.json

Reads the rows that benchmarks/scenes.py wrote (--json) and codes each scene with
JP2OpenJPEG (CODEC=J2K, REVERSIBLE=NO, YCC for 3-band 8-bit) at the same bpp (QUALITY set from
the target), bytes = the codestream. PSNR is over the original's valid pixels at each band's
own peak (ldmrsic_core.evaluation.metrics). Float scenes are skipped (JPEG2000 codes integers).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import rasterio

from ldmrsic_core.evaluation.metrics import compare

SCENES = Path("../shared/data/scenes")


def main() -> None:
    rows = json.loads(Path(sys.argv[1]).read_text())
    print("scene | ldmrsic bpp | ldmrsic PSNR | JPEG2000 bpp | JPEG2000 PSNR")
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            scene = next(SCENES.rglob(row["scene"]))
            with rasterio.open(scene) as src:
                if src.dtypes[0].startswith("float"):
                    continue
                bits = 8 * src.profile["count"] * (1 if src.dtypes[0] == "uint8" else 2)
                out = Path(tmp) / "x.j2k"
                profile = {"driver": "JP2OpenJPEG", "width": src.width, "height": src.height, "count": src.count,
                           "dtype": src.dtypes[0], "CODEC": "J2K", "REVERSIBLE": "NO",
                           "QUALITY": str(100 * row["bpp"] / bits),
                           "YCC": "YES" if src.count == 3 and src.dtypes[0] == "uint8" else "NO"}
                with rasterio.open(out, "w", **profile) as dst:
                    dst.write(src.read())
            restored = Path(tmp) / "x.tif"
            with rasterio.open(out) as j, rasterio.open(restored, "w", driver="GTiff", width=j.width,
                                                       height=j.height, count=j.count, dtype=j.dtypes[0]) as d:
                d.write(j.read())
            bpp = 8 * out.stat().st_size / (src.width * src.height)
            psnr = compare(scene, restored)["psnr"]
            print(f"{row['scene']} | {row['bpp']:.4f} | {row['psnr']:.2f} | {bpp:.4f} | {psnr:.2f}", flush=True)


if __name__ == "__main__":
    main()
