"""Warm-start a deeper enhancer from a trained one without changing what it computes.

A configuration with more Transformer blocks than a trained enhancer's (more ``blocks`` at a level,
more ``refinement`` blocks at full resolution), and the same everything else, starts from the trained
weights: each old tensor goes to its place, and each new block starts as the identity — a residual
block whose two output projections (MDTA's ``project``, GDFN's ``reduce``) are zero adds nothing, and
its other weights keep their fresh initialisation so that the projections get a gradient at once.
This is how issue 17 §5 asks whether the enhancer is short of capacity at the top rates, at equal
steps from the shipped enhancer, instead of training a larger one from nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch
from torch import Tensor

from ldmrsic_core.enhance.enhancer import Enhancer, EnhancerConfig
from ldmrsic_core.errors import InputError

#: The module path of a Transformer block, at the start of its parameters' names.
_BLOCK = re.compile(r"^men\.(?:encoders\.\d|decoders\.\d|bottleneck|refine)\.\d+(?=\.)")
#: The block's output projections, zero in a new block.
_OUTPUTS = ("attn.project.weight", "attn.project.bias", "ffn.reduce.weight", "ffn.reduce.bias")


def _block(key: str) -> str | None:
    """The Transformer block a parameter belongs to (None: not in a block)."""
    m = _BLOCK.match(key)
    return m.group(0) if m else None


def can_deepen(old: EnhancerConfig, new: EnhancerConfig) -> bool:
    """Whether ``new`` is ``old`` with as many or more blocks at every level and in the refinement."""
    return (all(b >= a for a, b in zip(old.blocks, new.blocks)) and new.refinement >= old.refinement
            and replace(new, name=old.name, blocks=old.blocks, refinement=old.refinement, summary=old.summary) == old)


@torch.no_grad()
def deepen(net: Enhancer, old_state: dict[str, Tensor], old: EnhancerConfig) -> None:
    """Load ``old_state`` (of configuration ``old``) into the deeper ``net``; its new blocks become identities."""
    if not can_deepen(old, net.cfg):
        raise InputError(f"enhancer configuration {net.cfg.name} is not {old.name} with more blocks: "
                         "it cannot start from its weights")
    missing, unexpected = net.load_state_dict(old_state, strict=False)
    state = net.state_dict()
    new_blocks = {_block(k) for k in missing} - {None}
    partly_loaded = [k for k in state if _block(k) in new_blocks and k not in missing]
    stray = [k for k in missing if _block(k) not in new_blocks and ".level" not in k]  # levels: older weights
    if unexpected or partly_loaded or stray:
        raise RuntimeError(f"enhancer weights do not match: missing {stray}, partly loaded blocks "
                           f"{partly_loaded}, unexpected {unexpected}")
    for block in new_blocks:
        for part in _OUTPUTS:
            state[f"{block}.{part}"].zero_()
