"""``ldmrsic-geo compress``."""

from __future__ import annotations

import click

from ldmrsic_cli.batch import plan_jobs, run_jobs
from ldmrsic_cli.options import (
    device_option,
    echo_err,
    enhancer_option,
    model_option,
    overwrite_option,
    parallel_options,
    precision_option,
    quality_option,
)
from ldmrsic_core import defaults


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--output", "-o", default=None,
              help="Output .ldmr file (one input) [default: INPUT with suffix .ldmr].")
@click.option("--out-dir", default=None,
              help="Folder for the outputs (NAME.ldmr each), for several inputs or a folder.")
@quality_option
@click.option("--tile", type=int, default=defaults.TILE, show_default=True,
              help=f"Tile size in pixels, a multiple of {defaults.TILE_MULTIPLE}.")
@click.option("--overlap", type=int, default=defaults.OVERLAP, show_default=True,
              help="Overlap of neighbouring tiles in pixels.")
@click.option("--bands", default=None, help="Bands to keep, in order, e.g. 4,3,2 [default: all].")
@click.option("--value-range", nargs=2, type=float, default=None, metavar="LO HI",
              help="Map values LO..HI to the codec range for every band (others are clipped) "
                   "[default: 0–255 for 8-bit data, else each band's valid min–max].")
@model_option
@enhancer_option
@click.option("--no-enhancer", is_flag=True, help="Name no decode-time enhancer in the file.")
@click.option("--allow-empty", is_flag=True,
              help="Store a raster that has no valid pixel (its grid and metadata) instead of refusing it.")
@device_option
@precision_option
@parallel_options
@overwrite_option
@click.pass_context
def compress(ctx, inputs, output, out_dir, quality, tile, overlap, bands, value_range, model, enhancer, no_enhancer,
             allow_empty, device, precision, jobs, workers, scheduler, overwrite):
    """Compress rasters (GeoTIFF or any GDAL raster) into .ldmr files.

    The file names the enhancement model decoding will apply (by default the installed one
    trained for the codec; it costs no bits), so it always decodes to the same pixels.
    INPUT may be several files, folders (searched for rasters) or quoted globs: one progress bar,
    a line per scene and a total; a scene that fails does not stop the others (exit status 1).
    """
    from ldmrsic_core import compress_raster
    from ldmrsic_core.inputs import RASTER_SUFFIXES

    scenes = plan_jobs(inputs, output, out_dir, RASTER_SUFFIXES, ".ldmr")

    def work(scene, update) -> str:
        result = compress_raster(
            scene.source, scene.target, quality=quality, tile=tile, overlap=overlap, bands=bands, model=model,
            device=device, value_range=tuple(value_range) if value_range else None,
            enhance=not no_enhancer, enhancer=enhancer, allow_empty=allow_empty, overwrite=overwrite,
            progress=update, jobs=jobs, workers=workers, precision=precision, scheduler=scheduler,
        )
        for note in result.notes:
            echo_err(f"note: {note}")
        clipped = sum(result.clipped)
        return (f"wrote {result.output} ({result.bytes} bytes, {result.bpp:.4f} bpp, {result.tiles} tiles"
                + (f", {clipped} values clipped to the stored range" if clipped else "") + ")")

    ctx.exit(run_jobs(ctx, scenes, work, "compress", lambda scene: _tiles(scene.source, tile, overlap)))


def _tiles(path, tile: int, overlap: int) -> int:
    """How many tiles a scene has (for the progress bar; 0 if it cannot be opened: it fails later)."""
    import rasterio

    from ldmrsic_core.errors import LdmrError
    from ldmrsic_core.tiling import TilePlan

    try:
        with rasterio.open(path) as src:
            return len(TilePlan(src.height, src.width, tile, overlap))
    except (rasterio.errors.RasterioError, OSError, LdmrError):  # an estimate: compress reports the problem
        return 0
