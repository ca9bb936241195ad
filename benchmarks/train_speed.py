"""Training iterations per second for model configurations (random crops, the real loss and optimisers).

    python benchmarks/train_speed.py [--configs elic-paper elic-small] [--batch 8] [--crop 256 128] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from ldmrsic_core.models.codec import lambda_for_quality
from ldmrsic_core.models.registry import config
from ldmrsic_core.training.objective import rd_loss


def steps_per_second(name: str, batch: int, crop: int, device: torch.device, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    net = config(name).build().to(device).train()
    opt = torch.optim.Adam([p for n, p in net.named_parameters() if not n.endswith(".quantiles")], lr=1e-4)
    aux = torch.optim.Adam([p for n, p in net.named_parameters() if n.endswith(".quantiles")], lr=1e-3)
    x = torch.rand(batch, 3, crop, crop, device=device)
    bf16 = device.type == "cuda"
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            out = net(x, 1 + (i % 5))
        loss = rd_loss(out, x, lambda_for_quality(1 + (i % 5)))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        a = net.aux_loss()
        aux.zero_grad()
        a.backward()
        aux.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["elic-paper", "elic-small"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, nargs="+", default=[256, 128])
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    device = torch.device(a.device)
    what = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    print(f"device: {what}; torch {torch.__version__}")
    print("config | batch | crop | steps/s | images/s")
    for name in a.configs:
        for crop in a.crop:
            sps = steps_per_second(name, a.batch, crop, device, a.steps, a.warmup)
            print(f"{name} | {a.batch} | {crop} | {sps:.3f} | {sps * a.batch:.2f}", flush=True)


if __name__ == "__main__":
    main()
