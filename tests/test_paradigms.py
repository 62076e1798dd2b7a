"""What trains on what: the gradient-flow semantics of every paradigm (DESIGN.md)."""
import copy

import pytest
import torch

from aelib.config import make_config
from aelib.data import load_data
from aelib.device import seed_everything
from aelib.importance import importance_weights
from aelib.losses import ae_loss
from aelib.paradigms import Phase, phases, step_loss
from aelib.runs import build_ae
from aelib.tasks import get_task
from aelib.train import Trainer

from .fake_corpus import make_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_corpus(tmp_path_factory.mktemp("fake"))


def _setup(root, tmp_path, task="kws", paradigm="iterative", **kw):
    cfg = make_config("smoke", task=task, paradigm=paradigm, data_dir=str(root), run_root=str(tmp_path), **kw)
    seed_everything(cfg.seed)
    t = get_task(task)
    data = load_data(cfg, t)
    ae, ca = build_ae(cfg), t.build_model(cfg, data.labels)
    return cfg, t, data, ae, ca


def _batch(data, n=4):
    ds = data.train_set()
    return next(iter(data.loader(ds, shuffle=False)))


def _params(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("paradigm,expected", [
    ("clean", ["ca_clean"]), ("noisy", ["ca_noisy"]), ("cascade", ["ae_pretrain", "ca_enhanced"]),
    ("joint", ["ae_pretrain", "joint"]),
    ("iterative", ["ae_pretrain", "ca_clean", "round1_ae", "round1_ca", "round2_ae", "round2_ca"]),
    ("noisereduce", ["ca_gated"]),
])
def test_phase_lists(paradigm, expected):
    cfg = make_config("smoke", paradigm=paradigm, rounds=2)
    assert [p.name for p in phases(cfg)] == expected


def test_budget_matched_cascade_gets_iterative_epochs():
    """The equal-budget ablation: same AE epochs and same CA epochs as iterative, counted phase by phase."""
    kw = dict(rounds=3, ae_epochs=2, ca_epochs=4, ae_epochs_per_round=1, ca_epochs_per_round=2)

    def epochs(paradigm, step_kinds, **extra):
        return sum(p.epochs for p in phases(make_config("smoke", paradigm=paradigm, **kw, **extra))
                   if p.step in step_kinds)

    assert epochs("cascade", ("ae",), budget_matched=True) == epochs("iterative", ("ae", "ae_weighted")) == 5
    assert epochs("cascade", ("ca",), budget_matched=True) == epochs("iterative", ("ca",)) == 10
    assert epochs("cascade", ("ae",)) == 2


def test_cascade_ca_phase_leaves_ae_untouched(fake_root, tmp_path):
    cfg, task, data, ae, ca = _setup(fake_root, tmp_path, paradigm="cascade")
    tr = Trainer(cfg, data, ae, ca, tmp_path / "run", progress=False)
    phase = tr.phases[1]
    assert phase.name == "ca_enhanced"
    ae_before, ca_before = _params(ae), _params(ca)
    tr.train_epoch(phase, 0, tr.optimizer(phase))
    assert _same(ae_before, _params(ae)), "AE weights or BN statistics changed while the CA trained"
    assert not _same(ca_before, _params(ca))


def test_iterative_ae_update_is_weighted_ae_loss_alone(fake_root, tmp_path):
    cfg, task, data, ae, ca = _setup(fake_root, tmp_path)
    phase = Phase("round1_ae", "ae_weighted", 1, ca_input="enhanced")
    batch = _batch(data)
    ae.train(); ca.eval()
    ca_before = _params(ca)
    loss, info = step_loss(phase, batch, ae, ca, task, cfg)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in ae.named_parameters()}
    assert all(p.grad is None for p in ca.parameters()), "the CA received gradients in the AE phase"
    assert _same(ca_before, _params(ca))
    # the same update from the weighted AE loss alone, with the weights held as constants
    ae.zero_grad()
    w = info["weights"]
    est = ae(batch["noisy"])
    l_ae = ae_loss(cfg.ae_loss)(est, batch["clean"], batch["noisy"])
    ((w * l_ae).sum() / w.sum()).backward()
    for n, p in ae.named_parameters():
        assert torch.allclose(p.grad, grads[n], atol=1e-6), n
    assert not info["weights"].requires_grad


def test_uniform_importance_reproduces_unweighted_ae_training(fake_root, tmp_path):
    cfg, task, data, ae, ca = _setup(fake_root, tmp_path, importance="uniform")
    batch = _batch(data)
    weighted, _ = step_loss(Phase("r", "ae_weighted", 1), batch, ae, ca, task, cfg)
    plain, _ = step_loss(Phase("p", "ae", 1, select_by="ae"), batch, ae, ca, task, cfg)
    assert torch.allclose(weighted, plain, atol=1e-6)


def test_joint_ca_loss_reaches_both(fake_root, tmp_path):
    cfg, task, data, ae, ca = _setup(fake_root, tmp_path, paradigm="joint", joint_lambda=1.0)
    batch = _batch(data)
    phase = Phase("joint", "joint", 1, ca_input="enhanced")
    loss, _ = step_loss(phase, batch, ae, ca, task, cfg)
    loss.backward()
    g_joint = torch.cat([p.grad.flatten() for p in ae.parameters() if p.grad is not None])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ca.parameters())
    ae.zero_grad(); ca.zero_grad()
    cfg0 = copy.replace(cfg, joint_lambda=0.0) if hasattr(copy, "replace") else None
    if cfg0 is None:
        import dataclasses
        cfg0 = dataclasses.replace(cfg, joint_lambda=0.0)
    loss0, _ = step_loss(phase, batch, ae, ca, task, cfg0)
    loss0.backward()
    g_ae_only = torch.cat([p.grad.flatten() for p in ae.parameters() if p.grad is not None])
    assert not torch.allclose(g_joint, g_ae_only), "the CA loss did not reach the AE in joint training"


def test_importance_weights_follow_ca_loss(fake_root, tmp_path):
    cfg, task, data, ae, ca = _setup(fake_root, tmp_path)
    _, info = step_loss(Phase("r", "ae_weighted", 1), _batch(data), ae, ca, task, cfg)
    order_w = torch.argsort(info["weights"])
    assert torch.all(info["ca_loss"][order_w][1:] >= info["ca_loss"][order_w][:-1] - 1e-6)
    expected = importance_weights(info["ca_loss"], cfg.importance, w_max=cfg.importance_w_max)
    assert torch.allclose(info["weights"], expected)
