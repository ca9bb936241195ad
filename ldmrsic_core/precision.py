"""The float precision of the learned transforms (the codec's analysis and synthesis, the enhancer).

``fp32`` is the reference: float32 in torch's default memory layout, what every file before
this option was written with. ``bf16`` runs the convolutions and matrix products under bf16
autocast in the channels-last layout (oneDNN's AMX/AVX-512-BF16 kernels on a CPU, tensor cores
on a GPU) and keeps the layers that produce what is coded or shown in float32 (the codec's last
analysis layers before quantisation, its last synthesis layer): about 4× faster transforms on
a CPU that has bf16, for a rate–distortion cost measured in BENCHMARKS.md. ``auto`` chooses
``bf16`` where the device computes it natively, ``fp32`` elsewhere.

Neither choice touches the entropy model: its parameters are exact on every machine
(:mod:`ldmrsic_core.models.exact`), so a file encoded in one precision decodes in any other.
What the precision changes is the encoder's bytes (deterministic for a given device, precision
and thread count) and the decoded pixels in their last bits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

import torch
from torch import Tensor, nn

from ldmrsic_core.defaults import PRECISIONS
from ldmrsic_core.errors import InputError


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 convolutions in hardware (AMX or AVX-512-BF16; a CUDA GPU with bf16)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    checks = (getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return any(check() for check in checks if check is not None)


def resolve_precision(name: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for the user's choice (``auto``: bf16 where native) on ``device``."""
    if name not in PRECISIONS:
        raise InputError(f"unknown precision {name!r}: use {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return name


def prepare(module: nn.Module, precision: str) -> nn.Module:
    """Put ``module``'s weights in the layout ``precision`` computes fastest in (in place)."""
    layout = torch.channels_last if precision == "bf16" else torch.contiguous_format
    return module.to(memory_format=layout)


@contextmanager
def compute(precision: str, device: torch.device) -> Iterator[None]:
    """The autocast region of ``precision`` on ``device`` (nothing for fp32)."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    else:
        with nullcontext():
            yield


def run_layers(layers: Sequence[nn.Module], x: Tensor, precision: str, float32_tail: int) -> Tensor:
    """Apply ``layers`` in order in ``precision``, the last ``float32_tail`` of them always in float32."""
    if precision == "bf16":
        x = x.contiguous(memory_format=torch.channels_last)
    head, tail = layers[:len(layers) - float32_tail], layers[len(layers) - float32_tail:]
    with compute(precision, x.device):
        for layer in head:
            x = layer(x)
    x = x.float()
    for layer in tail:
        x = layer(x)
    return x.contiguous()
