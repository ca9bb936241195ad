"""``ldmrsic-geo models``."""

from __future__ import annotations

import json

import click


@click.group(invoke_without_command=True)
@click.pass_context
def models(ctx):
    """List model configurations and the named models (bundled and exported).

    Each bundled model names the package that ships its weights: earlier models, which files written
    with them still need, ship in the volumes of ldmrsic-geo-archive ("installed": false until installed)."""
    if ctx.invoked_subcommand is not None:
        return
    from ldmrsic_core.zoo import configs as enh
    from ldmrsic_core.zoo.configs import CODEC_CONFIGS as CONFIGS
    from ldmrsic_core.zoo.configs import DEFAULT_CODEC_CONFIG as DEFAULT_CONFIG
    from ldmrsic_core.zoo.table import default_model, default_models, named_weights, no_model_message

    top_from = {name: q for q, name in default_models()[1:]}  # codecs for the top rates: the quality they start at
    listing = {
        "configurations": {
            name: {"N": c.N, "M": c.M, "groups": list(c.groups), "parameters": _parameters(c),
                   "default": name == DEFAULT_CONFIG, "summary": c.summary}
            for name, c in CONFIGS.items()
        },
        "enhancer_configurations": {
            name: {"channels": list(c.channels), "blocks": list(c.blocks), "prior_tokens_dim": c.prior_dim,
                   "prior_levels": list(c.prior_levels), "diffusion_steps": c.steps, "parameters": _parameters(c),
                   "default": name == enh.DEFAULT_ENHANCER_CONFIG, "summary": c.summary}
            for name, c in enh.ENHANCER_CONFIGS.items()
        },
        "models": {w.name: {"kind": w.kind, "config": w.config, "sha256": w.sha256, "path": str(w.path),
                            "bytes": w.path.stat().st_size if w.installed else None, "bundled": w.bundled,
                            "installed": w.installed, "package": w.package or ("ldmrsic-geo" if w.bundled else None),
                            "default": w.name == default_model(), "notes": w.notes,
                            **({"default_from_quality": top_from[w.name]} if w.name in top_from else {}),
                            **({"source": w.source, "codec_sha256": w.codec_sha256} if w.kind == "enhancer" else {})}
                   for w in named_weights().values()},
    }
    click.echo(json.dumps(listing, indent=2))
    if not default_model():
        click.echo(no_model_message(), err=True)


@models.command("init")
@click.argument("config")
@click.option("--output", "-o", required=True, help="Weights file to write.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--source", type=click.Choice(["ldmrsic", "jpeg2000"]), default="ldmrsic", show_default=True,
              help="Enhancer configurations: what it restores.")
@click.option("--codec", default=None, help="Enhancer configurations, --source ldmrsic: the codec it pairs with.")
@click.option("--overwrite", is_flag=True, help="Replace the output if it exists.")
def init(config, output, seed, source, codec, overwrite):
    """Write UNTRAINED (randomly initialised) weights of CONFIG, for testing the pipeline only.

    Random codec weights code and decode exactly, but the pictures they give back are poor.
    """
    from pathlib import Path

    import torch

    from ldmrsic_core.outputs import atomic_output
    from ldmrsic_core.zoo import configs as enh
    from ldmrsic_core.zoo.configs import codec_config as get_config
    from ldmrsic_core.zoo.registry import read_weights, save_weights

    extra = None
    if config in enh.ENHANCER_CONFIGS:
        cfg = enh.ENHANCER_CONFIGS[config]
        codec_sha = read_weights(codec)[1] if source == "ldmrsic" else None
        extra = {"kind": "enhancer", "source": source, "codec_sha256": codec_sha}
    else:
        cfg = get_config(config)
    torch.manual_seed(seed)
    with atomic_output(Path(output), overwrite) as tmp:
        digest = save_weights(cfg.build().eval(), cfg.name, tmp, name=Path(output).stem, trained=False,
                              notes=f"random initialisation, seed {seed}", extra=extra)
    click.echo(f"wrote {output} (untrained {cfg.name}, SHA-256 {digest})", err=True)


def _parameters(cfg) -> int:
    return sum(p.numel() for p in cfg.build().parameters())
