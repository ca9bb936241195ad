"""Pack what a codec stretch on a lent GPU needs, and unpack the weights it sends back (issue 17 §6).

``pack`` fills ``.gpu/`` (ignored) with the warm-start codec (``init.pt``) and as many training tiles as
the device call's 64 MiB leave, each a lossless WebP (the GPU machine has Pillow but no GDAL, whose
wheel alone is 36 MB); and ``.whl/`` with the cp312 wheels the machine lacks (compressai, pytorch-msssim).
Tiles are drawn at random from the whole mix, so its parts keep their shares; 16-bit tiles are left out
(WebP is 8-bit). ``unpack`` joins the shards ``scripts/gpu_train.sh`` wrote and checks their SHA-256::

    python scripts/gpu_train.py pack --init elic-small-hi-9 --tiles ~/.cache/ldmrsic-geo/data/mix-2
    python scripts/gpu_train.py unpack FILES_AT --dir ~/.cache/ldmrsic-geo/export
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ldmrsic_core.training.data import find_images, read_with_pillow
from ldmrsic_core.zoo.table import resolve

ROOT = Path(__file__).resolve().parent.parent
CALL_LIMIT = 64 * 2**20  # what one device call carries: the tree, the wheels and the pack
MARGIN = 2**20
WHEELS = ("compressai==1.2.8", "pytorch-msssim==1.0.0")


def travelling_bytes() -> int:
    """Bytes of the files a device call sends besides the carried folders (tracked and not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.split(b"\0")
    paths = [ROOT / os.fsdecode(p) for p in listed if p]
    return sum(p.lstat().st_size for p in paths if p.exists() and not p.is_symlink())  # a link travels as a link


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def fetch_wheels(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", "-d", str(folder), *WHEELS], check=True)


def eight_bit(path: Path) -> np.ndarray | None:
    """The tile's pixels as H×W×3 uint8, or None for a 16-bit tile."""
    try:
        data = read_with_pillow(path)
    except Exception:  # a TIFF or other file Pillow does not read as a tile: left out like 16-bit ones
        return None
    if data.dtype != np.uint8:
        return None
    if data.shape[0] == 1:
        data = np.repeat(data, 3, axis=0)
    return data.transpose(1, 2, 0)


def pack(init: str, tiles: Path, out: Path, seed: int) -> None:
    if out.exists():
        shutil.rmtree(out)
    (out / "tiles").mkdir(parents=True)
    wheels = ROOT / ".whl"
    if not any(wheels.glob("compressai-*cp312*.whl")):
        fetch_wheels(wheels)
    name, path, _ = resolve(init)
    shutil.copyfile(path, out / "init.pt")
    digest = hashlib.sha256((out / "init.pt").read_bytes()).hexdigest()
    budget = CALL_LIMIT - MARGIN - travelling_bytes() - folder_bytes(wheels) - folder_bytes(out)
    if budget <= 0:
        sys.exit("no room for tiles: the tree, the wheels and the codec fill the call "
                 "(run scripts/device_tree.sh trim first)")
    files = find_images(tiles)
    random.Random(seed).shuffle(files)
    used, parts = 0, {}
    for path in files:
        pixels = eight_bit(path)
        if pixels is None:
            continue
        part = path.parent.name
        target = out / "tiles" / f"{sum(parts.values()):05d}_{part}_{path.stem}.webp"
        Image.fromarray(pixels).save(target, lossless=True)
        size = target.stat().st_size
        if used + size > budget:
            target.unlink()
            break
        used += size
        parts[part] = parts.get(part, 0) + 1
    info = {"init": name, "init_sha256": digest, "tiles_from": str(tiles.name), "tiles": sum(parts.values()),
            "tile_bytes": used, "parts": parts, "seed": seed}
    (out / "pack.json").write_text(json.dumps(info, indent=1))
    total = travelling_bytes() + folder_bytes(wheels) + folder_bytes(out)
    print(json.dumps(info), f"\ncall size {total / 2**20:.1f} MiB of {CALL_LIMIT / 2**20:.0f}")


def unpack(files_at: Path, folder: Path) -> None:
    for checksum in sorted(files_at.glob("*.pt.sha256")):
        digest, name = checksum.read_text().split()
        shards = sorted(files_at.glob(f"{name}.part*"))
        data = b"".join(p.read_bytes() for p in shards)
        if hashlib.sha256(data).hexdigest() != digest:
            sys.exit(f"{name}: the {len(shards)} shards do not join to SHA-256 {digest}: fetch them again")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / name)
        print(f"{folder / name}  SHA-256 {digest}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("pack")
    a.add_argument("--init", required=True, help="the codec to warm-start from (name or weights file)")
    a.add_argument("--tiles", type=Path, required=True, help="a training mix (scripts/campaign_data.sh)")
    a.add_argument("--out", type=Path, default=ROOT / ".gpu")
    a.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("unpack")
    b.add_argument("files_at", type=Path, help="the folder the device call's files came back in")
    b.add_argument("--dir", type=Path, required=True, help="where the joined weights go")
    args = p.parse_args()
    if args.command == "pack":
        pack(args.init, args.tiles, args.out, args.seed)
    else:
        unpack(args.files_at, args.dir)


if __name__ == "__main__":
    main()
