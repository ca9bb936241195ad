"""Coverage-guided fuzzing of the .ldmr reader with atheris (libFuzzer).

    pip install atheris
    python fuzz/fuzz_container.py fuzz/corpus -max_total_time=600 -rss_limit_mb=2048

The seed corpus is made by ``python fuzz/fuzz_container.py --seed fuzz/corpus`` (small real files).
Each input is tried as it is and with every CRC recomputed, so mutations also reach the JSON
header and tile-payload parsers behind the checksums. (libFuzzer's RSS grows with its own
bookkeeping, about 5 KB per run; the reader itself stays flat: 60 000 reads, 35 MB.)
Any input that raises something other than a named ldmrsic-geo error, hangs or exceeds the
memory limit is a bug: libFuzzer writes it as ``crash-*``/``timeout-*``/``oom-*``; copy it to
``tests/data/fuzz/`` so the suite replays it (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    from harness import read_everything, reseal
    from ldmrsic_core.errors import LdmrError
    from ldmrsic_core.format.payload import PayloadError

SCRATCH = Path(tempfile.mkdtemp(prefix="ldmr-fuzz-")) / "input.ldmr"


def one_input(data: bytes) -> None:
    for candidate in (data, reseal(data)):
        SCRATCH.write_bytes(candidate)
        try:
            read_everything(SCRATCH)
        except (LdmrError, PayloadError):
            pass


def seed(folder: Path) -> None:
    """Write a few small real .ldmr files (random tiny codec) as the starting corpus."""
    import torch

    from ldmrsic_core import compress_raster
    from ldmrsic_core.zoo.configs import CODEC_CONFIGS as CONFIGS
    from ldmrsic_core.zoo.registry import save_weights

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    weights = folder.parent / "fuzz-tiny.pt"
    save_weights(CONFIGS["elic-tiny"].build().eval(), "elic-tiny", weights, name="fuzz-tiny", trained=False)
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    for name, tile in (("rgb_uint8_nodata.tif", 64), ("l8_uint16_1band.tif", 128), ("sr_int16_8band.tif", 64)):
        compress_raster(data / name, folder / f"{Path(name).stem}.ldmr", model=weights, tile=tile, overlap=8,
                        device="cpu", enhance=False, overwrite=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--seed":
        seed(Path(sys.argv[2]))
    else:
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
