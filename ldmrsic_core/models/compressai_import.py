"""Import CompressAI's models without its data sets and data transforms.

``import compressai`` (1.2.8) imports every subpackage, and its transform registry imports torchvision
and torch_geometric, which import torch._dynamo: about 2.8 s of a command's start-up on the CPUs we
measured (BENCHMARKS.md), for modules that coding never uses. Here those three modules are stand-ins
while CompressAI's package imports; afterwards the stand-ins leave ``sys.modules`` and the package, so
a later ``import compressai.datasets`` (or ``.transforms``, ``.registry.transforms``) imports the real
module, and ``compressai.registry``'s re-exported ``TRANSFORMS`` and ``register_transform`` reach the real
registry at first use. Only for the pinned CompressAI version, and only when nothing imported CompressAI first.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import MutableMapping
from importlib import metadata

#: The CompressAI release whose package layout this was written for.
PINNED = "1.2.8"
#: The transform registry, whose names ``compressai.registry`` re-exports.
REGISTRY = "compressai.registry.transforms"
#: CompressAI's modules that coding never uses and that import torchvision and torch_geometric.
SKIPPED = ("compressai.datasets", "compressai.transforms", REGISTRY)


def _stand_in(name: str) -> types.ModuleType:
    module = types.ModuleType(name, "stand-in while compressai imports (ldmrsic_core.models.compressai_import)")
    if name == REGISTRY:
        module.TRANSFORMS = _RealTransforms()
        module.register_transform = _register_transform
    return module


def _real_registry() -> types.ModuleType:
    return importlib.import_module(REGISTRY)


def _register_transform(name: str):
    """``compressai.registry.register_transform``, the real one, imported at first use."""
    return _real_registry().register_transform(name)


class _RealTransforms(MutableMapping):
    """``compressai.registry.TRANSFORMS``: the real table, imported at first use."""

    def __getitem__(self, key):
        return _real_registry().TRANSFORMS[key]

    def __setitem__(self, key, value):
        _real_registry().TRANSFORMS[key] = value

    def __delitem__(self, key):
        del _real_registry().TRANSFORMS[key]

    def __iter__(self):
        return iter(_real_registry().TRANSFORMS)

    def __len__(self):
        return len(_real_registry().TRANSFORMS)


def import_compressai() -> types.ModuleType:
    """``compressai``, imported without :data:`SKIPPED` where that is safe (see the module docstring)."""
    if "compressai" in sys.modules or _version() != PINNED:
        return importlib.import_module("compressai")
    stand_ins = {name: _stand_in(name) for name in SKIPPED}
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module("compressai")
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if getattr(sys.modules.get(parent), child, None) is module:
                delattr(sys.modules[parent], child)


def _version() -> str | None:
    try:
        return metadata.version("compressai")
    except metadata.PackageNotFoundError:
        return None


__all__ = ["PINNED", "SKIPPED", "import_compressai"]
