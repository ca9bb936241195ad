"""Safe output files: checked before work starts, written under a temporary name, renamed at the end."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ldmrsic_core.errors import InputError, OutputExistsError


def check_output(path: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse an output that is an input, exists (unless ``overwrite``), or cannot be written."""
    for src in inputs:
        if path.resolve() == src.resolve() or (path.exists() and src.exists() and path.samefile(src)):
            raise InputError(f"output {path} is the input file; choose another output path")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"output folder {folder} does not exist; create it first")
    check_folder_writable(folder)
    if path.is_dir():
        raise InputError(f"output {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass --overwrite to replace it")


def check_folder_writable(folder: Path) -> None:
    """Refuse a folder (or, if it does not exist yet, its nearest existing parent) that takes no
    new file. A file is created and removed: access() says yes to root on a read-only mount."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise InputError(f"output folder {folder} is not writable; choose another output folder")
    probe = folder / f".ldmrsic-probe-{secrets.token_hex(4)}"
    try:
        probe.open("xb").close()
    except OSError as exc:
        raise InputError(f"output folder {folder} is not writable ({exc.strerror}); "
                         "choose another output folder") from None
    probe.unlink(missing_ok=True)


def temporary_sibling(path: Path, suffix: str = ".part") -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")


@contextmanager
def atomic_output(path: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on any failure it is removed."""
    check_output(path, overwrite, inputs)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        if path.exists() and not overwrite:  # appeared while we worked
            raise OutputExistsError(f"{path} appeared while writing; pass --overwrite to replace it")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
