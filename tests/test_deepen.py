"""A deeper enhancer warm-started from a trained one (``training/deepen.py``): it computes the same
at step 0, its new blocks learn, and a configuration that is not the old one plus blocks is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ldmrsic_core.errors import InputError
from ldmrsic_core.training.deepen import can_deepen, deepen
from ldmrsic_core.zoo.configs import ENHANCER_CONFIGS

TINY = ENHANCER_CONFIGS["men-tiny"]


def _trained_tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    net = TINY.build()
    torch.nn.init.normal_(net.men.out.weight, std=0.05)  # a correction that is not zero
    torch.nn.init.normal_(net.men.level_in.weight, std=1.0)
    return net.eval()


@pytest.mark.parametrize("blocks, refinement", [((1, 1, 1, 1), 1), ((2, 1, 2, 1), 0), ((1, 1, 1, 3), 2)])
def test_a_deeper_enhancer_starts_computing_what_the_trained_one_does(blocks, refinement):
    old = _trained_tiny()
    deeper = replace(TINY, name="deeper", blocks=blocks, refinement=refinement)
    net = deeper.build().eval()
    deepen(net, old.state_dict(), TINY)
    x = torch.rand(2, 3, 64, 64)
    tokens = torch.randn(2, 1, TINY.prior_dim)
    level = torch.tensor([[0.2], [0.9]])
    with torch.no_grad():
        expected, got = old.men(x, tokens, level), net.men(x, tokens, level)
    assert (expected - x).abs().max() > 1e-3  # the trained network does something
    assert torch.allclose(got, expected, atol=1e-6)


def test_the_new_blocks_learn():
    net = replace(TINY, name="deeper", refinement=1).build()
    deepen(net, _trained_tiny().state_dict(), TINY)
    x = torch.rand(1, 3, 64, 64)
    loss = (net.men(x, torch.randn(1, 1, TINY.prior_dim), torch.tensor([[0.5]])) - x.flip(-1)).pow(2).mean()
    loss.backward()
    grads = {name: p.grad for name, p in net.men.refine.named_parameters()}
    assert grads["0.attn.project.weight"].abs().sum() > 0 and grads["0.ffn.reduce.weight"].abs().sum() > 0


def test_only_more_blocks_of_the_same_network_can_start_from_it():
    assert can_deepen(TINY, replace(TINY, name="x", refinement=2))
    assert not can_deepen(TINY, replace(TINY, name="x", blocks=(0, 1, 1, 1)))  # fewer blocks
    assert not can_deepen(TINY, replace(TINY, name="x", channels=(8, 16, 32, 128)))  # other widths
    assert not can_deepen(TINY, ENHANCER_CONFIGS["men-small"])
    with pytest.raises(InputError, match="cannot start from its weights"):
        deepen(ENHANCER_CONFIGS["men-small-r1"].build(), _trained_tiny().state_dict(), TINY)
    assert can_deepen(ENHANCER_CONFIGS["men-small"], ENHANCER_CONFIGS["men-small-r1"])


def test_a_block_loaded_in_part_is_a_mismatch():
    deeper = replace(TINY, name="deeper", refinement=1)
    state = _trained_tiny().state_dict()
    state["men.refine.0.norm1.weight"] = deeper.build().state_dict()["men.refine.0.norm1.weight"]
    with pytest.raises(RuntimeError, match="partly loaded blocks"):
        deepen(deeper.build(), state, TINY)
