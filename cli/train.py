"""``ldmrsic-geo train`` and ``ldmrsic-geo train export``."""

from __future__ import annotations

from pathlib import Path

import click

from ldmrsic_cli.options import echo_err


@click.group(invoke_without_command=True)
@click.option("--tiles", type=click.Path(file_okay=False, path_type=Path), help="Folder of training tiles or images.")
@click.option("--stage", type=click.Choice(["codec", "prior", "ldm"]), default="codec", show_default=True,
              help="codec: the learned codec; prior: enhancement Stage I (LRM + MEN, codec frozen); "
                   "ldm: Stage II (LRM_DM + diffusion + MEN, from a Stage I run given by --init).")
@click.option("--source", type=click.Choice(["ldmrsic", "jpeg2000"]), default="ldmrsic", show_default=True,
              help="Enhancement stages: which codec makes the decoded images (our codec, or JPEG2000 for JPEG2000*).")
@click.option("--codec", "codec_model", default=None,
              help="Enhancement stages, --source ldmrsic: the frozen codec (name or path) "
                   "[default: the bundled default].")
@click.option("--init", "init_run", default=None,
              help="Warm start. --stage codec: an exported codec (name or weights file) whose weights the run "
                   "starts from (fresh optimisers, --warmup); --stage prior: a Stage I run or an exported enhancer; "
                   "--stage ldm (required): the Stage I run to start from, or an exported enhancer to fine-tune.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Enhancement stages: folder caching decoded images [default: pairs-cache next to --out].")
@click.option("--tiles-limit", type=int, default=0, help="Use this many training images only [default: all].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Run folder (checkpoints, CSV logs).")
@click.option("--config", "config_name", default=None,
              help="Model configuration [default: elic-small for codec, men-small for prior/ldm].")
@click.option("--steps", type=int, default=100_000, show_default=True, help="Total optimiser steps.")
@click.option("--batch", type=int, default=8, show_default=True, help="Batch size per process.")
@click.option("--crop", type=int, default=None,
              help="Random crop size, a multiple of 64 [default: 256 codec, 128 enhancement].")
