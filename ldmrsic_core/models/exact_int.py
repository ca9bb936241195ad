"""The exact convolutions as int8 GEMMs on the CPU: the same numbers, up to four times faster.

In the fixed-point networks of :mod:`ldmrsic_core.models.exact` an activation is an integer ``a``
times 2⁻ᴳ and a weight of output channel ``c`` an integer ``w`` times 2⁻ᵉᶜ, and every sum
``Σ w·a + b`` is an integer below 2⁵¹ in units of 2⁻⁽ᴳ⁺ᵉᶜ⁾. Any method that computes that integer
exactly gives the same result as the float64 convolution, bit for bit. Here both integers are
split into balanced base-256 digits (int8), every pair of digit planes is multiplied by an int8
GEMM (``torch._int_mm``: int32 sums, which cannot overflow since |digit| ≤ 128 and the fan-in is
below 2¹⁷) and the pairs are recombined in int64::

    a = Σᵢ 256ⁱ·aᵢ,  w = Σⱼ 256ʲ·wⱼ   ──►   Σ w·a = Σᵢⱼ 256ⁱ⁺ʲ · (wⱼ ⊛ aᵢ)

The weights' digits are made once; the activations' digit count follows the largest value of each
call (2–3 for the shipped models' activations, at most 4 for the ±2¹⁴ clamp). On the AMD EPYC
measured, an int8 GEMM ran 18× faster than a float64 one (MKL's float64 runs at AVX2 speed there)
and the digits multiply the work by 4–6: the 5×5 context convolutions ran 1.6–4.4× faster, the whole
exact model 1.4–1.7× (BENCHMARKS.md, "The CPU path, 2026-12-02 (2)"). Stride-1 transposed
convolutions are the convolution with the flipped kernel; the checkerboard context's masked taps are
left out of the GEMM; an all-zero input (the anchors' empty context) costs no GEMM. 1×1 layers are not
faster this way and keep the float64 convolution, as do strided ones.

Where int8 GEMMs are slow the float64 convolutions run instead (:func:`integer_gemm_pays`): on an AVX2
CPU without VNNI (AMD EPYC family 23) ``torch._int_mm`` ran 17× *slower* than a float64 GEMM and made
`compress` of a 256² image take 25 s instead of 8 (from the command line, 5 s of it start-up).
"""

from __future__ import annotations

import functools
import time
import types

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: |digit| ≤ 128, so one digit-pair sum stays inside int32 while fan-in · 128² < 2³¹.
MAX_FAN_IN = 2**17 - 1


@functools.cache
def integer_gemm_available() -> bool:
    """Whether this torch multiplies int8 matrices exactly on the CPU (``torch._int_mm``; otherwise the
    float64 convolutions run, with the same results)."""
    try:
        a = torch.arange(-64, 64, dtype=torch.int8).reshape(32, 4).repeat(1, 8)
        return torch.equal(torch._int_mm(a, a.t().contiguous()), a.int() @ a.t().int())
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


#: The integer path makes one int8 GEMM (all weight digits stacked) per activation digit: 2–3 of them.
_ACTIVATION_DIGITS = 3


@functools.cache
def integer_gemm_pays() -> bool:
    """Whether int8 GEMMs are fast enough on this CPU to beat the float64 convolutions, measured once per
    process on a convolution-sized product (best of three; a few milliseconds where int8 is fast). Both
    paths give the same numbers, so the choice changes the speed only."""
    if not integer_gemm_available():
        return False
    generator = torch.Generator().manual_seed(0)
    weights = torch.randint(-128, 128, (2 * 64, 576), dtype=torch.int8, generator=generator)  # two weight digits
    cols = torch.randint(-128, 128, (576, 256), dtype=torch.int8, generator=generator)
    weights64, cols64 = weights[:64].double(), cols.double()

    def best(product) -> float:
        product()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            product()
            times.append(time.perf_counter() - start)
        return min(times)

    integer = best(lambda: torch._int_mm(weights, cols))
    return _ACTIVATION_DIGITS * integer < best(lambda: weights64 @ cols64)


def digit_count(largest: int) -> int:
    """How many balanced base-256 digits (each in −128…127) represent every integer up to ``largest`` in magnitude."""
    count, reach = 1, 127
    while largest > reach:
        count += 1
        reach = reach * 256 + 127
    return count


def balanced_digits(x: Tensor, count: int) -> list[Tensor]:
    """int8 digit planes of the int64 tensor ``x``, lowest first: ``x = Σᵢ 256ⁱ·digitᵢ``."""
    planes = []
    for _ in range(count):
        digit = ((x + 128) & 255) - 128
        planes.append(digit.to(torch.int8))
        x = (x - digit) >> 8
    return planes


