"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import errno
import sys
from typing import Callable

import click

from ldmrsic_core import defaults

quality_option = click.option("--quality", "-q", type=float, default=defaults.QUALITY, show_default=True,
                              help="Quality from 1.0 (smallest file) to 5.0 (best); fractions interpolate.")
model_option = click.option("--model", "-m", default=None,
                            help="Model name (see `ldmrsic-geo models`) or path to a weights file.")
device_option = click.option("--device", default=defaults.DEVICES[0], show_default=True,
                             help="auto (GPU when available), cpu or cuda.")
precision_option = click.option(
    "--precision", type=click.Choice(defaults.PRECISIONS), default=defaults.PRECISION, show_default=True,
    help="Float precision of the learned transforms: bf16 is about 4x faster where the device has it (auto "
         "picks it there) and changes pixels in their last bits; fp32 is the reference. Decoding of the "
         "entropy-coded latents is exact either way.")
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace the output if it exists.")


def progress_bar(ctx: click.Context, description: str,
                 unit: str = "tile") -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm progress callback (silent with --quiet or when stderr is not a terminal) and its closer;
    with --progress-json, JSON lines on stdout instead."""
    from tqdm import tqdm

    if ctx.find_root().params.get("progress_json"):
        import json

        def report(done: int, total: int) -> None:
            click.echo(json.dumps({"done": done, "total": total}))
            sys.stdout.flush()

        return report, lambda: None
    quiet = ctx.find_root().params.get("quiet") or not sys.stderr.isatty()
    bar = tqdm(desc=description, unit=unit, disable=quiet, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def echo_err(message: str) -> None:
    click.echo(message, err=True)


enhancer_option = click.option(
    "--enhancer", default=None,
    help="Enhancement model (name from `ldmrsic-geo models`, or a weights file) [default: see the command's help].")


def parallel_options(command):
    """--jobs, --workers and --scheduler: where the tile jobs run (the output is the same either way);
    --tile-batch: how many tiles each job puts through a model call."""
    command = click.option("--tile-batch", type=int, default=None, metavar="N",
                           help="Tiles per model call [default: 1 on the CPU, "
                                f"{defaults.TILE_BATCH_GPU} on a GPU]. Bytes written can depend on it (never "
                                "the decoded latents).")(command)
    command = click.option("--scheduler", default=None, metavar="ADDRESS",
                           help="Run the tile jobs on an existing Dask cluster (e.g. tcp://host:8786); the "
                                "workers need ldmrsic-geo and the models installed.")(command)
    command = click.option("--workers", type=int, default=None,
                           help="Run the tile jobs on a local Dask cluster of this many worker processes.")(command)
    command = click.option("--jobs", "-j", type=int, default=None,
                           help="Tile jobs at the same time in this process, one thread each "
                                "[default: the CPU cores].")(command)
    return command


def one_line(exc: Exception) -> str:
    """An error as the one line the CLI prints (OSErrors with their file; a full disk says what to do)."""
    if not isinstance(exc, OSError):
        return str(exc)
    message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        message += "; free space (or choose another output folder) and run again: no partial output was left"
    return message
