"""Entropy parameters in exact arithmetic, so every machine derives the same symbols.

A learned codec's decoder recomputes the Gaussian scales and means of every latent symbol
from what it has already decoded (hyper-synthesis ``h_s``, the channel context and the
checkerboard context). In ordinary float arithmetic the result depends on the device, the
library, the thread count and the summation order; when a scale lands in another CDF bin
than on the encoder, the rest of the tile decodes to garbage (CompressAI issues #279, #309).

Here those networks run as fixed-point integer networks carried in float64 (on the model's GPU
with cuDNN off for them, so that only multiply-add algorithms run: no FFT or Winograd; on the CPU
the k×k convolutions as int8 GEMMs of the same integers, :mod:`ldmrsic_core.models.exact_int`)::

    input ──► round to 2⁻ᴳ, clamp ±A ──► conv (weights on 2⁻ᵉᶜ per output channel,
              bias on 2⁻⁽ᴳ⁺ᵉᶜ⁾) ──► round to 2⁻ᴳ, clamp ±A ──► ReLU ──► …

Every product and every partial sum is an integer multiple of 2⁻⁽ᴳ⁺ᵉᶜ⁾ whose magnitude is
bounded by ``A·‖W_c‖₁ + |b_c|``; ``e_c`` is chosen per output channel so that this bound
stays below 2⁵³·2⁻⁽ᴳ⁺ᵉᶜ⁾. So no operation ever rounds, and the result is the same exact
number whatever the order of summation, the BLAS, the thread count or the CPU. Only the
rounding steps we place ourselves (to the grid 2⁻ᴳ) are lossy, and they are deterministic.
The latent ``ŷ = symbol + mean`` then lies on the grid too, and its checksum
(:func:`latent_checksums`) is what the encoder stores per tile so that a decoder detects,
rather than hides, any difference.

Encoder-only parts (``h_a``) run in plain float64: their output is transmitted, not recomputed.
"""

from __future__ import annotations

import copy
import math
import types
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from compressai.latent_codecs import ChannelGroupsLatentCodec
from torch import Tensor, nn

from ldmrsic_core.errors import ExactArithmeticError
from ldmrsic_core.models.exact_int import attach_integer_conv, integer_eligible, integer_gemm_pays

#: A change to any constant here needs a new ``ldmrsic_core.format.header.ENTROPY_SCHEME`` name.
#: Activations, scales and means live on the grid 2^-GRID_BITS.
GRID_BITS = 12
#: Activations are clamped to ±ACT_LIMIT (the trained models stay far inside: see BENCHMARKS.md).
ACT_LIMIT = 2.0**14
#: A channel whose largest weight would keep fewer significant bits than this is refused (with
#: the limits above that takes a fan-in over about 8000 weights of equal size).
MIN_SIGNIFICANT_BITS = 12
_MAX_FRACTION_BITS = 200  # for all-zero channels
_MANTISSA_BITS = 53
_MARGIN_BITS = 2

#: Module-name prefixes of the encoder-only networks, left unquantised.
ENCODER_ONLY = ("hyper.h_a",)
#: Convolutions with a larger fan-in (inputs × kernel) sum their input channels in two halves: the
#: same exact result, and MKL's float64 GEMM with about 5600 columns is slow (the 224→128 5×5 context
#: convolutions: 27 → 16 ms each alone, 7% of the whole exact entropy model; BENCHMARKS.md, "The CPU path").
SPLIT_FAN_IN = 4096


def to_grid(x: Tensor) -> Tensor:
    """Round to the grid 2^-GRID_BITS and clamp to ±ACT_LIMIT (exact float64 operations)."""
    scale = float(2**GRID_BITS)
    return torch.round(x * scale).clamp_(-ACT_LIMIT * scale, ACT_LIMIT * scale) / scale


def _round_to(x: Tensor, bits: Tensor) -> Tensor:
    step = torch.pow(2.0, bits.to(torch.float64))
    return torch.round(x * step) / step


