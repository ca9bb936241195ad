"""``ldmrsic-geo decompress``."""

from __future__ import annotations

import warnings

import click

from ldmrsic_cli.options import device_option, echo_err, model_option, overwrite_option, progress_bar


@click.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", required=True, help="Output GeoTIFF.")
@click.option("--bbox", nargs=4, type=float, default=None, metavar="MINX MINY MAXX MAXY",
              help="Decode only this box, in the raster's CRS (only the tiles it touches are read).")
@click.option("--no-enhance", is_flag=True,
              help="Skip the LDM-prior enhancement (no enhancement model is bundled yet, so this is the only mode).")
@click.option("--cog", is_flag=True, help="Write a Cloud-Optimized GeoTIFF with overviews.")
@click.option("--allow-damaged", is_flag=True, help="Fill damaged tiles with nodata and decode the rest.")
@model_option
@device_option
@overwrite_option
@click.pass_context
def decompress(ctx, input, output, bbox, no_enhance, cog, allow_damaged, model, device, overwrite):
    """Decode an .ldmr file back to a georeferenced GeoTIFF."""
    from ldmrsic_core import decompress_raster

    update, close = progress_bar(ctx, "decompress")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = decompress_raster(input, output, bbox=tuple(bbox) if bbox else None, model=model,
                                       device=device, cog=cog, allow_damaged=allow_damaged,
                                       overwrite=overwrite, progress=update)
        finally:
            close()
    for w in caught:
        echo_err(f"warning: {w.message}")
    echo_err(f"wrote {result.output} ({result.width}×{result.height}, {result.tiles_read} tiles decoded"
             + (f", {len(result.damaged_tiles)} damaged tiles filled with nodata" if result.damaged_tiles else "")
             + ")")
