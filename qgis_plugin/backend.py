"""Running ldmrsic-geo from QGIS: in QGIS's own Python, or in an external Python environment.

In-process, the library is called with a progress callback that reports to the Processing
feedback and raises ``Cancelled`` when the user cancels (the library then removes its
temporary output). External, ``python -m ldmrsic_cli --progress-json ...`` runs as a
subprocess (arguments as a list, no shell); its JSON-lines progress drives the feedback and
a cancel sends SIGTERM, on which the CLI also leaves no partial output. Either way the
algorithm runs in Processing's background task, so the interface never freezes.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from qgis.core import QgsProcessingException, QgsProcessingFeedback

EXTERNAL_PYTHON_SETTING = "LDMRSIC_EXTERNAL_PYTHON"
ENV_PYTHON = "LDMRSIC_GEO_PYTHON"


def external_python() -> str:
    """The configured external interpreter ('' = QGIS's own Python); the environment variable wins."""
    if os.environ.get(ENV_PYTHON):
        return os.environ[ENV_PYTHON]
    try:
        from processing.core.ProcessingConfig import ProcessingConfig

        return str(ProcessingConfig.getSetting(EXTERNAL_PYTHON_SETTING) or "")
    except ImportError:  # pragma: no cover
        return ""


def library_available() -> bool:
    try:
        import ldmrsic_core  # noqa: F401
    except ImportError:
        return False
    return True


NOT_INSTALLED = ("ldmrsic-geo is not installed in QGIS's Python: install it there (pip install ldmrsic-geo) or set "
                 "Processing › Options › Providers › ldmrsic-geo › External Python to a Python that has it")


@dataclass(frozen=True)
class Command:
    """A CLI command and the library function behind it: ``positional`` is the keyword that is
    the command's argument, ``options`` the CLI option of every other keyword."""

    function: str
    positional: str
    options: dict[str, str]


#: The one table from which both the in-process call and the external command line are made.
COMMANDS = {
    "compress": Command("ldmrsic_core.compress_raster", "input", {
        "output": "-o", "quality": "--quality", "target": "--{}", "tile": "--tile", "overlap": "--overlap",
        "bands": "--bands", "refine": "--refine", "value_curve": "--value-curve", "model": "--model",
        "device": "--device", "overwrite": "--overwrite"}),
    "decompress": Command("ldmrsic_core.decompress_raster", "input", {
        "output": "-o", "bbox": "--bbox", "model": "--model", "device": "--device", "cog": "--cog",
        "enhance": "--no-enhance", "overwrite": "--overwrite"}),
    "enhance": Command("ldmrsic_core.pipeline.enhance.enhance_raster", "input", {
        "output": "-o", "source": "--source", "enhancer": "--enhancer", "source_bpp": "--source-bpp",
        "device": "--device", "overwrite": "--overwrite"}),
    "eval": Command("ldmrsic_core.evaluation.runner.evaluate", "inputs", {
        "out": "--out", "codecs": "--codecs", "qualities": "--qualities", "model": "--model", "device": "--device",
        "overwrite": "--overwrite"}),
}
SPREAD = ("bbox",)  # options that take several values (the others join a sequence with commas)
NAMED = ("target",)  # (name, value) pairs whose name is the option: ("bpp", 0.3) → --bpp 0.3


def command_line(command: str, kwargs: dict[str, Any]) -> list[str]:
    """The ``ldmrsic-geo`` arguments that do what ``COMMANDS[command].function(**kwargs)`` does."""
    spec = COMMANDS[command]
    value = kwargs[spec.positional]
    argv = [command, *(map(str, value) if isinstance(value, (list, tuple)) else [str(value)])]
    for key, value in kwargs.items():
        if key == spec.positional or value is None:
            continue
        option = spec.options[key]
        if key in NAMED:
            argv += [option.format(value[0]), repr(float(value[1]))]
        elif isinstance(value, bool):  # a flag, or its negation ("--no-enhance" for enhance=False)
            argv += [option] if value != option.startswith("--no-") else []
        elif isinstance(value, (list, tuple)):
            texts = [repr(v) if isinstance(v, float) else str(v) for v in value]
            argv += [option, *texts] if key in SPREAD else [option, ",".join(texts)]
        else:
            argv += [option, repr(value) if isinstance(value, float) else str(value)]
    return argv


def run(command: str, kwargs: dict[str, Any], feedback: QgsProcessingFeedback) -> None:
    """``COMMANDS[command].function(**kwargs)`` in QGIS's Python when it has the library and no
    external Python is set; else the same as ``ldmrsic-geo COMMAND ...`` in the external Python."""
    python = external_python()
    if python:
        _run_external(python, command_line(command, kwargs), feedback)
    elif library_available():
        _run_in_process(COMMANDS[command].function, kwargs, feedback)
    else:
        raise QgsProcessingException(NOT_INSTALLED)


def _run_in_process(function: str, kwargs: dict[str, Any], feedback: QgsProcessingFeedback) -> None:
    import importlib

    from ldmrsic_core.errors import Cancelled, LdmrError

    def progress(done: int, total: int) -> None:
        feedback.setProgress(100.0 * done / max(total, 1))
        if feedback.isCanceled():
            raise Cancelled()

    module, name = function.rsplit(".", 1)
    try:
        getattr(importlib.import_module(module), name)(**kwargs, progress=progress)
    except Cancelled:
        raise QgsProcessingException("cancelled; no output was written") from None
    except (LdmrError, OSError) as exc:
        raise QgsProcessingException(str(exc)) from None


def _run_external(python: str, argv: list[str], feedback: QgsProcessingFeedback) -> None:
    command = [python, "-m", "ldmrsic_cli", "--quiet", "--progress-json", *argv]
    feedback.pushDebugInfo("running " + " ".join(command))
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise QgsProcessingException(f"cannot start the external Python {python}: {exc.strerror}") from None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        if feedback.isCanceled():
            proc.terminate()
            proc.wait()
            raise QgsProcessingException("cancelled; no output was written")
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        try:
            event = json.loads(line)
            feedback.setProgress(100.0 * event["done"] / max(event["total"], 1))
        except (ValueError, KeyError, TypeError):
            feedback.pushInfo(line.rstrip())
    code = proc.wait()
    errors = proc.stderr.read().strip().splitlines()
    if code != 0:
        message = errors[-1] if errors else f"exit status {code}"
        raise QgsProcessingException(message.removeprefix("ldmrsic-geo: error: "))
    for line in errors:
        feedback.pushInfo(line)


def describe(path: str) -> dict[str, Any]:
    """``ldmrsic-geo info`` of an .ldmr file (in-process or external)."""
    python = external_python()
    if not python and library_available():
        from ldmrsic_core import file_info
        from ldmrsic_core.errors import LdmrError

        try:
            return file_info(path)
        except (LdmrError, OSError) as exc:
            raise QgsProcessingException(str(exc)) from None
    if not python:
        raise QgsProcessingException(NOT_INSTALLED)
    proc = subprocess.run([python, "-m", "ldmrsic_cli", "info", path], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise QgsProcessingException((lines[-1] if lines else "info failed").removeprefix("ldmrsic-geo: error: "))
    return json.loads(proc.stdout)
