"""What every training stage shares: a run folder, EMA, learning-rate schedule, CSV/TensorBoard
logs, checkpoints with every RNG state (so ``--resume`` continues exactly), and DDP setup.

A checkpoint is ``{"format", "config", "step", "best", "schedule", "rng", ...}`` plus the
stage's own entries (model, EMA, optimisers), written atomically to ``RUN/last.pt`` and
``RUN/best.pt``. Under ``torchrun`` (WORLD_SIZE > 1) rank 0 validates, logs and saves.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ldmrsic_core.errors import InputError
from ldmrsic_core.outputs import check_folder_writable

CHECKPOINT_FORMAT = "ldmrsic-checkpoint"


def learning_rate(peak: float, warmup: int, steps: int, step: int) -> float:
    """Linear warm-up, constant, then a cosine decay to 1% over the last quarter of the steps."""
    if step < warmup:
        return peak * (step + 1) / warmup
    start = int(0.75 * steps)
    if step < start:
        return peak
    t = min(1.0, (step - start) / max(1, steps - start))
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


class TrainingRun:
    """Base of the stage trainers; ``cfg`` is a frozen dataclass with out, seed, device, threads…

    A stage sets ``net``, ``ema``, ``opt`` and ``val`` and implements :meth:`train_step`,
    :meth:`validate`, :meth:`state` and :meth:`restore`; the loop here does the rest.
    """

    stage = ""
    postfix: tuple[str, ...] = ("loss",)  # train-row keys shown on the progress bar

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.out = Path(cfg.out)
        check_folder_writable(self.out)
        self.rank, self.world = distributed_setup()
        self.device = training_device(cfg.device, self.rank)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.step = 0
        self.best = math.inf
        self.validation_due = False  # this step's validation has not finished (an interrupt came during it)
        self.rng = random.Random(cfg.seed * 1000 + self.rank)
        self.board = None  # opened by start(): a run that fails its checks leaves no folder

    def check_fresh_or_resume(self, resume: bool) -> None:
        if resume:
            self.load(self.out / "last.pt")
            if self.rank == 0:
                self.trim_logs()
        elif (self.out / "last.pt").exists():
            raise InputError(f"{self.out} already holds a run; pass --resume to continue it or choose another --out")

    def start(self) -> None:
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            if self.board is None:
                self.board = _tensorboard(self.out)
            (self.out / "config.json").write_text(json.dumps({"stage": self.stage, **asdict(self.cfg)}, indent=2))

    # -- the loop ---------------------------------------------------------------------------
    def train(self, progress: bool = True, until: int | None = None) -> None:
        """Train to ``cfg.steps`` (or stop early at step ``until``, with a checkpoint). Ctrl-C or
        SIGTERM (through the CLI) stops it cleanly: the last finished step is checkpointed first."""
        try:
            self._train(progress, until)
        except KeyboardInterrupt:
            if self.rank == 0 and self.step > 0:
                self.save(self.out / "last.pt")
            raise

    def _train(self, progress: bool, until: int | None) -> None:
        from tqdm import tqdm

        cfg = self.cfg
        stop = min(cfg.steps, until or cfg.steps)
        self.start()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not progress or self.rank != 0, unit="step")
        autocast = cfg.bf16 and bf16_supported(self.device)
        started, first = time.time(), self.step
        if self.validation_due and self.rank == 0:  # a resume at a step whose validation was interrupted
            self.run_validation()
        while self.step < stop:
            self.set_lr(self.opt)
            self.net.train()
            row = self.train_step(autocast)
            self.update_ema(self.ema, self.net)
            self.step += 1
            if self.rank == 0:
                row = {"step": self.step, **row, "steps_per_s": (self.step - first) / (time.time() - started)}
                bar.set_postfix({k: f"{row[k]:.4g}" for k in self.postfix})
                bar.update(1)
                self.log("train.csv", row)
                if self.val and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                    self.run_validation()
                if self.step % cfg.ckpt_every == 0 or self.step == stop:
                    self.save(self.out / "last.pt")
        bar.close()
        self.finish()

    def train_step(self, autocast: bool) -> dict[str, float]:
        """One optimiser step; returns the figures to log (the first one is ``loss``)."""
        raise NotImplementedError

    def validate(self) -> None:
        """Validate the EMA weights, log ``val.csv`` and keep ``best.pt``."""
        raise NotImplementedError

    def run_validation(self) -> None:
        """Validate now; until it finishes the step's checkpoint says so, so a resume redoes it."""
        self.validation_due = True
        if self.val:
            self.validate()
        self.validation_due = False

    def set_lr(self, optimizer: torch.optim.Optimizer) -> None:
        cfg = self.cfg
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg.lr, cfg.warmup, cfg.steps, self.step)

    def update_ema(self, ema: nn.Module, net: nn.Module) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), net.parameters()):
                e.lerp_(p.detach(), 1 - decay)
            for e, b in zip(ema.buffers(), net.buffers()):
                e.copy_(b)

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The stage's own entries (model, EMA, optimisers); subclasses extend."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Load the stage's own entries; subclasses extend."""

    def save(self, path: Path) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "stage": self.stage,
            "config": asdict(self.cfg),
            "step": self.step,
            "best": self.best,
            "validation_due": self.validation_due,
            "schedule": {"kind": "warmup-constant-cosine", "steps": self.cfg.steps, "warmup": self.cfg.warmup},
            "rng": {"python": self.rng.getstate(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            **self.state(),
        }
        tmp = path.with_name(path.name + ".part")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        state = read_checkpoint(path)
        if state.get("stage", "codec") != self.stage:
            raise InputError(f"{path} is a {state.get('stage', 'codec')} run, not --stage {self.stage}")
        if state["config"]["config"] != self.cfg.config:
            raise InputError(f"{path} trains {state['config']['config']}, not --config {self.cfg.config}")
        self.restore(state)
        self.step, self.best = int(state["step"]), float(state["best"])
        self.validation_due = bool(state.get("validation_due", False))
        version, internal, gauss = state["rng"]["python"]
        self.rng.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])

    # -- logs --------------------------------------------------------------------------------
    def log(self, name: str, row: dict[str, Any]) -> None:
        """Append a row to RUN/NAME (CSV) and, when TensorBoard is installed, to RUN/tensorboard."""
        if self.board is not None:
            prefix = name.removesuffix(".csv")
            tag = f"q{row['quality']:g}/" if prefix == "val" and "quality" in row else ""
            for key, value in row.items():
                if key not in ("step", "quality") and isinstance(value, (int, float)):
                    self.board.add_scalar(f"{prefix}/{tag}{key}", value, row["step"])
        path = self.out / name
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def trim_logs(self) -> None:
        """Drop the rows of steps the checkpoint has not kept (a run killed between checkpoints logged
        steps it will train again; an interrupted validation may have logged part of its step), so a
        resumed run logs every step once."""
        _keep_rows_up_to(self.out / "train.csv", self.step)
        _keep_rows_up_to(self.out / "val.csv", self.step - 1 if self.validation_due else self.step)

    def finish(self) -> None:
        if self.board is not None:
            self.board.flush()
        if self.world > 1:
            dist.barrier()


def _keep_rows_up_to(path: Path, last_step: int) -> None:
    """Rewrite a log CSV (``step`` first) without the rows after ``last_step`` or a torn last line."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    if len(lines) < 2:
        return
    header, rows = lines[0], lines[1:]

    def kept(line: str) -> bool:
        step = line.split(",", 1)[0]
        return line.endswith("\n") and step.isdigit() and int(step) <= last_step

    keep = [line for line in rows if kept(line)]
    if len(keep) < len(rows):
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(header + "".join(keep))
        os.replace(tmp, path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path} does not exist; is it a training run folder?")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not an ldmrsic-geo training checkpoint")
    return state


def _tensorboard(out: Path) -> Any:
    """A SummaryWriter when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def distributed_setup() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def bf16_supported(device: torch.device) -> bool:
    """bf16 autocast pays on CUDA and on CPUs with native bf16 (AVX-512 BF16 or AMX), not elsewhere."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def training_device(name: str, rank: int) -> torch.device:
    from ldmrsic_core.device import resolve_device

    device = resolve_device(name)
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device
