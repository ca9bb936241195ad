"""What evaluation writes: the per-image CSV fields and the CSV writer."""

from __future__ import annotations

import csv
from pathlib import Path

#: Columns of ``per_image.csv``: one row per image, codec and setting.
FIELDS = ["image", "codec", "setting", "bytes", "bpp", "psnr", "ms_ssim", "encode_s", "decode_s"]


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