@click.option("--lr", type=float, default=None, help="Peak learning rate [default: 1e-4 codec, 2e-4 enhancement].")
@click.option("--warmup", type=int, default=None, help="Linear warm-up steps [default: 500 codec, 200 enhancement].")
@click.option("--val", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of validation images (real compress/decompress per quality preset).")
@click.option("--val-every", type=int, default=1000, show_default=True)
@click.option("--val-limit", type=int, default=None,
              help="Validate on this many images only [default: all for codec, 42 enhancement].")
@click.option("--ckpt-every", type=int, default=500, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int, default=0, help="CPU threads [default: torch's choice].")
@click.option("--no-bf16", is_flag=True,
              help="Train in float32 [default: bf16 autocast on CUDA, and for the codec stage on CPUs with "
                   "AVX-512 BF16 or AMX too (its entropy model stays in float32)].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--qualities", type=float, nargs=2, default=None, metavar="LO HI",
              help="--stage codec: sample each step's quality uniformly in LO–HI only [default: 1 5] (for "
                   "example to give the high rates more steps); validation still covers every preset. "
                   "Enhancement stages (--source ldmrsic): train and validate at the presets in LO–HI only, "
                   "for a codec that codes only those (one for the top rates).")
@click.option("--top-weight", type=float, default=None, metavar="W",
              help="--stage codec: the upper half of the quality range gets W times the steps of the lower half "
                   "[default: 1, uniform] (the high rates learn slowest).")
@click.option("--single-band", type=float, default=None, metavar="F",
              help="--stage codec: a fraction F of the crops is one of their bands repeated three times, as "
                   "ldmrsic-geo codes a single-band raster (panchromatic, one spectral band) [default: 0].")
@click.option("--loss", type=click.Choice(["l1", "psnr"]), default=None,
              help="Enhancement stages: the output's loss, l1 (the paper's) or psnr (the mean per-crop PSNR, which "
                   "weighs every preset's crops alike) [default: l1].")
@click.pass_context
def train(ctx, tiles, stage, source, codec_model, init_run, cache, tiles_limit, out, config_name, steps, batch,
          crop, lr, warmup, val, val_every, val_limit, ckpt_every, device, threads, no_bf16, resume, seed, qualities,
          top_weight, single_band, loss):
    """Train a model (run under torchrun for several GPUs or machines)."""
    if ctx.invoked_subcommand is not None:
        return
    if tiles is None or out is None:
        raise click.UsageError("train needs --tiles DIR and --out RUN (or a subcommand such as export)")
    common = dict(tiles=str(tiles), out=str(out), steps=steps, batch=batch, val=str(val) if val else None,
                  val_every=val_every, ckpt_every=ckpt_every, seed=seed, device=device, bf16=not no_bf16,
                  threads=threads)
    given = {k: v for k, v in dict(crop=crop, lr=lr, warmup=warmup, val_limit=val_limit).items() if v is not None}
    if stage == "codec":
        if loss is not None:
            raise click.UsageError("--loss is for the enhancement stages (the codec trains on rate + distortion)")
        from ldmrsic_core.training.codec_trainer import CodecTrainer, TrainConfig
        from ldmrsic_core.zoo.configs import codec_config as check_config

        config_name = config_name or "elic-small"
        check_config(config_name)
        if qualities is not None:
            given["qualities"] = tuple(qualities)
        if top_weight is not None:
            given["top_weight"] = top_weight
        if single_band is not None:
            given["single_band"] = single_band
        trainer = CodecTrainer(TrainConfig(config=config_name, init=init_run, **common, **given), resume=resume)
    else:
        from ldmrsic_core.training.enhance_trainer import EnhanceConfig, EnhanceTrainer
        from ldmrsic_core.zoo.configs import enhancer_config as check_enhancer

        config_name = config_name or "men-small"
        check_enhancer(config_name)
        if qualities is not None:
            given["qualities"] = tuple(qualities)
        if loss is not None:
            given["loss"] = loss
        cfg = EnhanceConfig(stage=stage, source=source, codec=codec_model, init=str(init_run) if init_run else None,
                            cache=str(cache) if cache else "", tiles_limit=tiles_limit, config=config_name,
                            **common, **given)
        quiet = ctx.find_root().params.get("quiet")
        trainer = EnhanceTrainer(cfg, resume=resume, progress=not quiet)
    quiet = ctx.find_root().params.get("quiet")
    trainer.train(progress=not quiet)
    if trainer.rank == 0:
        echo_err(f"trained to step {trainer.step}; checkpoints in {out}")


@train.command("export")
@click.argument("run", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True, help="Name to load the model by (--model NAME).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Model folder [default: $LDMRSIC_GEO_MODELS or ~/.local/share/ldmrsic-geo/models].")
@click.option("--default", "make_default", is_flag=True, help="Make it the folder's default model.")
@click.option("--default-from", "default_from", type=float, default=None, metavar="Q",
              help="Make it the folder's default codec from quality Q up (a codec trained for the top rates); "
                   "below Q the --default model stays.")
@click.option("--notes", default="", help="What it was trained on, for `ldmrsic-geo models`.")
@click.option("--overwrite", is_flag=True, help="Replace a model of the same name.")
@click.option("--float16", is_flag=True,
              help="Store weight tensors in half precision (half the file; the model is the rounded one: "
                   "validate the exported file).")
def export(run, name, checkpoint, folder, make_default, default_from, notes, overwrite, float16):
    """Export a run's EMA weights as a named model (codec or enhancer; weights-only file, SHA-256 recorded)."""
    from ldmrsic_core.training.export import export_model

    path, digest = export_model(run, name, checkpoint=checkpoint, folder=folder, default=make_default,
                                default_from=default_from, notes=notes, overwrite=overwrite, float16=float16)
    from ldmrsic_core.zoo.table import read_model_table

    kind = read_model_table(path.parent)["models"][name].get("kind", "codec")
    echo_err(f"wrote {path} (SHA-256 {digest}); use it with {'--enhancer' if kind == 'enhancer' else '--model'} {name}")
