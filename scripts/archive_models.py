"""Move bundled models that are no longer defaults into a volume of the ``ldmrsic-geo-archive`` packages.

    python scripts/archive_models.py elic-small-mix-4 men-small-mix-4

Retired models ship in *volumes*, ``ldmrsic-geo-archive-1``, ``-2``, …: each a distribution whose weights
stay under PyPI's per-file limit (:data:`VOLUME_LIMIT`, counted on the unpacked files), filled in the
order models retire and never changed once the next one is opened, so a published volume never needs
publishing again. ``ldmrsic-geo-archive`` (``archive/pyproject.toml``) holds no weights and depends on
every volume: ``pip install ldmrsic-geo-archive`` installs them all.

The files stay where they are in the repository (``ldmrsic_core/weights/``), so nothing is copied in git.
For each model this marks its ``models.json`` entry with ``"package": "ldmrsic-geo-archive-N"`` (its name
and SHA-256 stay in the table: files keep naming it), links its file into the volume's
``weights/`` folder and adds it to the files the ldmrsic-geo wheel leaves out
(``[tool.setuptools.exclude-package-data]`` in ``pyproject.toml``). A default codec, or a codec whose
enhancer would stay in the main package, is refused. The models named in one call go into one volume.
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
ARCHIVE = ROOT / "archive"
VOLUMES = ARCHIVE / "volumes"
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE = "ldmrsic-geo-archive"
#: The most weights bytes one volume holds: PyPI's default limit for one file (a wheel is no larger
#: than the files it deflates, plus a few kB of metadata).
VOLUME_LIMIT = 100 * 2**20 - 2**20
EXCLUSIONS = re.compile(r'(\[tool\.setuptools\.exclude-package-data\]\n"ldmrsic_core\.weights" = )\[[^\]]*\]')
VOLUME_PACKAGE = re.compile(rf"{PACKAGE}-(\d+)")
VOLUME_PROJECT = """\
# A volume of ldmrsic-geo's earlier models, written by scripts/archive_models.py.
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{package}"
version = "{version}"
description = "Volume {number} of ldmrsic-geo's earlier models, so that files written with them keep decoding"
readme = "README.md"
requires-python = ">=3.10"
license = "MIT"
dependencies = ["ldmrsic-geo"]

# ldmrsic-geo looks for the files of the models its table marks with this package in weights/.
[project.entry-points."ldmrsic_geo.models"]
volume-{number} = "{module}"

[tool.setuptools]
packages = ["{module}"]

[tool.setuptools.package-data]
{module} = ["weights/*.pt"]
"""
VOLUME_README = """\
# {package}

Volume {number} of the weights of ldmrsic-geo's earlier default models: {names}.
`pip install ldmrsic-geo-archive` installs every volume; see that package's README.
"""
META_DEPENDENCIES = re.compile(r"^dependencies = \[.*\]$", re.M)
META_VERSION = re.compile(r'^version = "0\.(\d+)\.0"$', re.M)


def is_archived(entry: dict) -> bool:
    return bool(VOLUME_PACKAGE.fullmatch(entry.get("package") or ""))


def volume_number(package: str) -> int:
    """``ldmrsic-geo-archive-N`` → N."""
    return int(VOLUME_PACKAGE.fullmatch(package).group(1))


def archived(table: dict) -> list[str]:
    """The files of the table's archived models, sorted."""
    return sorted(e["file"] for e in table["models"].values() if is_archived(e))


def volumes(table: dict) -> dict[int, list[str]]:
    """Volume number → the names of the models in it."""
    found: dict[int, list[str]] = {}
    for name, entry in table["models"].items():
        if is_archived(entry):
            found.setdefault(volume_number(entry["package"]), []).append(name)
    return found


def refusal(table: dict, names: list[str]) -> str | None:
    """Why these models cannot be archived (None: they can)."""
    models = table["models"]
    defaults = {table.get("default")} | {e["model"] for e in table.get("top_defaults", [])}
    for name in names:
        if name not in models:
            return f"{name} is not a bundled model"
        if name in defaults:
            return f"{name} is a default codec: make another the default first"
        if is_archived(models[name]):
            return f"{name} is archived already ({models[name]['package']})"
    leaving = set(names) | {n for n, e in models.items() if is_archived(e)}
    for name in names:
        entry = models[name]
        if entry.get("kind", "codec") == "codec":
            staying = [n for n, e in models.items() if e.get("codec_sha256") == entry["sha256"] and n not in leaving]
            if staying:
                return f"{name}'s enhancer {staying[0]} would stay in ldmrsic-geo: archive them together"
    return None


