"""Variable-rate ELIC: one set of weights for every quality preset.

ELIC (He et al., "ELIC: Efficient Learned Image Compression with Unevenly Grouped
Space-Channel Contextual Adaptive Coding", CVPR 2022) as implemented by CompressAI's
``Elic2022Official``, with per-quality gain vectors on the latent ``y`` (the "gained"
variable-rate scheme of Cui et al., "Asymmetric Gained Deep Image Compression with
Continuous Rate Adaptation", CVPR 2021)::

            ┌───┐  y  ┌────────┐ y·g(q) ┌─────────────────────────┐ ŷ·g'(q)  ┌───┐
     x ──►──┤g_a├──►──┤× gain  ├───►────┤ hyperprior + channel/   ├────►─────┤g_s├──► x̃
            └───┘     └────────┘        │ checkerboard contexts   │ ÷ gain   └───┘
                                        └─────────────────────────┘

``g(q)`` scales the latent before quantisation (a larger gain means a finer effective
quantisation step, so more bits and higher quality); ``g'(q)`` undoes it after decoding.
Continuous qualities interpolate the two neighbouring presets geometrically:
``g(q) = g(⌊q⌋)^(1−t) · g(⌈q⌉)^t``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from compressai.layers import CheckerboardMaskedConv2d
from compressai.models import Elic2022Official
from torch import Tensor, nn

from ldmrsic_core.errors import InputError
from ldmrsic_core.models import single_stream
from ldmrsic_core.models.exact import exact_arithmetic, exact_latent_codec, latent_checksums
from ldmrsic_core.models.refine import check_refine_steps, real_costs, refine_latent
from ldmrsic_core.precision import prepare, run_layers
from ldmrsic_core.tiling import STRIDE as TILING_STRIDE

#: The paper's λ for quality presets 1–5 (CompressAI convention: λ·255²·MSE + bpp).
LAMBDAS: tuple[float, ...] = (4e-4, 8e-4, 32e-4, 100e-4, 450e-4)
MIN_QUALITY = 1.0
MAX_QUALITY = float(len(LAMBDAS))

#: Analysis layers kept in float32 in bf16 precision: the last convolution and attention block,
#: whose output is quantised (a bf16 latent of magnitude 32–64 would move by up to 0.25).
ANALYSIS_FLOAT32_TAIL = 2
#: Synthesis layers kept in float32: the last one, which makes the pixels.
SYNTHESIS_FLOAT32_TAIL = 1

#: Total down-sampling of the analysis transform plus hyper-analysis (4 × 2 × 2 × 2 × 2 × 2):
#: :data:`ldmrsic_core.tiling.STRIDE`, re-exported here.
STRIDE = TILING_STRIDE


def check_quality(quality: float) -> float:
    """Return ``quality`` as float, or raise :class:`InputError` if outside 1.0–5.0."""
    q = float(quality)
    if not (MIN_QUALITY <= q <= MAX_QUALITY) or math.isnan(q):
        raise InputError(
            f"quality {quality} is out of range: use a value from {MIN_QUALITY:g} to {MAX_QUALITY:g}"
        )
    return q


def lambda_for_quality(quality: float) -> float:
    """The rate-distortion λ a (possibly fractional) quality corresponds to, interpolated in log space."""
    lo, hi, t = _bracket(check_quality(quality))
    return math.exp((1 - t) * math.log(LAMBDAS[lo]) + t * math.log(LAMBDAS[hi]))


def _bracket(quality: float) -> tuple[int, int, float]:
    """Indices of the neighbouring presets and the interpolation weight of the upper one."""
    lo = min(int(math.floor(quality)), len(LAMBDAS)) - 1
    hi = min(lo + 1, len(LAMBDAS) - 1)
    return lo, hi, quality - (lo + 1)


class ThreadSafeCheckerboardConv(CheckerboardMaskedConv2d):
    """CompressAI's checkerboard-masked convolution without the side effect of its ``forward``,
    which rebinds ``weight.data`` to ``weight · mask`` at every call: with one model shared by a
    pool of tile jobs, a call could then read weights another thread had just replaced (format-1
    files decoded to garbage in about one tile of 60 with two jobs). Same outputs, same state dict."""

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class VariableRateElic(Elic2022Official):
    """ELIC with per-quality gain vectors so one model covers quality 1.0–5.0.

    Args:
        N: channels of the main and hyper transforms.
        M: channels of the latent ``y``.
        groups: uneven channel-group sizes of the channel context (sum to ``M``).
        num_qualities: number of quality presets with their own gain vectors.
    """

    def __init__(self, N: int, M: int, groups: list[int], num_qualities: int = len(LAMBDAS)):
        super().__init__(N=N, M=M, groups=groups)
        self.N, self.M = N, M
        for module in self.modules():
            if type(module) is CheckerboardMaskedConv2d:
                module.__class__ = ThreadSafeCheckerboardConv
        # High-rate theory: the best quantisation step scales like 1/sqrt(λ); start there.
        lambdas = torch.tensor(LAMBDAS[:num_qualities], dtype=torch.float64)
        log_gain = 0.5 * (lambdas.log() - lambdas.log().mean())
        self.log_gain = nn.Parameter(log_gain.float()[:, None].repeat(1, M))
        self.log_inv_gain = nn.Parameter(-log_gain.float()[:, None].repeat(1, M))
        self.precision = "fp32"

    def set_precision(self, precision: str) -> None:
        """Run the analysis and synthesis transforms in ``fp32`` or ``bf16`` (:mod:`ldmrsic_core.precision`)."""
        if precision != self.precision:
            prepare(self.g_a, precision)
            prepare(self.g_s, precision)
            self.precision = precision

    def analyse(self, x: Tensor) -> Tensor:
        """The latent ``y`` of ``x`` (before the gain), in float32, computed in :attr:`precision`."""
        return run_layers(list(self.g_a), x, self.precision, ANALYSIS_FLOAT32_TAIL)

    def gains(self, quality: float) -> tuple[Tensor, Tensor]:
        """Encoder and decoder gain vectors (shape 1×M×1×1) for a quality in 1.0–5.0."""
        lo, hi, t = _bracket(check_quality(quality))
        log_g = (1 - t) * self.log_gain[lo] + t * self.log_gain[hi]
        log_ig = (1 - t) * self.log_inv_gain[lo] + t * self.log_inv_gain[hi]
        return log_g.exp()[None, :, None, None], log_ig.exp()[None, :, None, None]

    def forward(self, x: Tensor, quality: float = 3.0, bf16: bool = False) -> dict[str, Any]:  # type: ignore[override]
        """Training forward pass. ``bf16`` runs the analysis and synthesis transforms (most of the
        work) under bf16 autocast; the entropy model and its likelihoods stay in float32."""
        gain, inv_gain = self.gains(quality)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            y = self.g_a(x)
        y_out = self.latent_codec(y.float() * gain)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            x_hat = self.g_s(y_out["y_hat"] * inv_gain)
        return {"x_hat": x_hat.float(), "likelihoods": y_out["likelihoods"]}

    @torch.no_grad()
    def compress(self, x: Tensor, quality: float = 3.0, exact: bool = False,  # type: ignore[override]
                 refine: int = 0, cells: tuple[slice, slice] | None = None) -> dict[str, Any]:
        """Entropy-code ``x`` (N×3×H×W, H and W multiples of :data:`STRIDE`).

        With ``cells`` (rows and columns of latent cells, 16 pixels each, whose counts are multiples of
        4) only that part of the latent is coded: the rest of ``x`` is context the analysis sees, as a
        joined tile's neighbours are (format 5, :mod:`ldmrsic_core.pipeline.joined`).

        Returns ``strings`` (a flat list, one entry per coded stream, each a list of N
        byte strings), ``shape`` and ``y_hat`` (the de-gained latent the decoder will see).
        With ``exact`` the entropy parameters are computed in exact arithmetic on the CPU
        (:mod:`ldmrsic_core.models.exact`), all of an image's symbols go into one stream
        (:mod:`ldmrsic_core.models.single_stream`) and ``checksums`` are the CRC32s of each image's
        latent (the same whether the images are coded together or one by one). With ``refine`` steps
        the latent is refined first (:mod:`ldmrsic_core.models.refine`), and each image keeps whichever
        latent, refined or not, has the lower real cost (its decoding's MSE and its streams' bytes).
        """
        _check_size(x)
        gain, inv_gain = self.gains(quality)
        y = self.analyse(x) * gain
        if cells is not None:
            rows, cols = cells
            y = y[:, :, rows, cols]
            x = x[:, :, rows.start * 16: rows.stop * 16, cols.start * 16: cols.stop * 16]  # what refine compares
            _check_size(x)  # the coded cells make whole hyper-latent cells
        out = self._code(y, inv_gain, exact)
        if refine:
            lam = lambda_for_quality(quality)
            refined = self._code(refine_latent(self, x, y, inv_gain, lam, check_refine_steps(refine)), inv_gain, exact)
            out = self._cheaper(x, out, refined, lam)
        return out

    def _code(self, y: Tensor, inv_gain: Tensor, exact: bool) -> dict[str, Any]:
        """Entropy-code a gained latent (see :meth:`compress`)."""
        if not exact:
            out = self.latent_codec.compress(y)
            return {"strings": out["strings"], "shape": out["shape"], "y_hat": out["y_hat"] * inv_gain}
        exact_codec = self.exact_latent_codec()
        with exact_arithmetic(y.device), single_stream.encoding(y.shape[0]) as streams:
            out = exact_codec.compress(y.to(torch.float64))
        y_hat = out["y_hat"].to(y.dtype)
        return {"strings": [streams.flush()], "shape": out["shape"], "y_hat": y_hat * inv_gain,
                "checksums": latent_checksums(out["y_hat"])}

    def _cheaper(self, x: Tensor, first: dict[str, Any], second: dict[str, Any], lam: float) -> dict[str, Any]:
        """Per image, the coding of ``first`` or ``second`` with the lower real rate–distortion cost."""
        def costs(out: dict[str, Any]) -> list[float]:
            image_bytes = [sum(len(stream[i]) for stream in out["strings"]) for i in range(x.shape[0])]
            return real_costs(x, self.synthesize(out["y_hat"]), image_bytes, lam)

        take = [b < a for a, b in zip(costs(first), costs(second))]
        pick = [second if t else first for t in take]
        chosen = {"strings": [[pick[i]["strings"][s][i] for i in range(len(pick))]
                              for s in range(len(first["strings"]))],
                  "shape": first["shape"],
                  "y_hat": torch.stack([p["y_hat"][i] for i, p in enumerate(pick)])}
        if "checksums" in first:
            chosen["checksums"] = [p["checksums"][i] for i, p in enumerate(pick)]
        return chosen

    @torch.no_grad()
    def decompress(self, strings: list[list[bytes]], shape: dict[str, Any], quality: float = 3.0,  # type: ignore[override]
                   exact: bool = False) -> dict[str, Any]:
        """Inverse of :meth:`compress`: ``x_hat`` on the model's device (and ``checksums`` with ``exact``)."""
        out = self.decode_latent(strings, shape, quality, exact)
        out["x_hat"] = self.synthesize(out.pop("y_hat"))
        return out

    @torch.no_grad()
    def decode_latent(self, strings: list[list[bytes]], shape: dict[str, Any], quality: float = 3.0,
                      exact: bool = False) -> dict[str, Any]:
        """The entropy decoding half of :meth:`decompress`: ``y_hat``, the de-gained latent
        :meth:`synthesize` takes (and ``checksums`` with ``exact``)."""
        _, inv_gain = self.gains(quality)
        if not exact:
            return {"y_hat": self.latent_codec.decompress(strings, shape)["y_hat"] * inv_gain}
        grid = self.exact_latent(strings, shape)
        return {"y_hat": grid.to(inv_gain.dtype) * inv_gain, "checksums": latent_checksums(grid)}

    @torch.no_grad()
    def exact_latent(self, strings: list[list[bytes]], shape: dict[str, Any]) -> Tensor:
        """The latent (float64, on the grid, before the decoder's gain) that exact streams decode to:
        one stream per image (format 4, what :meth:`compress` writes) or one per entropy-model call
        (formats 2 and 3)."""
        device = next(self.parameters()).device
        with exact_arithmetic(device):
            if len(strings) != 1:
                return self.exact_latent_codec().decompress(strings, shape)["y_hat"]
            placeholders = [[b""] * len(strings[0]) for _ in range(self.entropy_calls)]
            with single_stream.decoding(strings[0]):
                return self.exact_latent_codec().decompress(placeholders, shape)["y_hat"]

    @property
    def entropy_calls(self) -> int:
        """Entropy-model calls per image: the hyper-latent, then two checkerboard halves per group
        (the stream count of formats 2 and 3)."""
        return 1 + 2 * len(self.groups)

    def exact_latent_codec(self) -> nn.Module:
        """The exact-arithmetic copy of the entropy model on the model's device, built at first use
        (``update``, loading weights or moving the model rebuild it)."""
        device = next(self.parameters()).device
        cached = self.__dict__.get("_exact_codec")
        if cached is None or self.__dict__.get("_exact_device") != device:
            cached = exact_latent_codec(self.latent_codec, device)
            self.__dict__["_exact_codec"] = single_stream.share_streams(cached)
            self.__dict__["_exact_device"] = device
        return cached

    def update(self, *args: Any, **kwargs: Any) -> bool:
        self.__dict__.pop("_exact_codec", None)
        return super().update(*args, **kwargs)

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.__dict__.pop("_exact_codec", None)
        return super().load_state_dict(*args, **kwargs)

    def synthesize(self, y_hat: Tensor) -> Tensor:
        """Decoder-side reconstruction from a de-gained latent, clamped to [0, 1] (differentiable)."""
        return run_layers(list(self.g_s), y_hat, self.precision, SYNTHESIS_FLOAT32_TAIL).clamp(0, 1)

    def latent_shape(self, height: int, width: int) -> dict[str, Any]:
        """The ``shape`` structure :meth:`decompress` needs for a padded tile size."""
        h, w = height // 16, width // 16
        return {"y": [(g, h, w) for g in self.groups], "hyper": torch.Size((h // 4, w // 4))}


def _check_size(x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2] % STRIDE or x.shape[-1] % STRIDE:
        raise ValueError(f"expected N×3×H×W with H, W multiples of {STRIDE}, got {tuple(x.shape)}")
