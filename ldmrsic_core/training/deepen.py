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

#: A Transformer block's parameters: its module path, then the part inside the block.
_BLOCK = re.compile(r"^(men\.(?:encoders\.\d|decoders\.\d|bottleneck|refine)\.\d+)\.(.+)$")
#: The block's output projections, zero in a new block.
_OUTPUTS = ("attn.project.weight", "attn.project.bias", "ffn.reduce.weight", "ffn.reduce.bias")


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
    new_blocks = {m.group(1) for k in missing if (m := _BLOCK.match(k))}
    stray = [k for k in missing if not (m := _BLOCK.match(k)) or m.group(1) not in new_blocks]
    if unexpected or [k for k in stray if ".level" not in k]:
        raise RuntimeError(f"enhancer weights do not match: missing {stray}, unexpected {unexpected}")
    state = net.state_dict()
    for block in new_blocks:
        for part in _OUTPUTS:
            state[f"{block}.{part}"].zero_()
