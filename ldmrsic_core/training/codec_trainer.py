"""Rate–distortion training of one variable-rate codec for every quality preset.

Each step samples a quality q uniformly in [1, 5] (so fractional qualities are trained too)
and minimises λ(q)·255²·MSE + bpp on random crops; CompressAI's auxiliary loss trains the
entropy bottleneck's quantiles with its own optimiser. An exponential moving average (EMA)
of the weights is kept and is what validation measures and export ships.

Checkpoints (``RUN/last.pt``, ``RUN/best.pt``) hold the model, EMA, both optimisers, the
schedule, the step and every RNG state, so ``--resume`` continues a killed run where its last
checkpoint left it. Under ``torchrun`` (WORLD_SIZE > 1) the model is wrapped in DDP (gloo on
CPU, NCCL on CUDA); rank 0 validates, logs and saves.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ldmrsic_core.errors import InputError
from ldmrsic_core.models.codec import LAMBDAS, MAX_QUALITY, MIN_QUALITY, lambda_for_quality
from ldmrsic_core.models.registry import config as codec_config
from ldmrsic_core.training.data import TileSet
from ldmrsic_core.training.objective import rd_loss
from ldmrsic_core.training.validation import ValidationSet, validate

CHECKPOINT_FORMAT = "ldmrsic-checkpoint"


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


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, constant, then a cosine decay to 1% over the last quarter of the steps."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    start = int(0.75 * cfg.steps)
    if step < start:
        return cfg.lr
    t = min(1.0, (step - start) / max(1, cfg.steps - start))
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


class CodecTrainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.rank, self.world = _distributed_setup()
        self.device = _device(cfg.device, self.rank)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if cfg.crop % 64 or cfg.crop < 64:
            raise InputError(f"--crop {cfg.crop} is invalid: use a multiple of 64")
        self.data = TileSet(Path(cfg.tiles), cfg.crop)
        self.val = ValidationSet(Path(cfg.val), cfg.val_limit) if cfg.val and self.rank == 0 else None
        torch.manual_seed(cfg.seed)
        self.net = codec_config(cfg.config).build().to(self.device)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        main = [p for n, p in self.net.named_parameters() if not n.endswith(".quantiles")]
        aux = [p for n, p in self.net.named_parameters() if n.endswith(".quantiles")]
        self.opt = torch.optim.Adam(main, lr=cfg.lr)
        self.aux_opt = torch.optim.Adam(aux, lr=cfg.aux_lr)
        self.model: nn.Module = self.net
        if self.world > 1:
            self.model = nn.parallel.DistributedDataParallel(self.net, find_unused_parameters=True)
        self.step = 0
        self.best = math.inf
        self.rng = random.Random(cfg.seed * 1000 + self.rank)
        self.board = _tensorboard(self.out) if self.rank == 0 else None
        if resume:
            self._load(self.out / "last.pt")
        elif (self.out / "last.pt").exists():
            raise InputError(f"{self.out} already holds a run; pass --resume to continue it or choose another --out")

    # -- the loop ---------------------------------------------------------------------------
    def train(self, progress: bool = True, until: int | None = None) -> None:
        """Train to ``cfg.steps`` (or stop early at step ``until``, with a checkpoint)."""
        from tqdm import tqdm

        cfg = self.cfg
        stop = min(cfg.steps, until or cfg.steps)
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not progress or self.rank != 0, unit="step")
        autocast = self.device.type == "cuda" and cfg.bf16
        started, first = time.time(), self.step
        while self.step < stop:
            for group in self.opt.param_groups:
                group["lr"] = learning_rate(cfg, self.step)
            quality = self.rng.uniform(MIN_QUALITY, MAX_QUALITY)
            x = self.data.batch(cfg.batch, cfg.crop, self.rng).to(self.device, non_blocking=True)
            self.net.train()
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                out = self.model(x, quality)
            losses = rd_loss(out, x, lambda_for_quality(quality))
            self.opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            self.opt.step()
            aux_loss = self.net.aux_loss()
            self.aux_opt.zero_grad(set_to_none=True)
            aux_loss.backward()
            if self.world > 1:
                for p in self.aux_opt.param_groups[0]["params"]:
                    dist.all_reduce(p.grad)
                    p.grad /= self.world
            self.aux_opt.step()
            self._update_ema()
            self.step += 1
            if self.rank == 0:
                psnr = -10 * math.log10(max(losses["mse"].item(), 1e-10))
                bar.set_postfix(loss=f"{losses['loss'].item():.3f}", bpp=f"{losses['bpp'].item():.3f}",
                                psnr=f"{psnr:.2f}", q=f"{quality:.2f}")
                bar.update(1)
                self._log("train.csv", {"step": self.step, "quality": round(quality, 4),
                                        "loss": losses["loss"].item(), "bpp_estimate": losses["bpp"].item(),
                                        "psnr": psnr, "aux": aux_loss.item(),
                                        "steps_per_s": (self.step - first) / (time.time() - started)})
                if self.val and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                    self._validate()
                if self.step % cfg.ckpt_every == 0 or self.step == stop:
                    self._save(self.out / "last.pt")
        bar.close()
        if self.board is not None:
            self.board.flush()
        if self.world > 1:
            dist.barrier()

    def _update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(p.detach(), 1 - decay)
            for e, b in zip(self.ema.buffers(), self.net.buffers()):
                e.copy_(b)

    def _validate(self) -> None:
        rows = validate(self.ema, self.val, self.device)
        for row in rows:
            self._log("val.csv", {"step": self.step, **row})
        score = sum(r["rd_loss"] for r in rows) / len(rows)
        if score < self.best:
            self.best = score
            self._save(self.out / "best.pt")

    # -- checkpoints -------------------------------------------------------------------------
    def _save(self, path: Path) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(self.cfg),
            "step": self.step,
            "best": self.best,
            "model": self.net.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "aux_opt": self.aux_opt.state_dict(),
            "schedule": {"kind": "warmup-constant-cosine", "steps": self.cfg.steps, "warmup": self.cfg.warmup},
            "rng": {"python": self.rng.getstate(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }
        tmp = path.with_name(path.name + ".part")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise InputError(f"nothing to resume: {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise InputError(f"{path} is not an ldmrsic-geo training checkpoint")
        if state["config"]["config"] != self.cfg.config:
            raise InputError(f"{path} trains {state['config']['config']}, not --config {self.cfg.config}")
        self.net.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.aux_opt.load_state_dict(state["aux_opt"])
        self.step, self.best = int(state["step"]), float(state["best"])
        self.rng.setstate(_as_rng_state(state["rng"]["python"]))
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])

    def _log(self, name: str, row: dict[str, Any]) -> None:
        """Append a row to RUN/NAME (CSV) and, when TensorBoard is installed, to RUN/tensorboard."""
        if self.board is not None:
            prefix = name.removesuffix(".csv")
            tag = f"q{row['quality']:g}/" if prefix == "val" else ""
            for key, value in row.items():
                if key not in ("step", "quality"):
                    self.board.add_scalar(f"{prefix}/{tag}{key}", value, row["step"])
        path = self.out / name
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


def _tensorboard(out: Path) -> Any:
    """A SummaryWriter when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _as_rng_state(state: Any) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _distributed_setup() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _device(name: str, rank: int) -> torch.device:
    from ldmrsic_core.device import resolve_device

    device = resolve_device(name)
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


__all__ = ["CodecTrainer", "TrainConfig", "learning_rate", "LAMBDAS"]
