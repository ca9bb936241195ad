"""Build the installable QGIS plugin zip: ``dist/ldmrsic_geo-VERSION.zip``.

The zip holds one folder, ``ldmrsic_geo/``: the files of ``qgis_plugin/`` plus the
repository's ``metadata.txt`` (the single source of the plugin metadata) and README.

    python scripts/plugin_zip.py [--out dist]
"""

from __future__ import annotations

import argparse
import configparser
import os
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "ldmrsic_geo"


def build(out: Path) -> Path:
    meta = configparser.ConfigParser()
    meta.read(ROOT / "metadata.txt")
    version = meta["general"]["version"]
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{PLUGIN}-{version}.zip"
    tmp = target.with_name(target.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted((ROOT / "qgis_plugin").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                z.write(path, f"{PLUGIN}/{path.relative_to(ROOT / 'qgis_plugin')}")
        z.write(ROOT / "ldmrsic_core" / "defaults.py", f"{PLUGIN}/_defaults.py")  # one source of the defaults
        z.write(ROOT / "metadata.txt", f"{PLUGIN}/metadata.txt")
        z.write(ROOT / "README.md", f"{PLUGIN}/README.md")
    os.replace(tmp, target)
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    print(build(p.parse_args().out))


if __name__ == "__main__":
    main()