def choose_volume(table: dict, names: list[str], sizes: dict[str, int], limit: int = VOLUME_LIMIT) -> int:
    """The volume these models go into: the last one while they fit in it, else a new one."""
    held = volumes(table)
    adding = sum(sizes[n] for n in names)
    if adding > limit:
        raise ValueError(f"{', '.join(names)} hold {adding / 2**20:.0f} MiB, more than one volume's "
                         f"{limit / 2**20:.0f} MiB")
    if not held:
        return 1
    last = max(held)
    return last if sum(sizes[n] for n in held[last]) + adding <= limit else last + 1


def module_name(number: int) -> str:
    return f"ldmrsic_geo_archive_{number}"


def weights_folder(number: int) -> Path:
    """Where a volume's weights files (links) are."""
    return VOLUMES / str(number) / module_name(number) / "weights"


def write_volume(table: dict, number: int) -> None:
    """The volume's project files and links, from the table (its version counts the calls that filled it)."""
    folder = VOLUMES / str(number)
    module = folder / module_name(number)
    weights_folder(number).mkdir(parents=True, exist_ok=True)
    names = sorted(volumes(table)[number])
    for name in names:
        link = weights_folder(number) / table["models"][name]["file"]
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(WEIGHTS / table["models"][name]["file"], link.parent))
    project = folder / "pyproject.toml"
    fills = 1 + (int(re.search(r'^version = "1\.(\d+)"$', project.read_text(), re.M).group(1))
                 if project.is_file() else 0)
    package = f"{PACKAGE}-{number}"
    project.write_text(VOLUME_PROJECT.format(package=package, version=f"1.{fills}", number=number,
                                             module=module_name(number)))
    (folder / "README.md").write_text(VOLUME_README.format(package=package, number=number, names=", ".join(names)))
    (module / "__init__.py").write_text(
        f'"""Volume {number} of ldmrsic-geo\'s earlier models: their weights files are in ``weights/``."""\n')


def write_meta(count: int) -> None:
    """``ldmrsic-geo-archive`` depends on every volume; its minor version is their number."""
    project = ARCHIVE / "pyproject.toml"
    text = project.read_text()
    listed = ", ".join(f'"{PACKAGE}-{n}"' for n in range(1, count + 1))
    text = META_DEPENDENCIES.sub(f'dependencies = ["ldmrsic-geo", {listed}]', text, count=1)
    project.write_text(META_VERSION.sub(f'version = "0.{count + 1}.0"', text, count=1))


def write_exclusions(files: list[str]) -> None:
    text = PYPROJECT.read_text()
    listed = "[\n" + "".join(f'    "{f}",\n' for f in files) + "]"
    if not EXCLUSIONS.search(text):
        sys.exit("pyproject.toml has no [tool.setuptools.exclude-package-data] entry for ldmrsic_core.weights")
    PYPROJECT.write_text(EXCLUSIONS.sub(lambda m: m.group(1) + listed, text, count=1))


def archive(names: list[str]) -> int:
    """Archive these bundled models into one volume (the table, the volume's files, the meta package's
    dependencies and the wheel's exclusions); the volume's number. ValueError: why they cannot be."""
    table_path = WEIGHTS / "models.json"
    table = json.loads(table_path.read_text())
    why = refusal(table, names)
    if why:
        raise ValueError(why)
    sizes = {n: (WEIGHTS / e["file"]).stat().st_size for n, e in table["models"].items()}
    number = choose_volume(table, names, sizes)
    for name in names:
        table["models"][name]["package"] = f"{PACKAGE}-{number}"
    table_path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    write_volume(table, number)
    write_meta(max(volumes(table)))
    write_exclusions(archived(table))
    return number


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+")
    a = p.parse_args()
    try:
        number = archive(a.names)
    except ValueError as e:
        sys.exit(f"archive_models: {e}")
    table = json.loads((WEIGHTS / "models.json").read_text())
    print(f"archived {', '.join(a.names)} in {PACKAGE}-{number}; {len(archived(table))} models in "
          f"{max(volumes(table))} volumes")


if __name__ == "__main__":
    main()
