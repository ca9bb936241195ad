"""What a user downloads: the ldmrsic-geo wheel, the wheels of the archive's volumes (earlier models) and
ldmrsic-geo-archive (which installs the volumes), built from this checkout, with the weights each holds.

    python benchmarks/install_size.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPI_FILE_LIMIT = 100 * 2**20


def main() -> None:
    print("| wheel | MB | weights files | weights MB (unpacked) | under PyPI's 100 MiB file limit |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as out:
        volumes = sorted((ROOT / "archive" / "volumes").iterdir(), key=lambda v: int(v.name))
        for project in (ROOT, ROOT / "archive", *volumes):
            shutil.rmtree(project / "build", ignore_errors=True)  # setuptools would add a stale build's files
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            out, str(project)], check=True, capture_output=True)
            shutil.rmtree(project / "build", ignore_errors=True)
        for wheel in sorted(Path(out).glob("*.whl"), key=lambda w: (len(w.name), w.name)):
            with zipfile.ZipFile(wheel) as z:
                weights = [i for i in z.infolist() if i.filename.endswith(".pt")]
            size = wheel.stat().st_size
            print(f"| {wheel.name} | {size / 1e6:.1f} | {len(weights)} | "
                  f"{sum(i.file_size for i in weights) / 1e6:.1f} | {'yes' if size < PYPI_FILE_LIMIT else 'no'} |")


if __name__ == "__main__":
    main()
