"""``ldmrsic-geo eval``."""

from __future__ import annotations

from pathlib import Path

import click

from ldmrsic_cli.options import (
    device_option,
    echo_err,
    model_option,
    overwrite_option,
    precision_option,
    progress_bar,
)
from ldmrsic_core import defaults


def _list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


@click.command("eval")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@click.option("--codecs", default=",".join(defaults.EVAL_CODECS), show_default=True,
              help="Comma-separated codecs.")
@click.option("--qualities", default=",".join(f"{q:g}" for q in defaults.EVAL_QUALITIES), show_default=True,
              help="Our quality presets.")
@click.option("--anchor", default=None, help="Another reference codec for BD-rates (besides jpeg2000).")
@click.option("--limit", type=int, default=0, help="Use this many images only, spread over the inputs.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="CPU threads to use: our codec's tile jobs (one thread each) and the metrics' threads "
                   "[default: one per core]. 1 beside a training run (two busy thread pools slow both).")
@model_option
@device_option
@precision_option
@overwrite_option
@click.pass_context
def evaluate(ctx, inputs, out, codecs, qualities, anchor, limit, jobs, model, device, precision, overwrite):
    """Rate–distortion of ldmrsic-geo against GDAL's and other classical codecs on images or GeoTIFFs:
    per-image CSV, averaged RD table, BD-rates, plots, a side-by-side crop and a report."""
    from ldmrsic_core.evaluation.runner import evaluate as run

    try:
        quality_values = tuple(float(q) for q in _list(qualities))
    except ValueError:
        raise click.BadParameter(f"{qualities!r}: give numbers like 1,2,3", param_hint="--qualities") from None
    update, close = progress_bar(ctx, "eval", unit="run")
    try:
        folder = run(list(inputs), out, codecs=_list(codecs), qualities=quality_values, anchor=anchor, model=model,
                     device=device, limit=limit, overwrite=overwrite, progress=update, precision=precision,
                     jobs=jobs)
    finally:
        close()
    echo_err(f"wrote {folder}/report.md (and report.html, per_image.csv, rd_table.csv, bd.csv, plots)")
