"""``ldmrsic-geo tile``."""

from __future__ import annotations

from pathlib import Path

import click

from ldmrsic_cli.options import echo_err, overwrite_option, progress_bar
from ldmrsic_core import defaults


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder for the tiles.")
@click.option("--size", type=int, default=256, show_default=True, help="Tile size in pixels.")
@click.option("--stride", type=int, default=None, help="Step between tiles [default: the size].")
@click.option("--bands", default=None, help="Bands to use, in order, e.g. 4,3,2 [default: all, in groups of three].")
@click.option("--min-valid", type=float, default=0.9, show_default=True,
              help="Skip tiles with a smaller fraction of valid (not nodata) pixels.")
@click.option("--scale", type=int, default=1, show_default=True,
              help="Downsample by this whole factor first (block mean), e.g. 2 for JPEG sources, whose own "
                   "artifacts a codec should not learn.")
@click.option("--value-curve", type=click.Choice(defaults.VALUE_CURVES), default=defaults.VALUE_CURVE,
              show_default=True, help="How a band wider than 8 bits maps to the tiles' range; as compress maps it.")
@overwrite_option
@click.pass_context
def tile(ctx, inputs, out, size, stride, bands, min_valid, scale, value_curve, overwrite):
    """Cut rasters and images (files or folders) into lossless training tiles with a manifest."""
    from ldmrsic_core.training.tiles import cut_tiles

    update, close = progress_bar(ctx, "tile", unit="file")
    try:
        report = cut_tiles(list(inputs), out, size=size, stride=stride, bands=bands, min_valid=min_valid,
                           scale=scale, value_curve=value_curve, overwrite=overwrite, progress=update)
    finally:
        close()
    echo_err(f"wrote {report.written} tiles from {report.sources} files to {out} "
             f"({report.skipped} windows skipped for nodata); manifest {report.manifest}")
