"""Wall time of one ``ldmrsic-geo compress`` and ``decompress`` of a small GeoTIFF (start-up dominates),
and of importing the codec module alone, each the mean of ``--repeat`` fresh processes.

    python benchmarks/startup.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "rgb_uint8_nodata.tif"


def timed(argv: list[str], repeat: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return sum(seconds) / len(seconds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    cli = [sys.executable, "-c", "from ldmrsic_cli.main import run; run()", "--quiet"]
    with tempfile.TemporaryDirectory() as work:
        packed, restored = Path(work) / "s.ldmr", Path(work) / "s.tif"
        rows = [
            ("import torch", timed([sys.executable, "-c", "import torch"], a.repeat)),
            ("import ldmrsic_core.models.codec", timed([sys.executable, "-c", "import ldmrsic_core.models.codec"],
                                                       a.repeat)),
            ("compress (200×150, 3 bands)", timed([*cli, "compress", str(SAMPLE), "-o", str(packed), "--overwrite"],
                                                  a.repeat)),
            ("decompress", timed([*cli, "decompress", str(packed), "-o", str(restored), "--overwrite"], a.repeat)),
        ]
    print(f"| step | seconds (mean of {a.repeat}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}) |")
    print("|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