def _as_convolution(layer: nn.Module) -> tuple[Tensor, tuple[int, int]] | None:
    """``layer`` as a stride-1 convolution: its (snapped, masked) O×C×kh×kw weights and padding; None
    for layers this module does not evaluate (1×1, strided, grouped, dilated or other padding)."""
    if not isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) or layer.kernel_size == (1, 1):
        return None
    if (layer.groups != 1 or layer.padding_mode != "zeros" or layer.stride != (1, 1) or layer.dilation != (1, 1)
            or not isinstance(layer.padding, tuple)):
        return None
    weight = layer.weight.detach().to(torch.float64)
    if isinstance(layer, nn.ConvTranspose2d):  # stride 1: the convolution with the flipped kernel
        if any(layer.output_padding):
            return None
        kh, kw = layer.kernel_size
        weight = weight.transpose(0, 1).flip(-2, -1)
        padding = (kh - 1 - layer.padding[0], kw - 1 - layer.padding[1])
        if min(padding) < 0:
            return None
    else:
        weight = weight * layer.mask if hasattr(layer, "mask") else weight  # checkerboard context
        padding = layer.padding
    if weight.shape[1] * weight.shape[2] * weight.shape[3] > MAX_FAN_IN:
        return None
    return weight, padding


def integer_eligible(layer: nn.Module) -> bool:
    """Whether this module evaluates ``layer``: a k×k (k > 1) stride-1 convolution, plain, checkerboard-
    masked or transposed."""
    return _as_convolution(layer) is not None


def attach_integer_conv(layer: nn.Conv2d | nn.ConvTranspose2d, grid_bits: int, fraction_bits: Tensor) -> None:
    """Evaluate ``layer`` (already snapped: weights on 2^-fraction_bits per output channel, bias on
    2^-(grid_bits + fraction_bits)) with int8 GEMMs from now on; inputs must lie on 2^-grid_bits."""
    found = _as_convolution(layer)
    if found is None:
        raise ValueError(f"{type(layer).__name__} is not evaluated with integer GEMMs")
    weight, padding = found
    out_channels, kh, kw = weight.shape[0], weight.shape[2], weight.shape[3]
    units = torch.pow(2.0, fraction_bits.to(torch.float64)).view(-1, 1, 1, 1)
    w_int = torch.round(weight * units).to(torch.int64)
    taps = [(y, x) for y in range(kh) for x in range(kw) if bool(w_int[:, :, y, x].any())]  # masked taps left out
    w_int = torch.stack([w_int[:, :, y, x] for y, x in taps], dim=2).reshape(out_channels, -1)
    count = digit_count(int(w_int.abs().max()))
    layer._int_weight_digits = torch.cat(balanced_digits(w_int, count)).contiguous()  # (count·O)×(C·taps)
    layer._int_weight_count = count
    layer._int_taps, layer._int_kernel, layer._int_padding = taps, (kh, kw), padding
    layer._int_grid_bits = grid_bits
    layer._int_out_scale = torch.pow(2.0, -(fraction_bits.to(torch.float64) + grid_bits)).view(1, -1, 1)
    layer.forward = types.MethodType(_integer_forward, layer)


def _integer_forward(self: nn.Module, x: Tensor) -> Tensor:
    n, channels, h, w = x.shape
    out_channels = self._int_out_scale.shape[1]
    (kh, kw), (ph, pw) = self._int_kernel, self._int_padding
    oh, ow = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
    ints = torch.round(x * float(2**self._int_grid_bits)).to(torch.int64)  # exact: x is on the grid
    largest = int(ints.abs().max()) if ints.numel() else 0
    acc = torch.zeros((n, out_channels, oh * ow), dtype=torch.int64)
    weight_digits = self._int_weight_count
    for i, plane in enumerate(balanced_digits(ints, digit_count(largest)) if largest else []):
        padded = F.pad(plane, (pw, pw, ph, ph))
        for b in range(n):  # im2col over the kernel's taps, rows ordered as the weights' (channel, tap)
            cols = torch.stack([padded[b, :, y:y + oh, x0:x0 + ow] for y, x0 in self._int_taps], dim=1)
            products = torch._int_mm(self._int_weight_digits, cols.reshape(-1, oh * ow))
            products = products.view(weight_digits, out_channels, oh * ow)
            for j in range(weight_digits):
                acc[b] += products[j].to(torch.int64) << (8 * (i + j))
    out = acc.to(torch.float64) * self._int_out_scale  # exact: |sum| < 2^51, times a power of two
    if self.bias is not None:
        out += self.bias.view(1, -1, 1)
    return out.view(n, out_channels, oh, ow)
