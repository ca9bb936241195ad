"""Training the enhancement: Stage I (``prior``) and Stage II (``ldm``) of LDM-RSIC.

* Stage I — the source codec is frozen (X̃ comes from :mod:`pairs`); LRM and MEN learn with
  ``L1(MEN(X̃, LRM(X̃, X)), X)``. A configuration without prior trains plain MEN the same way.
* Stage II — initialised from a Stage I run (``init``; LRM_DM from LRM's weights for X̃) or from an
  exported enhancer (all of it, to fine-tune for a new codec): LRM stays frozen as the teacher; MEN,
  LRM_DM and the denoiser learn with
  ``L1(MEN(X̃, F̂), X) + L1(F̂, F)``, F̂ from the full T-step reverse chain started at q(F_T | F).

One model for every level of the source, conditioned on it: the quality for our codec (the
decoder knows it from the file; fractional qualities interpolate), the real bit rate for
JPEG2000 (at enhance time, the JPEG2000 file's size).
``init`` with ``stage="prior"`` warm-starts from another Stage I run.
Validation measures PSNR of X̃, of the teacher (Stage I, the ceiling) and of the seeded
decode-time path (Stage II) per level; ``best.pt`` keeps the best mean of the stage's own output.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ldmrsic_core.enhance.enhancer import Enhancer, load_enhancer_state
from ldmrsic_core.errors import InputError
from ldmrsic_core.evaluation.psnr import psnr
from ldmrsic_core.tiling import STRIDE
from ldmrsic_core.training.deepen import can_deepen, deepen
from ldmrsic_core.training.pairs import CODEC_LEVELS, PairSet, make_source
from ldmrsic_core.training.run import TrainingRun, read_checkpoint
from ldmrsic_core.zoo.configs import enhancer_config

STAGES = ("prior", "ldm")
OUTPUT_LOSSES = ("l1", "psnr")


@dataclass(frozen=True)
class EnhanceConfig:
    tiles: str
    out: str
    stage: str = "prior"
    source: str = "ldmrsic"
    codec: str | None = None
    cache: str = ""
    init: str | None = None
    config: str = "men-small"
    steps: int = 20_000
    batch: int = 8
    crop: int = 128
    lr: float = 2e-4
    warmup: int = 200
    ema_decay: float = 0.999
    tiles_limit: int = 0
    val: str | None = None
    val_every: int = 500
    val_limit: int = 42
    ckpt_every: int = 250
    seed: int = 0
    device: str = "auto"
    bf16: bool = True
    threads: int = 0
    qualities: tuple[float, float] | None = None  # --source ldmrsic: train on the presets in LO–HI only
    loss: str = "l1"  # the output's loss: l1 (the paper's) or psnr (mean per-crop PSNR, the validation's measure)


def _levels(cfg: EnhanceConfig) -> tuple[float, ...] | None:
    """The quality presets to train and validate at (None: all), for an enhancer of a codec that
    codes some qualities only (a codec for the top rates)."""
    if cfg.qualities is None:
        return None
    lo, hi = cfg.qualities
    levels = tuple(q for q in CODEC_LEVELS if lo <= q <= hi)
    if cfg.source != "ldmrsic" or not levels:
        raise InputError(f"--qualities {lo:g} {hi:g}: enhancers of our codec only, and the range must hold a "
                         f"quality preset ({', '.join(f'{q:g}' for q in CODEC_LEVELS)})")
    return levels


def psnr_loss(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``--loss psnr``: the mean over crops of log(MSE), as the mean PSNR counts it: each crop's error weighs
    relative to its own level (L1 gives every pixel the same pull whatever its preset), scaled by half the
    batch's RMS error so that its gradients are about L1's size next to the prior's L1."""
    mse = (out.float() - x.float()).pow(2).flatten(1).mean(1) + 1e-10
    return 0.5 * mse.detach().sqrt().mean() * mse.log().mean()


