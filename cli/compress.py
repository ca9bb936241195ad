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
@click.option("--bpp", type=float, default=None,
              help="Target file size in bits per valid pixel (all bands together): the quality is chosen by a "
                   "search on a sample of the scene (instead of --quality).")
@click.option("--ratio", type=float, default=None,
              help="Target compression ratio, uncompressed bytes of the coded bands / file bytes (20 = 20:1).")
@click.option("--psnr", "psnr_db", type=float, default=None,
              help="Target PSNR in dB after decoding (enhanced as the file says), at the data's peak (255 for "
                   "8-bit data, else each band's range), over valid pixels; estimated on the sample.")
@click.option("--tile", type=int, default=defaults.TILE, show_default=True,
              help=f"Tile size in pixels, a multiple of {defaults.TILE_MULTIPLE}.")
@click.option("--overlap", type=int, default=defaults.OVERLAP, show_default=True,
              help="Overlap of neighbouring tiles in pixels: 0 joins the tiles (each coded and decoded "
                   "with its neighbours around it: no seams, fewer bytes); more blends tiles coded alone.")
@click.option("--bands", default=None, help="Bands to keep, in order, e.g. 4,3,2 [default: all].")
@click.option("--value-range", nargs=2, type=float, default=None, metavar="LO HI",
              help="Map values LO..HI to the codec range for every band (others are clipped) "
                   "[default: 0–255 for 8-bit data, else each band's valid min–max].")
@click.option("--value-curve", type=click.Choice(defaults.VALUE_CURVES), default=defaults.VALUE_CURVE,
              show_default=True,
              help="How a band wider than 8 bits maps to the codec range without --value-range: 'fitted' through a "
                   "curve fitted to its values (common values get more of the range, rare extremes less; none is "
                   "clipped), 'linear' from its valid min to max.")
@click.option("--refine", type=click.IntRange(0, defaults.MAX_REFINE), default=defaults.REFINE, show_default=True,
              metavar="STEPS",
              help="Encoder effort: optimise each tile's latent for STEPS steps before coding, for a smaller file "
                   "at the same quality (5: about 2% fewer bits at equal PSNR on aerial RGB, for about 10 times the "
                   "encoding time; 0: off). Decoding is unchanged.")
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
def compress(ctx, inputs, output, out_dir, quality, bpp, ratio, psnr_db, tile, overlap, bands, value_range, value_curve,
             refine, model, enhancer, no_enhancer, allow_empty, device, precision, jobs, workers, scheduler, tile_batch,
             overwrite):
    """Compress rasters (GeoTIFF or any GDAL raster) into .ldmr files.

    The file names the enhancement model decoding will apply (by default the installed one
    trained for the codec; it costs no bits), so it always decodes to the same pixels.
    INPUT may be several files, folders (searched for rasters) or quoted globs: one progress bar,
    a line per scene and a total; a scene that fails does not stop the others (exit status 1).
    """
    from ldmrsic_core import compress_raster
    from ldmrsic_core.errors import InputError
    from ldmrsic_core.inputs import RASTER_SUFFIXES
    from ldmrsic_core.pipeline.targets import parse_target

    target = parse_target(bpp, ratio, psnr_db)
    if target is not None and ctx.get_parameter_source("quality") != click.core.ParameterSource.DEFAULT:
        raise InputError(f"give --quality or --{target.kind}, not both")
    scenes = plan_jobs(inputs, output, out_dir, RASTER_SUFFIXES, ".ldmr")

    def work(scene, update) -> str:
        result = compress_raster(
            scene.source, scene.target, quality=quality, tile=tile, overlap=overlap, bands=bands, model=model,
            device=device, value_range=tuple(value_range) if value_range else None, value_curve=value_curve,
            enhance=not no_enhancer, enhancer=enhancer, allow_empty=allow_empty, overwrite=overwrite,
            progress=update, jobs=jobs, workers=workers, precision=precision, scheduler=scheduler, target=target,
            tile_batch=tile_batch, refine=refine,
        )
        for note in result.notes:
            echo_err(f"note: {note}")
        return summary(result)

    ctx.exit(run_jobs(ctx, scenes, work, "compress", lambda scene: _tiles(scene.source, tile, overlap)))


def summary(result) -> str:
    """The line a compressed scene gets: real size and rate; with a target, what was chosen for it."""
    clipped = sum(result.clipped)
    valid = result.valid_pixels if result.valid_pixels is not None else result.pixels
    rate = f"{result.valid_bpp:.4f} bpp" + (" over valid pixels" if valid < result.pixels else "")
    chosen = ""
    if result.target is not None:
        t = result.target
        quality = f", {t.estimate.psnr:.2f} dB estimated" if t.estimate.psnr is not None else ""
        chosen = (f", quality {t.quality:.2f} for {t.target}{quality} (search: {t.tries} tries on {t.crops} "
                  f"crops, {t.seconds:.1f} s)")
    return (f"wrote {result.output} ({result.bytes} bytes, {rate}, {result.ratio:.1f}:1{chosen}, {result.tiles} tiles"
            + (f", {clipped} values clipped to the stored range" if clipped else "") + ")")


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
