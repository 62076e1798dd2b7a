"""Importance weights: non-negative, mean one, monotone, detached, clipped, degenerate batches."""
from __future__ import annotations

import pytest
import torch

from aelib.importance import METHODS, importance_weights

LOSSES = torch.tensor([0.1, 2.0, 0.5, 0.5, 7.0, 0.0, 1.2, 3.3])


def test_methods():
    assert METHODS == ("ratio", "softmax", "rank", "uniform")


@pytest.mark.parametrize("method", METHODS)
def test_non_negative_detached_and_shaped(method):
    losses = LOSSES.clone().requires_grad_(True)
    w = importance_weights(losses * 1.0, method)
    assert w.shape == LOSSES.shape
    assert not w.requires_grad and w.grad_fn is None
    assert (w >= 0).all()


@pytest.mark.parametrize("method,kw", [("ratio", dict(w_max=1e9)), ("softmax", {}), ("softmax", dict(temperature=0.3)),
                                       ("rank", {}), ("uniform", {})])
def test_mean_one_before_clipping(method, kw):
    w = importance_weights(LOSSES, method, **kw)
    assert torch.isclose(w.mean(), torch.tensor(1.0), atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_monotone_in_loss(method):
    g = torch.Generator().manual_seed(0)
    losses = torch.rand(32, generator=g) * 5
    w = importance_weights(losses, method)
    order = torch.argsort(losses)
    assert (w[order].diff() >= -1e-7).all()


def test_ratio_values_and_clip():
    w = importance_weights(torch.tensor([1.0, 1.0, 1.0, 9.0]), "ratio", w_max=2.0)
    assert torch.allclose(w, torch.tensor([1 / 3, 1 / 3, 1 / 3, 2.0]))
    w = importance_weights(LOSSES, "ratio", w_max=1.5)
    assert w.max() <= 1.5
    assert torch.allclose(importance_weights(LOSSES, "ratio", w_max=1e9), LOSSES / LOSSES.mean())


def test_ratio_is_scale_free():
    assert torch.allclose(importance_weights(LOSSES, "ratio"), importance_weights(100 * LOSSES, "ratio"))


def test_softmax_temperature():
    sharp = importance_weights(LOSSES, "softmax", temperature=0.1)
    flat = importance_weights(LOSSES, "softmax", temperature=100.0)
    assert sharp.std() > flat.std()
    assert torch.allclose(flat, torch.ones(8), atol=0.05)


def test_rank_values_and_ties():
    w = importance_weights(torch.tensor([3.0, 1.0, 2.0]), "rank")
    assert torch.allclose(w, torch.tensor([2.0, 0.0, 1.0]))
    w = importance_weights(LOSSES, "rank")
    assert w[2] == w[3]  # tied losses share their average rank
    assert importance_weights(LOSSES * 1e6, "rank").equal(w)  # only the order matters


def test_uniform_is_ones():
    assert importance_weights(LOSSES, "uniform").equal(torch.ones(8))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("losses", [torch.tensor([2.5]), torch.zeros(6), torch.tensor([float("nan"), 1.0])])
def test_degenerate_batches_give_ones(method, losses):
    assert importance_weights(losses, method).equal(torch.ones_like(losses))


def test_bad_input():
    with pytest.raises(ValueError, match="unknown importance method"):
        importance_weights(LOSSES, "focal")
    with pytest.raises(TypeError):
        importance_weights(LOSSES[None], "ratio")
    with pytest.raises(ValueError):
        importance_weights(LOSSES, "softmax", temperature=0.0)


def test_weighted_ae_loss_has_no_gradient_path_through_weights():
    ca_losses = torch.rand(4, requires_grad=True)
    ae_losses = torch.rand(4, requires_grad=True)
    w = importance_weights(ca_losses, "softmax")
    ((w * ae_losses).sum() / w.sum()).backward()
    assert ca_losses.grad is None and ae_losses.grad is not None