class _StageLoss(nn.Module):
    """The stage's loss as a module, so DDP can wrap it."""

    def __init__(self, net: Enhancer, stage: str, output: str):
        super().__init__()
        self.net, self.stage, self.output = net, stage, output

    def output_terms(self, out: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The output's loss to train on, and its L1 to log (the same tensor under ``--loss l1``)."""
        l1 = F.l1_loss(out, x)
        return (l1 if self.output == "l1" else psnr_loss(out, x)), l1.detach()

    def forward(self, x: torch.Tensor, decoded: torch.Tensor, noise: torch.Tensor | None,
                level: torch.Tensor | None) -> dict[str, torch.Tensor]:
        net = self.net
        if self.stage == "prior":
            loss, l1 = self.output_terms(net.men(decoded, net.teacher_prior(decoded, x, level), level), x)
            return {"loss": loss, "l1": l1}
        with torch.no_grad():
            target = net.teacher_prior(decoded, x, level)
        prior = net.student_prior(decoded, net.diffusion.noised(target, noise), level)
        loss, l1 = self.output_terms(net.men(decoded, prior, level), x)
        prior_l1 = F.l1_loss(prior, target)
        return {"loss": loss + prior_l1, "l1": l1, "prior_l1": prior_l1.detach()}


class EnhanceTrainer(TrainingRun):
    def __init__(self, cfg: EnhanceConfig, resume: bool = False, progress: bool = True):
        self.stage = cfg.stage
        if cfg.stage not in STAGES:
            raise InputError(f"--stage {cfg.stage} is not an enhancement stage ({', '.join(STAGES)})")
        if cfg.loss not in OUTPUT_LOSSES:
            raise InputError(f"--loss {cfg.loss} is not an enhancer loss ({', '.join(OUTPUT_LOSSES)})")
        super().__init__(cfg)
        if cfg.crop % STRIDE or cfg.crop < STRIDE:
            raise InputError(f"--crop {cfg.crop} is invalid: use a multiple of {STRIDE}")
        self.net = enhancer_config(cfg.config).build()
        if cfg.stage == "prior" and cfg.init:  # warm start from another Stage I run or an exported enhancer
            load_enhancer_state(self.net, self._init_weights(cfg.init))
        if cfg.stage == "ldm":
            if not self.net.uses_prior:
                raise InputError(f"{cfg.config} has no prior, so it has no Stage II; train it with --stage prior")
            if not cfg.init:
                raise InputError("--stage ldm starts from a Stage I run or an exported enhancer: pass --init RUN "
                                 "or --init ENHANCER")
            if Path(cfg.init).is_dir():
                self._init_from_stage_one(Path(cfg.init))
            else:  # an exported enhancer: its trained LRM_DM and denoiser go on learning (a new codec's fine-tune)
                load_enhancer_state(self.net, self._init_weights(cfg.init))
        self.net.to(self.device)
        source = make_source(cfg.source, cfg.codec, cfg.device, _levels(cfg))
        self.codec_sha256 = source.codec_sha256
        cache = Path(cfg.cache) if cfg.cache else Path(cfg.out).parent / "pairs-cache"
        if self.world > 1 and self.rank != 0:
            dist.barrier()  # rank 0 fills the cache first; the others then read it
        self.data = PairSet(Path(cfg.tiles), source, cache, limit=cfg.tiles_limit, progress=progress and self.rank == 0)
        if self.world > 1 and self.rank == 0:
            dist.barrier()
        self.val = None
        if cfg.val and self.rank == 0:
            self.val = PairSet(Path(cfg.val), source, cache, limit=cfg.val_limit, progress=progress)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        self.opt = torch.optim.Adam(self._trainable(), lr=cfg.lr)
        self.loss: nn.Module = _StageLoss(self.net, cfg.stage, cfg.loss)
        if self.world > 1:
            self.loss = nn.parallel.DistributedDataParallel(self.loss, find_unused_parameters=True)
        self.check_fresh_or_resume(resume)

    def _trainable(self) -> list[nn.Parameter]:
        net = self.net
        if self.stage == "prior":
            parts: list[nn.Module] = [net.men] + ([net.lrm] if net.uses_prior else [])
        else:
            net.lrm.requires_grad_(False)
            parts = [net.men, net.lrm_dm, net.diffusion]
        return [p for part in parts for p in part.parameters()]

    def _init_weights(self, init: str) -> dict[str, torch.Tensor]:
        """Starting weights: a Stage I run folder's EMA, or an exported enhancer (name or file; it holds
        the teacher LRM and Stage II's networks too) — for a new codec, the enhancer of the previous one."""
        if Path(init).is_dir():
            return self._init_state(Path(init))["ema"]
        from ldmrsic_core.zoo.enhancers import load_enhancer

        loaded = load_enhancer(init)
        if loaded.source != self.cfg.source:
            raise InputError(f"--init {init} restores {loaded.source} output, not {self.cfg.source}")
        if loaded.config.name == self.cfg.config:
            return loaded.model.state_dict()
        deeper = enhancer_config(self.cfg.config)
        if not can_deepen(loaded.config, deeper):
            raise InputError(f"--init {init} is a {loaded.config.name} enhancer, not {self.cfg.config} "
                             f"(nor {loaded.config.name} with more blocks)")
        net = deeper.build()
        deepen(net, loaded.model.state_dict(), loaded.config)  # new blocks start as identities
        return net.state_dict()

    def _init_state(self, run: Path) -> dict[str, Any]:
        state = read_checkpoint(run / "best.pt" if (run / "best.pt").is_file() else run / "last.pt")
        if state.get("stage") != "prior" or state["config"]["config"] != self.cfg.config:
            raise InputError(f"--init {run} is not a Stage I (--stage prior) run of {self.cfg.config}")
        if state["config"]["source"] != self.cfg.source:
            raise InputError(f"--init {run} was trained on {state['config']['source']} output, not {self.cfg.source}")
        return state

    def _init_from_stage_one(self, run: Path) -> None:
        load_enhancer_state(self.net, self._init_state(run)["ema"])
        # LRM_DM = LRM without the X branch: copy every weight, and the X̃ half of the first conv.
        student = self.net.lrm_dm.state_dict()
        for key, value in self.net.lrm.state_dict().items():
            same = value.shape == student[key].shape
            student[key] = value.clone() if same else value[:, : student[key].shape[1]].clone()
        self.net.lrm_dm.load_state_dict(student)

    def train_step(self, autocast: bool) -> dict[str, float]:
        cfg = self.cfg
        x, decoded, level = (t.to(self.device, non_blocking=True)
                             for t in self.data.batch(cfg.batch, cfg.crop, self.rng))
        noise = None
        if self.stage == "ldm":
            noise = torch.randn(self.net.noise_shape(x.shape[0], *x.shape[-2:])).to(self.device)
        # bf16 on CUDA only: on the CPU the enhancer has always trained in float32 (every shipped one did; this
        # line named "cuda" whatever the device, which CPU torch turned off with a warning), unmeasured in bf16
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast and self.device.type == "cuda"):
            losses = self.loss(x, decoded, noise, level)
        self.opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], 1.0)
        self.opt.step()
        return {k: v.item() for k, v in losses.items()}

    def validate(self) -> None:
        rows = validate_enhancer(self.ema, self.val, self.device)
        for row in rows:
            self.log("val.csv", {"step": self.step, **row})
        key = "psnr_teacher" if self.stage == "prior" else "psnr_enhanced"
        score = -sum(r[key] for r in rows) / len(rows)
        if score < self.best:
            self.best = score
            self.save(self.out / "best.pt")

    def state(self) -> dict[str, Any]:
        return {"model": self.net.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                "codec_sha256": self.codec_sha256, "conditioned": True}

    def restore(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return psnr(torch.mean((a - b) ** 2).item())


@torch.no_grad()
def validate_enhancer(net: Enhancer, pairs: PairSet, device: torch.device) -> list[dict[str, float]]:
    """Per level: mean bpp of the source, PSNR of X̃, of the teacher (Stage I) and of decode-time enhancement.

    Decode-time enhancement is seeded by the image's position in the set, as decoding seeds tiles.
    """
    net.eval()
    rows = []
    for li, level in enumerate(pairs.source.levels):
        sums = {"bpp": 0.0, "psnr_decoded": 0.0, "psnr_teacher": 0.0, "psnr_enhanced": 0.0}
        for i, (x8, versions) in enumerate(zip(pairs.originals, pairs.decoded)):
            lv = pairs.source.level_value(li, pairs.bpp[i][li])
            x = torch.from_numpy(x8)[None].float().div(255).to(device)
            d = torch.from_numpy(versions[li])[None].float().div(255).to(device)
            sums["bpp"] += pairs.bpp[i][li]
            sums["psnr_decoded"] += _psnr(d, x)
            sums["psnr_teacher"] += _psnr(_to_8bit(net.enhance_with_teacher(d, x, lv)), x)
            sums["psnr_enhanced"] += _psnr(_to_8bit(net.enhance(d, [i], lv)), x)
        rows.append({"level": level, **{k: v / len(pairs) for k, v in sums.items()}})
    return rows


def _to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Quantise as an 8-bit output would be."""
    return (x * 255).round() / 255
