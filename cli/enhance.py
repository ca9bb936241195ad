"""``ldmrsic-geo enhance`` (JPEG2000*)."""

from __future__ import annotations

import click

from ldmrsic_cli.options import (
    device_option,
    echo_err,
    enhancer_option,
    overwrite_option,
    parallel_options,
    precision_option,
    progress_bar,
)
from ldmrsic_core import defaults


@click.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", required=True, help="Output GeoTIFF.")
@click.option("--source", type=click.Choice(defaults.ENHANCE_SOURCES), default=defaults.ENHANCE_SOURCES[0],
              show_default=True,
              help="The classical codec that produced INPUT.")
@enhancer_option
@click.option("--tile", type=int, default=defaults.ENHANCE_TILE, show_default=True,
              help=f"Tile size in pixels, a multiple of {defaults.TILE_MULTIPLE}.")
@click.option("--overlap", type=int, default=defaults.ENHANCE_OVERLAP, show_default=True,
              help="Overlap of neighbouring tiles in pixels.")
@click.option("--value-range", nargs=2, type=float, default=None, metavar="LO HI",
              help="Values mapped to the model's range [default: 0–255 for 8-bit data, else each band's min–max].")
@click.option("--source-bpp", type=float, default=None,
              help="Bits per pixel INPUT was coded at [default: from the size of INPUT when it is a JPEG2000 file].")
@device_option
@precision_option
@parallel_options
@overwrite_option
@click.pass_context
def enhance(ctx, input, output, source, enhancer, tile, overlap, value_range, source_bpp, device, precision,
            jobs, workers, scheduler, tile_batch, overwrite):
    """Enhance a raster decoded by a classical codec (JPEG2000*: LDM-RSIC enhancement of
    archives that are already JPEG2000-compressed). Georeferencing and metadata are kept.

    The model defaults to the installed enhancer for --source; it is told the rate INPUT was
    coded at (from the JPEG2000 file's size, or --source-bpp)."""
    from ldmrsic_core.pipeline.enhance import enhance_raster

    update, close = progress_bar(ctx, "enhance")
    try:
        result = enhance_raster(input, output, source=source, enhancer=enhancer, tile=tile, overlap=overlap,
                                value_range=tuple(value_range) if value_range else None,
                                source_bpp=source_bpp, device=device,
                                overwrite=overwrite, progress=update, jobs=jobs, workers=workers,
                                scheduler=scheduler, precision=precision, tile_batch=tile_batch)
    finally:
        close()
    for note in result.notes:
        echo_err(f"note: {note}")
    echo_err(f"wrote {result.output} ({result.width}×{result.height}, {result.tiles} tiles, "
             f"enhanced by {result.enhancer})")
