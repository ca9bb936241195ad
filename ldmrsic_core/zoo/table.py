"""The table of named models (codecs and enhancers alike): ``models.json`` in the package's
``weights/`` folder (bundled) and in the user's model folder (exported by ``train export``).
Plain JSON: reading it needs no torch, so ``info`` names a file's models quickly.

Every model that ever shipped stays in the package's table, by name and SHA-256, so that old files
keep naming their models; the files of those that are no longer defaults ship in other
distributions, the volumes of the archive (``package`` in their entry: ``ldmrsic-geo-archive-N``,
built from ``archive/volumes/N`` in the repository; ``ldmrsic-geo-archive`` installs them all), each
making its ``weights/`` folder known through the ``ldmrsic_geo.models`` entry point. A bundled
model's file is looked for in the package's folder, then in those.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from ldmrsic_core.defaults import MAX_QUALITY, MIN_QUALITY
from ldmrsic_core.errors import WeightsError


@dataclass(frozen=True)
class NamedWeights:
    """A weights file known by name: bundled in the package or exported to the user's model folder."""

    name: str
    path: Path
    sha256: str
    config: str
    bundled: bool
    notes: str = ""
    kind: str = "codec"
    source: str | None = None
    codec_sha256: str | None = None
    package: str | None = None  # the distribution that ships a bundled model's file (None: this one)

    @property
    def installed(self) -> bool:
        return self.path.is_file()


#: The entry-point group through which a distribution offers a folder of bundled models' files.
MODEL_FOLDERS_GROUP = "ldmrsic_geo.models"


def package_model_dir() -> Path:
    return Path(str(resources.files("ldmrsic_core") / "weights"))


def extra_model_dirs() -> list[Path]:
    """Folders of bundled models' files offered by other distributions (the archive's volumes). An entry
    point names a package, whose ``weights/`` folder it offers, or a function that returns a folder
    (``ldmrsic-geo-archive`` 0.1)."""
    folders = []
    for entry in metadata.entry_points(group=MODEL_FOLDERS_GROUP):
        try:
            offered = entry.load()
            folders.append(Path(offered()) if callable(offered) else Path(offered.__file__).parent / "weights")
        except Exception:  # a broken plug-in must not stop the models that are here
            continue
    return folders


def _find_file(here: Path, elsewhere: list[Path]) -> Path:
    """``here`` if it is a file, else the first of ``elsewhere``'s folders that holds its name (else ``here``)."""
    if here.is_file():
        return here
    return next((folder / here.name for folder in elsewhere if (folder / here.name).is_file()), here)


def user_model_dir() -> Path:
    """Where ``train export`` puts models: $LDMRSIC_GEO_MODELS or ~/.local/share/ldmrsic-geo/models."""
    env = os.environ.get("LDMRSIC_GEO_MODELS")
    return Path(env) if env else Path.home() / ".local" / "share" / "ldmrsic-geo" / "models"


def read_model_table(folder: Path) -> dict[str, Any]:
    """A folder's ``models.json``: {"default": name or null, "models": {name: {file, sha256, config, notes}},
    and optionally "top_defaults": [{"from_quality": q, "model": name}]} (see :func:`default_models`)."""
    table = folder / "models.json"
    if not table.is_file():
        return {"default": None, "models": {}}
    try:
        data = json.loads(table.read_text())
        read = {"default": data.get("default"), "models": dict(data["models"])}
        if "top_defaults" in data:
            read["top_defaults"] = [{"from_quality": float(e["from_quality"]), "model": str(e["model"])}
                                    for e in data["top_defaults"]]
        return read
    except (ValueError, KeyError, TypeError):
        raise WeightsError(f"{table} is damaged; remove it or export the models again") from None


def named_weights() -> dict[str, NamedWeights]:
    """Bundled models, then the user's exported ones (a bundled name cannot be shadowed)."""
    found: dict[str, NamedWeights] = {}
    elsewhere: list[Path] | None = None  # other distributions' folders, looked up when first needed
    for folder, bundled in ((package_model_dir(), True), (user_model_dir(), False)):
        for name, e in read_model_table(folder)["models"].items():
            if name not in found:
                path = folder / e["file"]
                if bundled and not path.is_file():
                    elsewhere = extra_model_dirs() if elsewhere is None else elsewhere
                    path = _find_file(path, elsewhere)
                found[name] = NamedWeights(name, path, e["sha256"], e.get("config", ""), bundled,
                                           e.get("notes", ""), e.get("kind", "codec"), e.get("source"),
                                           e.get("codec_sha256"), e.get("package"))
    return found


def default_models() -> tuple[tuple[float, str], ...]:
    """The bundled codecs ``compress`` uses when none is named, as (from quality, name), lowest first:
    the default from the lowest quality, then any codec trained for the top rates from the quality
    where it takes over (the table's ``top_defaults``). Empty when no model is bundled."""
    table = read_model_table(package_model_dir())
    if table["default"] is None:
        return ()
    chain = [(MIN_QUALITY, table["default"])]
    for entry in sorted(table.get("top_defaults", []), key=lambda e: e["from_quality"]):
        q, name = entry["from_quality"], entry["model"]
        if not chain[-1][0] < q <= MAX_QUALITY or name not in table["models"]:
            raise WeightsError(f"the bundled models.json names top default {name!r} from quality {q:g}, which is "
                               "not a bundled model or not a quality above the previous one; reinstall ldmrsic-geo")
        chain.append((q, name))
    return tuple(chain)


def default_model(quality: float | None = None) -> str | None:
    """The bundled codec ``compress`` uses at ``quality`` when none is named (None: the lowest
    quality's, the default that every quality had before top-rate codecs)."""
    chain = default_models()
    if not chain:
        return None
    return chain[0][1] if quality is None else [name for q, name in chain if q <= quality][-1]


def no_model_message() -> str:
    if default_model():
        return ""
    return (
        "no trained model is bundled with this version of ldmrsic-geo yet; pass --model NAME or PATH "
        "to a weights file (ldmrsic-geo models lists what is available)"
    )


def resolve(model: str | Path | None) -> tuple[str, Path, str | None]:
    """Turn a model argument (name, path or None for the default) into (name, path, expected hash)."""
    named = named_weights()
    if model is None:
        model = default_model()
        if model is None:
            raise WeightsError(no_model_message())
    if str(model) in named:
        entry = named[str(model)]
        if not entry.installed:
            raise WeightsError(not_installed_message(entry))
        return entry.name, entry.path, entry.sha256
    path = Path(model)
    if path.is_file():
        return path.stem, path, None
    known = ", ".join(named) or "none"
    raise WeightsError(f"model {model!s} is neither a known model name ({known}) nor an existing weights file")


def not_installed_message(entry: NamedWeights) -> str:
    """Why a known model's file is not here, and how to get it."""
    if entry.package:
        return (f"model {entry.name} (SHA-256 {entry.sha256[:16]}…) is an earlier model whose weights ship in "
                f"the {entry.package} package: install it with 'pip install {entry.package}'")
    return f"the weights file of model {entry.name} is missing ({entry.path}): reinstall ldmrsic-geo"


def installed_names() -> dict[str, tuple[str, str]]:
    """SHA-256 → (name, configuration) of every installed model, for headers that store hashes only."""
    return {w.sha256: (w.name, w.config) for w in named_weights().values()}


def bundled_hashes() -> frozenset[str]:
    """SHA-256 of every model shipped in the package (its table names them on any installation)."""
    return frozenset(w.sha256 for w in named_weights().values() if w.bundled)
