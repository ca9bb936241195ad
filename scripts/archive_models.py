"""Move bundled models that are no longer defaults into the ``ldmrsic-geo-archive`` package.

    python scripts/archive_models.py elic-small-mix-4 men-small-mix-4

The files stay where they are in the repository (``ldmrsic_core/weights/``), so nothing is copied in
git. For each model this marks its ``models.json`` entry with ``"package": "ldmrsic-geo-archive"``
(its name and SHA-256 stay in the table: files keep naming it), links its file into
``archive/ldmrsic_geo_archive/weights/`` and adds it to the files the ldmrsic-geo wheel leaves out
(``[tool.setuptools.exclude-package-data]`` in ``pyproject.toml``). A default codec, or a codec whose
enhancer would stay in the main package, is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "ldmrsic_core" / "weights"
ARCHIVE_WEIGHTS = ROOT / "archive" / "ldmrsic_geo_archive" / "weights"
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE = "ldmrsic-geo-archive"
EXCLUSIONS = re.compile(r'(\[tool\.setuptools\.exclude-package-data\]\n"ldmrsic_core\.weights" = )\[[^\]]*\]')


def archived(table: dict) -> list[str]:
    """The files of the table's archived models, sorted."""
    return sorted(e["file"] for e in table["models"].values() if e.get("package") == PACKAGE)


def refusal(table: dict, names: list[str]) -> str | None:
    """Why these models cannot be archived (None: they can)."""
    models = table["models"]
    defaults = {table.get("default")} | {e["model"] for e in table.get("top_defaults", [])}
    for name in names:
        if name not in models:
            return f"{name} is not a bundled model"
        if name in defaults:
            return f"{name} is a default codec: make another the default first"
    leaving = set(names) | {n for n, e in models.items() if e.get("package") == PACKAGE}
    for name in names:
        entry = models[name]
        if entry.get("kind", "codec") == "codec":
            staying = [n for n, e in models.items() if e.get("codec_sha256") == entry["sha256"] and n not in leaving]
            if staying:
                return f"{name}'s enhancer {staying[0]} would stay in ldmrsic-geo: archive them together"
    return None


def write_exclusions(files: list[str]) -> None:
    text = PYPROJECT.read_text()
    listed = "[\n" + "".join(f'    "{f}",\n' for f in files) + "]"
    if not EXCLUSIONS.search(text):
        sys.exit("pyproject.toml has no [tool.setuptools.exclude-package-data] entry for ldmrsic_core.weights")
    PYPROJECT.write_text(EXCLUSIONS.sub(lambda m: m.group(1) + listed, text, count=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+")
    a = p.parse_args()
    table_path = WEIGHTS / "models.json"
    table = json.loads(table_path.read_text())
    why = refusal(table, a.names)
    if why:
        sys.exit(f"archive_models: {why}")
    ARCHIVE_WEIGHTS.mkdir(parents=True, exist_ok=True)
    for name in a.names:
        entry = table["models"][name]
        entry["package"] = PACKAGE
        link = ARCHIVE_WEIGHTS / entry["file"]
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(WEIGHTS / entry["file"], ARCHIVE_WEIGHTS))
    table_path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    write_exclusions(archived(table))
    print(f"archived {', '.join(a.names)}; {len(archived(table))} models in {PACKAGE}")


if __name__ == "__main__":
    main()
