"""Per-sample losses: wSDR, SI-SDR, spectral MSE, dispatch, CE and length-normalised CTC."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aelib.losses import (AE_LOSSES, ae_loss, bag_of_units_loss, ce_loss, ctc_loss, neg_sisdr, spectral_mse,
                          wsdr_loss)


def _signals(b=4, t=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    clean = torch.randn(b, t, generator=g)
    noisy = clean + 0.5 * torch.randn(b, t, generator=g)
    est = clean + 0.2 * torch.randn(b, t, generator=g)
    return est, clean, noisy


def _wsdr_numpy(est, clean, noisy):
    out = []
    for yh, y, x in zip(est.double().numpy(), clean.double().numpy(), noisy.double().numpy()):
        z, zh = x - y, x - yh
        cos = lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b))  # noqa: E731
        a = (y @ y) / (y @ y + z @ z)
        out.append(-a * cos(y, yh) - (1 - a) * cos(z, zh))
    return np.array(out)


def test_wsdr_perfect_estimate_is_minus_one():
    _, clean, noisy = _signals()
    assert torch.allclose(wsdr_loss(clean, clean, noisy), torch.full((4,), -1.0), atol=1e-5)


def test_wsdr_matches_numpy_and_is_bounded():
    est, clean, noisy = _signals()
    got = wsdr_loss(est, clean, noisy)
    assert got.shape == (4,)
    np.testing.assert_allclose(got.numpy(), _wsdr_numpy(est, clean, noisy), atol=1e-5)
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        rnd = torch.randn(4, 4000, generator=g) * torch.rand(4, 1, generator=g) * 10
        v = wsdr_loss(rnd, clean, noisy)
        assert ((v >= -1 - 1e-6) & (v <= 1 + 1e-6)).all()
    assert (wsdr_loss(-clean, clean, noisy) > wsdr_loss(est, clean, noisy)).all()  # phase-inverted is worse


def test_wsdr_clean_input_and_zero_estimate_are_finite():
    _, clean, _ = _signals()
    assert torch.allclose(wsdr_loss(clean, clean, clean), torch.full((4,), -1.0), atol=1e-5)  # z = 0
    assert torch.isfinite(wsdr_loss(torch.zeros_like(clean), clean, clean)).all()


def test_wsdr_gradient_is_finite():
    est, clean, noisy = _signals()
    est.requires_grad_(True)
    wsdr_loss(est, clean, noisy).sum().backward()
    assert torch.isfinite(est.grad).all()


def test_neg_sisdr_matches_torchmetrics():
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_sisdr

    est, clean, _ = _signals()
    for zero_mean in (True, False):
        ours = neg_sisdr(est, clean, zero_mean=zero_mean)
        ref = tm_sisdr(est, clean, zero_mean=zero_mean)
        assert ours.shape == (4,)
        assert torch.allclose(ours, -ref, atol=1e-3)


def test_neg_sisdr_is_scale_invariant():
    est, clean, _ = _signals()
    assert torch.allclose(neg_sisdr(3 * est, clean), neg_sisdr(est, clean), atol=1e-4)


def test_spectral_mse():
    est, clean, _ = _signals()
    assert torch.allclose(spectral_mse(clean, clean), torch.zeros(4), atol=1e-7)
    v = spectral_mse(est, clean)
    assert v.shape == (4,) and (v > 0).all()
    est.requires_grad_(True)
    spectral_mse(est, clean).sum().backward()
    assert torch.isfinite(est.grad).all()


@pytest.mark.parametrize("name", sorted(AE_LOSSES))
def test_ae_loss_dispatch(name):
    est, clean, noisy = _signals()
    v = ae_loss(name)(est, clean, noisy)
    assert v.shape == (4,)
    perfect = ae_loss(name)(clean, clean, noisy)
    assert (perfect < v).all()  # the perfect estimate is better for every loss


def test_ae_loss_unknown():
    with pytest.raises(ValueError, match="unknown AE loss"):
        ae_loss("l1")


@pytest.mark.parametrize("fn", [lambda a, b: wsdr_loss(a, b, b), neg_sisdr, spectral_mse])
@pytest.mark.parametrize("shape", [(4000,), (2, 1, 4000)])
def test_bad_shapes_raise(fn, shape):
    x = torch.zeros(shape)
    with pytest.raises(TypeError, match=r"Inputs must be of shape \[batch, time\]"):
        fn(x, x)


def test_mismatched_shapes_raise():
    with pytest.raises(TypeError):
        neg_sisdr(torch.zeros(2, 100), torch.zeros(2, 101))


def test_ce_loss_per_sample():
    logits = torch.randn(5, 3)
    target = torch.tensor([0, 1, 2, 1, 0])
    v = ce_loss(logits, target)
    assert v.shape == (5,)
    assert torch.allclose(v.mean(), F.cross_entropy(logits, target))
    with pytest.raises(TypeError):
        ce_loss(logits, target[:, None])


def test_ctc_loss_is_normalised_by_target_length():
    torch.manual_seed(0)
    log_probs = torch.randn(3, 30, 6).log_softmax(-1)
    out_len = torch.tensor([30, 25, 20])
    targets = torch.tensor([[1, 2, 3, 4], [2, 2, 0, 0], [5, 0, 0, 0]])
    tgt_len = torch.tensor([4, 2, 1])
    v = ctc_loss(log_probs, out_len, targets, tgt_len)
    raw = F.ctc_loss(log_probs.transpose(0, 1), targets, out_len, tgt_len, reduction="none")
    assert v.shape == (3,)
    assert torch.allclose(v, raw / tgt_len)
    assert torch.allclose(v.mean(), F.ctc_loss(log_probs.transpose(0, 1), targets, out_len, tgt_len).mean())


def test_ctc_loss_infeasible_is_zero_not_inf():
    log_probs = torch.randn(2, 3, 6).log_softmax(-1)
    targets = torch.tensor([[1, 2, 3, 4, 5], [1, 0, 0, 0, 0]])
    v = ctc_loss(log_probs, torch.tensor([3, 3]), targets, torch.tensor([5, 1]))
    assert torch.isfinite(v).all() and v[0] == 0 and v[1] > 0


def _peaked(frames: int, vocab: int, emit: dict[int, int]) -> torch.Tensor:
    """log-probs [1, frames, vocab]: blank everywhere except frame -> unit in ``emit`` (probability ~1)."""
    logits = torch.full((1, frames, vocab), -20.0)
    logits[0, :, 0] = 0.0
    for t, u in emit.items():
        logits[0, t] = -20.0
        logits[0, t, u] = 0.0
    return logits.log_softmax(-1)


def test_bag_of_units_loss_small_when_exactly_the_transcript_units_fire():
    target, tgt_len = torch.tensor([[1, 3, 0]]), torch.tensor([2])
    out_len = torch.tensor([6])
    right = bag_of_units_loss(_peaked(6, 5, {1: 1, 4: 3}), out_len, target, tgt_len)
    missing = bag_of_units_loss(_peaked(6, 5, {1: 1}), out_len, target, tgt_len)  # unit 3 never fires
    extra = bag_of_units_loss(_peaked(6, 5, {1: 1, 2: 2, 4: 3}), out_len, target, tgt_len)  # unit 2 is not said
    assert right.shape == (1,) and right.item() < 1e-3
    assert missing.item() > 5 and extra.item() > 5  # each error costs about log(1/P) of one unit, / 2 symbols
    # padding (a target 0 beyond the length) is not read as "blank is present", and the blank is never scored
    assert torch.allclose(right, bag_of_units_loss(_peaked(6, 5, {1: 1, 4: 3}), out_len, torch.tensor([[1, 3]]),
                                                   tgt_len))


def test_bag_of_units_loss_ignores_frames_past_the_output_length():
    target, tgt_len = torch.tensor([[2]]), torch.tensor([1])
    fires_late = _peaked(8, 4, {6: 2})
    assert bag_of_units_loss(fires_late, torch.tensor([8]), target, tgt_len).item() < 1e-3
    assert bag_of_units_loss(fires_late, torch.tensor([5]), target, tgt_len).item() > 5  # frame 6 is padding


def test_bag_of_units_loss_gives_gradient_where_ctc_is_flat():
    """An all-blank model: CTC's gradient is spread over every alignment; the bag term pushes the word up."""
    logits = torch.zeros(1, 10, 6)
    logits[0, :, 0] = 5.0
    logits.requires_grad_()
    bag_of_units_loss(logits.log_softmax(-1), torch.tensor([10]), torch.tensor([[4]]), torch.tensor([1])).backward()
    g = logits.grad[0]
    assert (g[:, 4] <= 0).all() and g[:, 4].sum() < -0.5  # raising unit 4's logit lowers the loss (ties share it)
    assert (g[:, [1, 2, 3, 5]] >= 0).all()  # absent units are pushed down
