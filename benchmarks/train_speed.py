"""Training iterations per second for model configurations (random crops, the real loss and optimisers).

    python benchmarks/train_speed.py [--configs elic-paper elic-small] [--batch 8] [--crop 256 128] [--device cpu]
        [--precision fp32 bf16] [--channels-last] [--threads N]

bf16 is autocast of the analysis and synthesis transforms, as the trainer runs it (on the CPU
too: oneDNN uses AVX-512 BF16 / AMX where the CPU has them); pixels/s compares crops.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from ldmrsic_core.models.codec import lambda_for_quality
from ldmrsic_core.training.objective import rd_loss
from ldmrsic_core.zoo.configs import codec_config as config


def steps_per_second(name: str, batch: int, crop: int, device: torch.device, steps: int, warmup: int,
                     bf16: bool = False, channels_last: bool = False) -> float:
    torch.manual_seed(0)
    net = config(name).build().to(device).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    opt = torch.optim.Adam([p for n, p in net.named_parameters() if not n.endswith(".quantiles")], lr=1e-4)
    aux = torch.optim.Adam([p for n, p in net.named_parameters() if n.endswith(".quantiles")], lr=1e-3)
    x = torch.rand(batch, 3, crop, crop, device=device).contiguous(memory_format=fmt)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        out = net(x, 1 + (i % 5), bf16=bf16)  # as the trainer: transforms in bf16, entropy model in float32
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
    p.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    what = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads")
    print(f"device: {what}; torch {torch.__version__}")
    print("config | precision | memory | batch | crop | steps/s | images/s | Mpixels/s")
    layout = "channels_last" if a.channels_last else "contiguous"
    for name in a.configs:
        for crop in a.crop:
            for precision in a.precision:
                sps = steps_per_second(name, a.batch, crop, device, a.steps, a.warmup, precision == "bf16",
                                       a.channels_last)
                print(f"{name} | {precision} | {layout} | {a.batch} | {crop} | {sps:.3f} | {sps * a.batch:.2f} | "
                      f"{sps * a.batch * crop * crop / 1e6:.3f}", flush=True)


if __name__ == "__main__":
    main()
