"""Bundle an exported codec and its enhancer as a default pair (issue 17's campaign), and retire the pair
they displace into the archive.

    python scripts/ship_models.py elic-small-hi-8 men-small-hi-8 --role top \\
        --export ~/.cache/ldmrsic-geo/export --codec-notes "..." --enhancer-notes "..." --retire

``--role default`` makes the codec the default from the lowest quality, ``--role top`` the codec
``compress`` switches to from the table's top-rate quality (``top_defaults``). Both models must be in
the export folder's table (``ldmrsic-geo train export``) with files of the hashes it names, and the
enhancer must have been trained against this codec. The files are copied into
``ldmrsic_core/weights/`` (verified again there) and the table gets their entries, with the notes that
say how they were trained and measured. ``--retire`` then moves the codec that held the role, with its
enhancers, into an archive volume (``scripts/archive_models.py``); without it they stay bundled.

Ship only weights measured better than the ones they replace (issue 17 §3; BENCHMARKS.md says how).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import archive_models

WEIGHTS = archive_models.WEIGHTS
ROLES = ("default", "top")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def role_holder(table: dict, role: str) -> str | None:
    """The codec that holds a role now (None: nobody)."""
    if role == "default":
        return table.get("default")
    tops = table.get("top_defaults", [])
    return tops[0]["model"] if tops else None


def displaced(table: dict, role: str) -> list[str]:
    """The models a new pair in this role replaces: the role's codec and its enhancers, unless the codec
    keeps another role."""
    codec = role_holder(table, role)
    other = role_holder(table, "top" if role == "default" else "default")
    if codec is None or codec == other:
        return []
    sha = table["models"][codec]["sha256"]
    return [codec] + sorted(n for n, e in table["models"].items() if e.get("codec_sha256") == sha)


def register(table: dict, exported: dict, codec: str, enhancer: str, role: str, codec_notes: str,
             enhancer_notes: str) -> dict:
    """The bundled table with the pair added in its role. ValueError: why the pair cannot ship."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role == "top" and not table.get("top_defaults"):
        raise ValueError("the table has no top_defaults entry to hand over; add one by hand first")
    for name in (codec, enhancer):
        if name in table["models"]:
            raise ValueError(f"{name} is bundled already: export under a new name")
        if name not in exported:
            raise ValueError(f"{name} is not in the export folder's models.json: export it first")
    codec_entry, enhancer_entry = exported[codec], exported[enhancer]
    if codec_entry.get("kind", "codec") != "codec" or enhancer_entry.get("kind") != "enhancer":
        raise ValueError(f"{codec} must be a codec and {enhancer} an enhancer")
    if enhancer_entry.get("codec_sha256") != codec_entry["sha256"]:
        raise ValueError(f"{enhancer} was trained against another codec than {codec}")
    if not codec_notes.strip() or not enhancer_notes.strip():
        raise ValueError("say in the notes how each model was trained and measured")
    new = json.loads(json.dumps(table))
    new["models"][codec] = dict(codec_entry, file=f"{codec}.pt", notes=codec_notes)
    new["models"][enhancer] = dict(enhancer_entry, file=f"{enhancer}.pt", notes=enhancer_notes)
    if role == "default":
        new["default"] = codec
    else:
        new["top_defaults"][0]["model"] = codec
    return new


def copy_verified(source: Path, target: Path, expected: str) -> None:
    """Copy a weights file through a temporary name, keeping it only when its hash is the expected one."""
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    if sha256(partial) != expected:
        partial.unlink()
        raise ValueError(f"{source} does not have the SHA-256 its models.json names: export it again")
    os.replace(partial, target)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("codec")
    p.add_argument("enhancer")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--export", type=Path, required=True, help="the folder `ldmrsic-geo train export` wrote")
    p.add_argument("--codec-notes", required=True)
    p.add_argument("--enhancer-notes", required=True)
    p.add_argument("--retire", action="store_true", help="archive the pair the new one displaces")
    a = p.parse_args()
    table_path = WEIGHTS / "models.json"
    table = json.loads(table_path.read_text())
    try:
        exported = json.loads((a.export / "models.json").read_text())["models"]
        new = register(table, exported, a.codec, a.enhancer, a.role, a.codec_notes, a.enhancer_notes)
        leaving = displaced(table, a.role)
        for name in (a.codec, a.enhancer):
            copy_verified(a.export / exported[name]["file"], WEIGHTS / f"{name}.pt", exported[name]["sha256"])
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"ship_models: {e}")
    table_path.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n")
    print(f"shipped {a.codec} ({new['models'][a.codec]['sha256'][:16]}…) and {a.enhancer} as the {a.role} pair")
    if leaving and a.retire:
        try:
            number = archive_models.archive(leaving)
        except ValueError as e:
            sys.exit(f"ship_models: shipped, but {', '.join(leaving)} cannot be archived: {e}")
        print(f"archived {', '.join(leaving)} in {archive_models.PACKAGE}-{number}: "
              f"pip install --no-deps -e archive/volumes/{number}")
    elif leaving:
        print(f"still bundled: {', '.join(leaving)} (archive them with scripts/archive_models.py)")
    print("next: add the new codec to tests/test_golden.py's *DEFAULTS_SO_FAR and the old one to PAST_DEFAULTS "
          "in tests/expected/make_golden.py, run it, and record the figures in BENCHMARKS.md")


if __name__ == "__main__":
    main()