def quantize_layer(layer: nn.Conv2d | nn.ConvTranspose2d) -> Tensor:
    """Snap ``layer``'s float64 weights (per output channel) and bias so its sums are exact; returns
    each output channel's fraction bits ``e_c`` (weights on 2^-e_c, bias on 2^-(GRID_BITS + e_c))."""
    weight = layer.weight.data
    if isinstance(layer, nn.ConvTranspose2d):  # in × out × kh × kw
        per_out = weight.transpose(0, 1)
    else:  # out × in × kh × kw
        per_out = weight
    flat = per_out.reshape(per_out.shape[0], -1)
    if isinstance(layer, nn.Conv2d) and hasattr(layer, "mask"):  # checkerboard masked conv
        flat = (per_out * layer.mask).reshape(per_out.shape[0], -1)
    bias = layer.bias.data if layer.bias is not None else torch.zeros(flat.shape[0], dtype=torch.float64)
    bound = ACT_LIMIT * flat.abs().sum(1) + bias.abs()
    bits = torch.floor(_MANTISSA_BITS - _MARGIN_BITS - GRID_BITS - torch.log2(bound)).clamp(max=_MAX_FRACTION_BITS)
    largest = flat.abs().amax(1)
    significant = torch.where(largest > 0, torch.log2(largest.clamp_min(1e-300)) + bits, torch.full_like(bits, 99))
    if (significant < MIN_SIGNIFICANT_BITS).any():
        raise ExactArithmeticError(
            f"a {type(layer).__name__} cannot be evaluated exactly at this grid: its weights would keep "
            f"{float(significant.min()):.1f} significant bits (< {MIN_SIGNIFICANT_BITS}); its fan-in is too large"
        )
    shape = (-1,) + (1,) * (per_out.dim() - 1)
    snapped = _round_to(per_out, bits.view(shape))
    layer.weight.data = snapped.transpose(0, 1).contiguous() if isinstance(layer, nn.ConvTranspose2d) else snapped
    if layer.bias is not None:
        layer.bias.data = _round_to(bias, bits + GRID_BITS)
    return bits


