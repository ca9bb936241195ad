"""Rate–distortion training of one variable-rate codec for every quality preset.

Each step samples a quality q in [1, 5] (so fractional qualities are trained too; a run may narrow
the range, :attr:`TrainConfig.qualities`, and give its upper half more steps, :attr:`TrainConfig.top_weight`)
and minimises λ(q)·255²·MSE + bpp on random crops; CompressAI's auxiliary loss trains the
entropy bottleneck's quantiles with its own optimiser. An exponential moving average (EMA)
of the weights is kept and is what validation measures and export ships.

The main gradients are clipped to :data:`CLIP_NORM`, a guard against outliers that leaves normal
steps alone (on the campaign's codec their norm runs from about 0.4 at q1 to 11 at q5). Until
2026-12-06 the clip also counted the quantiles' gradient left over from the previous auxiliary step
(norm ~700), so every main gradient was scaled down by that norm, a scale no checkpoint held: the
first step after a resume was ~700× too large for Adam's moments and set the model back by
hundreds of steps. Such checkpoints resume with their moments rescaled (:func:`rescale_moments`).

Checkpoints, logs, resume and DDP come from :class:`~ldmrsic_core.training.run.TrainingRun`;
the checkpoint adds the model, EMA and both optimisers.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ldmrsic_core.errors import InputError
from ldmrsic_core.evaluation.psnr import psnr
from ldmrsic_core.models.codec import LAMBDAS, MAX_QUALITY, MIN_QUALITY, VariableRateElic, lambda_for_quality
from ldmrsic_core.tiling import STRIDE
from ldmrsic_core.training.data import TileSet
from ldmrsic_core.training.objective import rd_loss
from ldmrsic_core.training.run import TrainingRun
from ldmrsic_core.training.validation import ValidationSet, validate
from ldmrsic_core.training.widen import can_widen, widen_state_dict
from ldmrsic_core.zoo.configs import CODEC_CONFIGS, codec_config

#: Largest norm of the main parameters' gradient in one step (an outlier guard, not a step size).
CLIP_NORM = 100.0
#: How the checkpoint's gradients were clipped (checkpoints without it clipped with the stale quantile gradient).
CLIP_KIND = "main-parameters"


@dataclass(frozen=True)
class TrainConfig:
    tiles: str
    out: str
    config: str = "elic-small"
    steps: int = 100_000
    batch: int = 8
    crop: int = 256
    lr: float = 1e-4
    aux_lr: float = 1e-3
    warmup: int = 500
    ema_decay: float = 0.999
    val: str | None = None
    val_every: int = 1000
    val_limit: int = 0
    ckpt_every: int = 500
    seed: int = 0
    device: str = "auto"
    bf16: bool = True
    threads: int = 0
    init: str | None = None
    qualities: tuple[float, float] = (MIN_QUALITY, MAX_QUALITY)
    top_weight: float = 1.0  # sampling density of the upper half of `qualities` relative to the lower half
    single_band: float = 0.0  # fraction of crops made of one band repeated (TileSet.batch)


def sample_quality(rng: random.Random, low: float, high: float, top_weight: float = 1.0) -> float:
    """A quality in [low, high] whose upper half is ``top_weight`` times as likely per unit as its lower half.

    ``top_weight`` 1 draws exactly as a plain uniform draw does (earlier runs resume unchanged).
    """
    if top_weight == 1.0:
        return rng.uniform(low, high)
    middle = (low + high) / 2
    upper = rng.random() < top_weight / (1.0 + top_weight)
    return rng.uniform(middle, high) if upper else rng.uniform(low, middle)


class CodecTrainer(TrainingRun):
    stage = "codec"

    def __init__(self, cfg: TrainConfig, resume: bool = False):
        super().__init__(cfg)
        if cfg.crop % STRIDE or cfg.crop < STRIDE:
            raise InputError(f"--crop {cfg.crop} is invalid: use a multiple of {STRIDE}")
        low, high = cfg.qualities
        if not MIN_QUALITY <= low <= high <= MAX_QUALITY:
            raise InputError(f"--qualities {low:g} {high:g} is invalid: give LO ≤ HI within "
                             f"{MIN_QUALITY:g}–{MAX_QUALITY:g}")
        if not cfg.top_weight > 0:
            raise InputError(f"--top-weight {cfg.top_weight:g} is invalid: give a positive number (1 = uniform)")
        if not 0.0 <= cfg.single_band <= 1.0:
            raise InputError(f"--single-band {cfg.single_band:g} is invalid: give a fraction from 0 to 1")
        self.data = TileSet(Path(cfg.tiles), cfg.crop)
        self.val = ValidationSet(Path(cfg.val), cfg.val_limit) if cfg.val and self.rank == 0 else None
        self.net = codec_config(cfg.config).build()
        if cfg.init and not resume:
            self.net.load_state_dict(init_weights(cfg.init, cfg.config, self.net))
        # channels_last: oneDNN's fastest layout for these convolutions (measured, benchmarks/train_speed.py)
        self.net.to(self.device, memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        main = [p for n, p in self.net.named_parameters() if not n.endswith(".quantiles")]
        aux = [p for n, p in self.net.named_parameters() if n.endswith(".quantiles")]
        self.opt = torch.optim.Adam(main, lr=cfg.lr)
        self.aux_opt = torch.optim.Adam(aux, lr=cfg.aux_lr)
        self.model: nn.Module = self.net
        if self.world > 1:
            self.model = nn.parallel.DistributedDataParallel(self.net, find_unused_parameters=True)
        self.check_fresh_or_resume(resume)

    postfix = ("loss", "bpp_estimate", "psnr", "quality")

    def train_step(self, autocast: bool) -> dict[str, float]:
        cfg = self.cfg
        quality = sample_quality(self.rng, *cfg.qualities, cfg.top_weight)
        x = self.data.batch(cfg.batch, cfg.crop, self.rng, cfg.single_band).to(self.device, non_blocking=True)
        out = self.model(x.contiguous(memory_format=torch.channels_last), quality, bf16=autocast)
        losses = rd_loss(out, x, lambda_for_quality(quality))
        self.opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], CLIP_NORM)
        self.opt.step()
        aux_loss = self.net.aux_loss()
        self.aux_opt.zero_grad(set_to_none=True)
        aux_loss.backward()
        if self.world > 1:
            for p in self.aux_opt.param_groups[0]["params"]:
                dist.all_reduce(p.grad)
                p.grad /= self.world
        self.aux_opt.step()
        return {"quality": round(quality, 4), "loss": losses["loss"].item(), "bpp_estimate": losses["bpp"].item(),
                "psnr": psnr(losses["mse"].item()), "aux": aux_loss.item()}

    def validate(self) -> None:
        rows = validate(self.ema, self.val, self.device)
        for row in rows:
            self.log("val.csv", {"step": self.step, **row})
        score = sum(r["rd_loss"] for r in rows) / len(rows)
        if score < self.best:
            self.best = score
            self.save(self.out / "best.pt")

    def state(self) -> dict[str, Any]:
        return {"model": self.net.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                "aux_opt": self.aux_opt.state_dict(), "grad_clip": CLIP_KIND}

    def restore(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.aux_opt.load_state_dict(state["aux_opt"])
        if state.get("grad_clip") != CLIP_KIND:
            rescale_moments(self.opt, quantile_gradient_norm(self.net))


def quantile_gradient_norm(net: VariableRateElic) -> float:
    """The norm of the auxiliary loss's gradient on the quantiles: what a checkpoint written before
    2026-12-06 divided each main gradient by, where that norm dominated the clip (~700 against main
    norms of at most ~11 in every checkpoint of the codec campaign)."""
    quantiles = [p for n, p in net.named_parameters() if n.endswith(".quantiles")]
    grads = torch.autograd.grad(net.aux_loss(), quantiles)
    return float(torch.norm(torch.stack([g.norm() for g in grads])))


def rescale_moments(opt: torch.optim.Adam, scale: float) -> None:
    """Adam's moments as if its gradients had been ``scale`` times larger (its steps do not change)."""
    if scale <= 1.0:  # nothing to undo
        return
    for state in opt.state.values():
        state["exp_avg"].mul_(scale)
        state["exp_avg_sq"].mul_(scale * scale)


def init_weights(model: str, config_name: str, net: VariableRateElic | None = None) -> dict[str, torch.Tensor]:
    """The state dict of an exported codec (name or weights file) to warm-start ``config_name`` from.

    A codec of a narrower configuration is widened into ``net`` (:mod:`ldmrsic_core.training.widen`):
    the wider model starts computing what the trained one does."""
    from ldmrsic_core.zoo.registry import read_weights

    name, _, blob = read_weights(model)
    if blob.get("kind", "codec") != "codec":
        raise InputError(f"--init {model} is an enhancement model; the codec stage starts from a codec")
    state = blob["state_dict"]
    if blob.get("config") == config_name:
        return state
    trained = codec_config(blob.get("config", "")).build() if blob.get("config") in CODEC_CONFIGS else None
    if net is None or trained is None or not can_widen(trained, net):
        raise InputError(f"--init {name} is a {blob.get('config')} codec, not --config {config_name}, "
                         f"and cannot be widened into it: pass --config {blob.get('config')} or a "
                         f"configuration with at least its channels")
    trained.load_state_dict(state)
    return widen_state_dict(trained.state_dict(), trained, net)


__all__ = ["CLIP_NORM", "CodecTrainer", "TrainConfig", "LAMBDAS", "init_weights"]
