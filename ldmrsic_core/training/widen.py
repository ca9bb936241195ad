"""Warm-start a wider codec from a trained narrower one without changing what it computes.

A codec with more channels (a larger ``N`` or ``M``, larger channel groups) is initialised from a
trained one so that, at step 0, it reconstructs the same images at (almost) the same rate: each
old weight is copied to its place in the new tensor, the weights *from* new units *to* old ones
are zero, and the weights *into* new units are the fresh initialisation scaled down by ``noise``
(not zero: a unit with zero weights both in and out never gets a gradient). The new latent
channels start near zero and cost almost no bits; training then decides what to put in them.
This is how issue 17 §2b compares a larger latent with the trained codec at equal steps, and how
a larger codec continues a campaign instead of starting over.

Most channel dimensions are extended at their end. Two are laid out in segments: the input of
each group's parameter network (spatial context, channel context, hyper parameters,
concatenated; :mod:`compressai.latent_codecs.channel_groups`) and its output (scales, then means).
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from ldmrsic_core.errors import InputError
from ldmrsic_core.models.codec import VariableRateElic

_PARAM_NET = re.compile(r"\.y(\d+)\.entropy_parameters\.(\d+)\.(weight|bias)$")


def can_widen(old: VariableRateElic, new: VariableRateElic) -> bool:
    """Whether ``new`` is ``old`` with the same structure and no channel count smaller."""
    return (len(old.groups) == len(new.groups) and new.N >= old.N and new.M >= old.M
            and all(b >= a for a, b in zip(old.groups, new.groups)))


@torch.no_grad()
def widen_state_dict(old_state: dict[str, Tensor], old: VariableRateElic, new: VariableRateElic,
                     noise: float = 0.05) -> dict[str, Tensor]:
    """The state dict for ``new`` that computes what ``old`` (with ``old_state``) computes.

    ``new`` supplies the shapes and the fresh initialisation of the new weights (its own
    parameters are left as they are)."""
    if not can_widen(old, new):
        raise InputError(f"cannot widen a codec with N={old.N}, M={old.M}, groups {old.groups} into "
                         f"N={new.N}, M={new.M}, groups {new.groups}: no channel count may shrink")
    modules = dict(new.named_modules())
    quantiles = old_state.get("latent_codec.hyper.entropy_bottleneck.quantiles")
    narrowest = 0 if quantiles is None else int((quantiles[:, 0, 2] - quantiles[:, 0, 0]).argmin())
    out: dict[str, Tensor] = {}
    for name, fresh in new.state_dict().items():
        if name not in old_state:
            raise InputError(f"cannot widen: the trained codec has no {name}")
        src = old_state[name].to(fresh.dtype)
        if name.endswith(".mask"):
            out[name] = fresh.clone()  # the checkerboard pattern, made for the new shape
        elif ".entropy_bottleneck." in name and src.dim() and src.shape[0] == old.N != new.N:
            out[name] = _widen_by_copy(src, new.N, narrowest)
        elif src.shape == fresh.shape or fresh.numel() == 0:
            out[name] = src.clone()  # unchanged, or a coding table that ``update`` rebuilds
        elif name.endswith("log_gain") or name.endswith("log_inv_gain"):
            out[name] = _widen_gains(src, fresh.shape[1])
        else:
            out[name] = _widen_tensor(name, src, fresh, modules, old, new, noise)
    return out


def _widen_tensor(name: str, src: Tensor, fresh: Tensor, modules: dict[str, nn.Module],
                  old: VariableRateElic, new: VariableRateElic, noise: float) -> Tensor:
    module = modules.get(name.rsplit(".", 1)[0])
    out_dim, in_dim = (1, 0) if isinstance(module, nn.ConvTranspose2d) else (0, 1)
    if name.endswith(".bias") or src.dim() == 1:
        out_dim, in_dim = 0, -1
    maps = [torch.arange(size) for size in src.shape]  # old channels first, new ones after
    match = _PARAM_NET.search(name)
    if match:
        k, layer = int(match.group(1)), int(match.group(2))
        last = len(modules[name[: match.start()] + f".y{k}.entropy_parameters"]) - 1
        if layer == 0 and in_dim >= 0:
            maps[in_dim] = _segments(_param_inputs(old, k), _param_inputs(new, k))
        if layer == last:
            maps[out_dim] = _segments([old.groups[k]] * 2, [new.groups[k]] * 2)
    # Everything into a new output unit: the fresh initialisation, scaled down (biases: zero).
    result = fresh * noise if not name.endswith(".bias") else torch.zeros_like(fresh)
    if in_dim >= 0:
        # From new input units into old output units: zero, so old units compute what they did.
        old_out = torch.zeros(fresh.shape[out_dim], dtype=torch.bool)
        old_out[maps[out_dim]] = True
        view = [1] * fresh.dim()
        view[out_dim] = -1
        result = torch.where(old_out.view(view), torch.zeros_like(result), result)
    index = torch.meshgrid(*maps, indexing="ij")
    result[index] = src
    return result


def _param_inputs(net: VariableRateElic, k: int) -> list[int]:
    """Channel segments of group ``k``'s parameter-network input: spatial context, channel context
    (groups after the first), hyper parameters."""
    g = net.groups[k]
    return [2 * g] + ([2 * g] if k > 0 else []) + [2 * net.N]


def _segments(old: list[int], new: list[int]) -> Tensor:
    starts = torch.tensor([0] + new[:-1]).cumsum(0)
    return torch.cat([start + torch.arange(size) for start, size in zip(starts.tolist(), old)])


def _widen_gains(src: Tensor, channels: int) -> Tensor:
    """Per-quality gains of the new latent channels: the mean (in log) of the old ones."""
    extra = src.mean(dim=1, keepdim=True).expand(-1, channels - src.shape[1])
    return torch.cat([src, extra], dim=1)


def _widen_by_copy(src: Tensor, channels: int, model: int) -> Tensor:
    """The entropy bottleneck's per-channel densities of new hyper-latent channels: copies of the
    narrowest trained one's, ``model`` (those channels start near zero, where it is most peaked)."""
    extra = src[model:model + 1].expand(channels - src.shape[0], *src.shape[1:])
    return torch.cat([src, extra], dim=0)


__all__ = ["can_widen", "widen_state_dict"]
