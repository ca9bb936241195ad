"""CompressAI imported without its data sets and transforms (start-up time), the real ones still there
for whoever imports them later."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_coding_imports_neither_torchvision_nor_torch_geometric():
    out = _run("""
        import sys
        from ldmrsic_core.models.codec import VariableRateElic
        import compressai
        heavy = [m for m in ("torchvision", "torch_geometric", "torch._dynamo", "compressai.datasets",
                             "compressai.transforms", "compressai.registry.transforms") if m in sys.modules]
        print(heavy, hasattr(compressai, "datasets"), compressai.models.Elic2022Official.__name__)
    """)
    assert out == "[] False Elic2022Official"


def test_the_skipped_modules_are_the_real_ones_when_imported_later():
    out = _run("""
        import ldmrsic_core.models.codec
        import compressai.datasets, compressai.transforms
        import compressai.registry.transforms as registry
        from compressai.registry import TRANSFORMS
        print(compressai.datasets.ImageFolder.__name__, "RandomSample" in registry.TRANSFORMS,
              "Compose" in TRANSFORMS, len(TRANSFORMS) == len(registry.TRANSFORMS) > 100)
    """)
    assert out == "ImageFolder True True True"


def test_compressai_imported_first_is_left_as_it_is():
    out = _run("""
        import sys
        import compressai
        from ldmrsic_core.models.compressai_import import import_compressai
        print(import_compressai() is compressai, "torchvision" in sys.modules)
    """)
    assert out == "True True"


def test_another_compressai_version_is_imported_whole(monkeypatch):
    out = _run("""
        import sys
        from importlib import metadata
        real = metadata.version
        metadata.version = lambda name: "9.9" if name == "compressai" else real(name)
        import ldmrsic_core.models.codec
        print("compressai.datasets" in sys.modules)
    """)
    assert out == "True"
