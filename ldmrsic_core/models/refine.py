"""Encoder-side latent refinement: spend encoder time to lower a tile's rate–distortion cost.

The analysis transform gives a latent ``y`` that is good on average over the training data, not the
best one for this image. Here ``y`` itself is moved by a few Adam steps on the codec's own objective
λ·255²·MSE(x, g_s(ŷ)) + bpp, all networks fixed (the idea of Yang et al., "Improving Inference for
Neural Image Compression", NeurIPS 2020). The decoder is unchanged: a refined file is an ordinary
file and decodes anywhere.

Rounding is modelled as the coder does it, ``ŷ = round(y − μ) + μ``, with straight-through gradients
both in the synthesis and in the likelihoods. Measured (BENCHMARKS.md): the training-time noise model
made the refined latent worse at q3 on both axes, and plain rounding (no gradient through the
likelihood's argument) let the rate run away; straight-through in both holds the rate.

The shared model is never changed: the entropy model is a private copy whose quantisers are
straight-through, and gradients are taken for the latent only (``torch.autograd.grad``), so tile jobs
in other threads may use the same model meanwhile.
"""

from __future__ import annotations

import copy
import types

import torch
from compressai.entropy_models import EntropyModel
from torch import Tensor, nn

from ldmrsic_core.defaults import MAX_REFINE
from ldmrsic_core.errors import InputError
from ldmrsic_core.training.objective import rd_loss

#: Adam's first step size on the gained latent (quantisation step 1): 0.005, 0.01 and 0.02 measured, 0.01 best;
#: :func:`refine_latent` halves an image's step whenever a step makes that image worse.
REFINE_LR = 0.01


def check_refine_steps(steps: int) -> int:
    """``steps`` as an int, or :class:`InputError` when it is not a whole number from 0 to the maximum."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_REFINE:
        raise InputError(f"refine steps {steps!r} is invalid: use a whole number from 0 (off) to {MAX_REFINE}")
    return steps


def _straight_through(self: EntropyModel, inputs: Tensor, mode: str, means: Tensor | None = None) -> Tensor:
    """``round(inputs − means) + means`` whose gradient is the identity (in every quantisation mode)."""
    centred = inputs if means is None else inputs - means
    rounded = centred + (torch.round(centred) - centred).detach()
    return rounded if means is None else rounded + means


def straight_through_copy(latent_codec: nn.Module) -> nn.Module:
    """A private, frozen copy of a CompressAI latent codec whose entropy models round straight-through."""
    private = copy.deepcopy(latent_codec).eval()
    for p in private.parameters():
        p.requires_grad_(False)
    for module in private.modules():
        if isinstance(module, EntropyModel):
            module.quantize = types.MethodType(_straight_through, module)
    return private


def refine_latent(net, x: Tensor, y: Tensor, inv_gain: Tensor, lam: float, steps: int,
                  lr: float = REFINE_LR) -> Tensor:
    """``y`` (the gained latent of ``x``, N×M×h×w) after up to ``steps`` Adam steps on λ·255²·MSE + bpp.

    With straight-through rounding the objective does not fall at every step (with some codecs a step of
    ``lr`` overshoots from the first one on), so each image keeps its iterate of lowest objective, the
    start included, and a step that makes an image worse sends that image back to its best iterate and
    halves its step size (backtracking, per image: a tile's refinement does not depend on its batch).
    ``net`` is a :class:`~ldmrsic_core.models.codec.VariableRateElic`; ``inv_gain`` the decoder's gain
    of the quality. Returns a detached float32 tensor; ``net`` is left as it was.
    """
    entropy = straight_through_copy(net.latent_codec)
    latent = y.detach().float().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([latent], lr=lr)
    best, best_loss = latent.detach().clone(), torch.full((len(latent),), float("inf"))
    step_scale = torch.ones(len(latent), *([1] * (latent.dim() - 1)))  # each image's share of ``lr``
    with torch.enable_grad():
        for step in range(steps + 1):
            losses = _image_losses(entropy, net, latent, inv_gain, x, lam)
            better = losses.detach() < best_loss
            best[better], best_loss[better] = latent.detach()[better], losses.detach()[better]
            if step == steps:
                break
            if not bool(better.all()):
                with torch.no_grad():
                    latent[~better] = best[~better]
                step_scale[~better] /= 2
                losses = _image_losses(entropy, net, latent, inv_gain, x, lam)
            (grad,) = torch.autograd.grad(losses.sum(), [latent])
            latent.grad = grad
            before = latent.detach().clone()
            optimiser.step()  # Adam's update is elementwise, so scaling it per image scales that image's lr
            with torch.no_grad():
                latent.copy_(before + step_scale * (latent - before))
            latent.grad = None
    return best


def _image_losses(entropy: nn.Module, net, latent: Tensor, inv_gain: Tensor, x: Tensor, lam: float) -> Tensor:
    """Each image's estimated λ·255²·MSE + bpp (training's :func:`rd_loss`, one image at a time)."""
    out = entropy(latent)
    x_hat = net.synthesize(out["y_hat"] * inv_gain)
    per_image = [{k: v[i:i + 1] for k, v in out["likelihoods"].items()} for i in range(len(latent))]
    return torch.stack([rd_loss({"x_hat": x_hat[i:i + 1], "likelihoods": likelihoods}, x[i:i + 1], lam)["loss"]
                        for i, likelihoods in enumerate(per_image)])


def real_costs(x: Tensor, x_hat: Tensor, image_bytes: list[int], lam: float) -> list[float]:
    """Per image: λ·255²·MSE of its decoding plus the bits of its real streams per pixel."""
    pixels = x.shape[-2] * x.shape[-1]
    mse = ((x_hat.float() - x.float()) ** 2).mean(dim=(1, 2, 3))
    return [lam * 255**2 * float(m) + 8 * b / pixels for m, b in zip(mse, image_bytes)]


__all__ = ["REFINE_LR", "check_refine_steps", "real_costs", "refine_latent",
           "straight_through_copy"]