def _grid_input(_module: nn.Module, args: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return (to_grid(args[0]),) + tuple(args[1:])


def _grid_output(_module: nn.Module, _args: tuple[Tensor, ...], out: Tensor) -> Tensor:
    return to_grid(out)


def exact_latent_codec(latent_codec: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """A float64 copy of a CompressAI latent codec whose decoder-side networks are exact, on ``device``.

    The weights are snapped on the CPU whatever the device (a GPU's log2 could round a bound the
    other way and give other weights), then moved. Call it under :func:`exact_arithmetic`. The
    copy keeps the CDF tables (integers, loaded from the weights file) unchanged. It can be used
    from several threads at once: nothing in it depends on torch's (global) default dtype.
    """
    exact = copy.deepcopy(latent_codec).to("cpu", torch.float64).eval()
    integer = torch.device(device).type == "cpu" and integer_gemm_pays()
    for name, module in exact.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and not name.startswith(ENCODER_ONLY):
            bits = quantize_layer(module)
            if integer and integer_eligible(module):
                attach_integer_conv(module, GRID_BITS, bits)
            elif _splittable(module):
                module.forward = types.MethodType(_halves_conv, module)
            module.register_forward_pre_hook(_grid_input)
            module.register_forward_hook(_grid_output)
        if isinstance(module, ChannelGroupsLatentCodec):
            module.decompress = types.MethodType(_channel_groups_decompress, module)
    return exact.to(device)


@contextmanager
def exact_arithmetic(device: torch.device) -> Iterator[None]:
    """Where the exact networks run: on a GPU, with cuDNN off (PyTorch's own im2col + GEMM kernels
    only multiply and add, so their sums are exact in any order; cuDNN may pick FFT or Winograd)."""
    if device.type == "cuda":
        with torch.backends.cudnn.flags(enabled=False):
            yield
    else:
        yield


def _splittable(layer: nn.Module) -> bool:
    return (type(layer) is nn.Conv2d and layer.groups == 1 and layer.padding_mode == "zeros"
            and isinstance(layer.padding, tuple)
            and layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1] > SPLIT_FAN_IN)


def _halves_conv(self: nn.Conv2d, x: Tensor) -> Tensor:
    """The convolution as two sums over halves of the input channels (exact: see the module docstring)."""
    k = x.shape[1] // 2
    args = (self.stride, self.padding, self.dilation)
    out = F.conv2d(x[:, :k], self.weight[:, :k], self.bias, *args)
    return out.add_(F.conv2d(x[:, k:], self.weight[:, k:], None, *args))


def _channel_groups_decompress(self: ChannelGroupsLatentCodec, strings: list[list[bytes]], shape: list[tuple],
                               side_params: Tensor, **kwargs) -> dict[str, Tensor]:
    """CompressAI's channel-group decoding, with ``ŷ`` allocated in the side parameters' dtype
    (float64 here): CompressAI allocates it in torch's default dtype, float32, which would round
    grid values, and changing that default is not safe while other threads run."""
    n = len(strings[0])
    per_group = len(strings) // len(self.groups)
    y_hat = side_params.new_zeros((n, sum(s[0] for s in shape), *shape[0][1:]))
    y_hat_groups = y_hat.split(self.groups, dim=1)
    for k in range(len(self.groups)):
        params = self._get_ctx_params(k, side_params, y_hat_groups)
        out = self.latent_codec[f"y{k}"].decompress(strings[per_group * k: per_group * (k + 1)], shape[k], params)
        y_hat_groups[k][:] = out["y_hat"]
    return {"y_hat": y_hat}


def latent_checksums(y_hat: Tensor) -> list[int]:
    """Per image of the batch: CRC32 of its latent's grid integers (little-endian int64), the same on
    every machine."""
    ints = torch.round(y_hat.detach().to("cpu", torch.float64) * 2**GRID_BITS).to(torch.int64).numpy()
    return [zlib.crc32(np.ascontiguousarray(image).astype("<i8").tobytes()) for image in ints]


def activation_headroom(latent_codec: nn.Module, run) -> float:
    """log2 of ACT_LIMIT over the largest |activation| seen while ``run()`` executes ``latent_codec``."""
    largest = [0.0]

    def watch(_m, args, out):
        largest[0] = max(largest[0], float(args[0].abs().max()), float(out.abs().max()))

    handles = [m.register_forward_hook(watch) for n, m in latent_codec.named_modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and not n.startswith(ENCODER_ONLY)]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return math.log2(ACT_LIMIT / max(largest[0], 1e-30))


@contextmanager
def other_summation_order(net: nn.Module) -> Iterator[None]:
    """Imitate another device: every convolution of ``net`` sums its input channels in two
    separately accumulated halves, last half first (mathematically the same, rounded differently
    in float arithmetic). Used by the tests and ``benchmarks/exact_entropy.py``."""
    patched = [m for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.groups == 1 and m.in_channels > 1]
    previous = [m.__dict__.get("forward") for m in patched]  # the halves' forward, where set
    for m in patched:
        m.forward = types.MethodType(_split_sum_conv_transpose if isinstance(m, nn.ConvTranspose2d)
                                     else _split_sum_conv, m)
    try:
        yield
    finally:
        for m, forward in zip(patched, previous):
            if forward is None:
                del m.forward
            else:
                m.forward = forward


def _split_sum_conv(self: nn.Conv2d, x: Tensor) -> Tensor:
    w = self.weight * self.mask if hasattr(self, "mask") else self.weight
    k = max(1, x.shape[1] // 2)
    late = F.conv2d(x[:, k:], w[:, k:], self.bias, self.stride, self.padding, self.dilation)
    return late + F.conv2d(x[:, :k], w[:, :k], None, self.stride, self.padding, self.dilation)


def _split_sum_conv_transpose(self: nn.ConvTranspose2d, x: Tensor) -> Tensor:
    k = max(1, x.shape[1] // 2)
    args = (self.stride, self.padding, self.output_padding, 1, self.dilation)
    late = F.conv_transpose2d(x[:, k:], self.weight[k:], self.bias, *args)
    return late + F.conv_transpose2d(x[:, :k], self.weight[:k], None, *args)
