"""Trainer behaviour: resume equals an uninterrupted run, non-finite loss stops cleanly, shared phases."""
import json

import pytest
import torch

import aelib.train as train_mod
from aelib.config import knob_names, make_config
from aelib.data import load_data
from aelib.device import seed_everything
from aelib.runs import build_ae
from aelib.tasks import get_task
from aelib.train import NonFiniteLossError, Trainer

from .fake_corpus import make_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_corpus(tmp_path_factory.mktemp("fake"))


def _trainer(root, run_root, paradigm="iterative", **kw):
    cfg = make_config("smoke", task="kws", paradigm=paradigm, data_dir=str(root), run_root=str(run_root),
                      ae_epochs=2, ca_epochs=2, **kw)
    seed_everything(cfg.seed)
    task = get_task("kws")
    data = load_data(cfg, task)
    return Trainer(cfg, data, build_ae(cfg), task.build_model(cfg, data.labels), cfg.run_dir, progress=False)


def _state(tr):
    return {f"{k}.{n}": v.clone() for k, m in tr.models().items() for n, v in m.state_dict().items()}


@pytest.mark.parametrize("schedule,ema", [("constant", 0.0), ("cosine", 0.0), ("constant", 0.5)])
def test_resume_matches_uninterrupted(fake_root, tmp_path, monkeypatch, schedule, ema):
    ref = _trainer(fake_root, tmp_path / "a", ca_lr_schedule=schedule, ca_ema_halflife=ema)
    ref.fit()
    calls = {"n": 0}
    orig = Trainer.train_epoch

    def crashing(self, phase, epoch, opt, ema=None):
        calls["n"] += 1
        if calls["n"] == 4:  # dies in the middle of the run (third epoch of ae/ca, i.e. ca_clean epoch 2)
            raise KeyboardInterrupt
        return orig(self, phase, epoch, opt, ema)

    monkeypatch.setattr(Trainer, "train_epoch", crashing)
    with pytest.raises(KeyboardInterrupt):
        _trainer(fake_root, tmp_path / "b", ca_lr_schedule=schedule, ca_ema_halflife=ema).fit()
    monkeypatch.setattr(Trainer, "train_epoch", orig)
    resumed = _trainer(fake_root, tmp_path / "b", ca_lr_schedule=schedule, ca_ema_halflife=ema)
    resumed.fit()
    a, b = _state(ref), _state(resumed)
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k
    hist = json.loads((resumed.run_dir / "history.json").read_text())
    assert [h["phase"] for h in hist] == [h["phase"] for h in ref.history]


def test_lr_factor():
    assert train_mod.lr_factor("constant", 0.7) == 1.0
    assert train_mod.lr_factor("cosine", 0.0) == 1.0
    assert train_mod.lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert train_mod.lr_factor("cosine", 0.99) < 0.001
    with pytest.raises(ValueError, match="unknown lr schedule"):
        train_mod.lr_factor("step", 0.5)
    with pytest.raises(ValueError, match="ca_lr_schedule"):
        make_config("smoke", ca_lr_schedule="step")


@pytest.mark.parametrize("annealed", ["ca", "ae"])
def test_cosine_schedule_anneals_the_model_it_is_set_for(fake_root, tmp_path, monkeypatch, annealed):
    """In a joint phase the lr of the model whose schedule is cosine (``ca_lr_schedule`` or ``ae_lr_schedule``)
    follows the cosine within the phase while the other model's stays constant."""
    tr = _trainer(fake_root, tmp_path, paradigm="joint", lr=1e-3, ae_lr=4e-4, **{f"{annealed}_lr_schedule": "cosine"})
    seen = []
    orig = train_mod.step_loss

    def spy(phase, *a, **k):
        if phase.step == "joint":
            seen.append([g["lr"] for g in opt_ref["opt"].param_groups])
        return orig(phase, *a, **k)

    opt_ref = {}
    orig_opt = Trainer.optimizer

    def keep(self, phase):
        opt_ref["opt"] = orig_opt(self, phase)
        return opt_ref["opt"]

    monkeypatch.setattr(Trainer, "optimizer", keep)
    monkeypatch.setattr(train_mod, "step_loss", spy)
    tr.fit()
    lrs = dict(zip(("ae", "ca"), zip(*seen)))  # joint trains ("ae", "ca"), in that order
    base = {"ae": 4e-4, "ca": 1e-3}
    fixed = "ae" if annealed == "ca" else "ca"
    assert set(lrs[fixed]) == {base[fixed]}
    falling = lrs[annealed]
    assert falling[0] == pytest.approx(base[annealed]) and list(falling) == sorted(falling, reverse=True)
    assert falling[-1] < 0.5 * base[annealed]


def test_non_finite_loss_stops_and_keeps_checkpoint(fake_root, tmp_path, monkeypatch):
    tr = _trainer(fake_root, tmp_path, paradigm="noisy")
    orig = train_mod.step_loss
    calls = {"n": 0}

    def nan_later(*a, **k):
        loss, info = orig(*a, **k)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] > 4 else loss), info

    monkeypatch.setattr(train_mod, "step_loss", nan_later)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
        tr.fit()
    ckpt = torch.load(tr.ckpt_dir / "checkpoint.th", weights_only=False)
    assert ckpt["epoch"] == 1 and all(torch.isfinite(v).all() for v in ckpt["models"]["ca"].values()
                                      if v.is_floating_point())


def test_shared_phase_is_computed_once(fake_root, tmp_path, monkeypatch):
    _trainer(fake_root, tmp_path, paradigm="cascade").fit()
    ran = []
    orig = Trainer.run_phase

    def spy(self, pi, *a, **k):
        ran.append(self.phases[pi].name)
        return orig(self, pi, *a, **k)

    monkeypatch.setattr(Trainer, "run_phase", spy)
    _trainer(fake_root, tmp_path, paradigm="joint").fit()
    assert ran == ["joint"], "ae_pretrain should be reused from the cascade run"


def test_shared_key_follows_settings_outside_the_fixed_list():
    """A setting tagged shared="if_changed" (e.g. ser_feature_norm, clip_seconds) still separates shared phases when
    set, while at its default it leaves the key as it was (shared stages made before it existed stay valid)."""
    import hashlib

    from aelib.paradigms import phases

    cfg = make_config("smoke", task="ser", paradigm="clean")
    phase = phases(cfg)[0]
    d = cfg.to_dict()
    old = {k: d[k] for k in knob_names(shared="always")} | {"epochs": phase.epochs, "phase": phase.name}
    assert train_mod.shared_key(cfg, phase) == hashlib.sha1(json.dumps(old, sort_keys=True).encode()).hexdigest()[:10]
    for change in (dict(ser_feature_norm="gain"), dict(clip_seconds=2.0)):
        assert train_mod.shared_key(make_config("smoke", task="ser", paradigm="clean", **change), phase) != \
            train_mod.shared_key(cfg, phase)
    for same in (dict(paradigm="cascade"), dict(study="other"), dict(max_eval_clips=3)):
        assert train_mod.shared_key(make_config("smoke", task="ser", **same), phase) == train_mod.shared_key(cfg, phase)


def test_weight_average_is_the_ema_it_says_and_gives_the_weights_back():
    """decay from a half-life in epochs; averaged weights as a hand-computed EMA; swapped() restores the model's own."""
    from aelib.averaging import WeightAverage, decay_for
    assert decay_for(2.0, 10) ** 20 == pytest.approx(0.5)
    m = torch.nn.Linear(2, 1, bias=False)
    avg, values, d = WeightAverage(m, 1.0), [], decay_for(1.0, 4)
    for v in (1.0, 2.0, 3.0):
        with torch.no_grad():
            m.weight.fill_(v)
        avg.update(4)
        values.append(v)
    expect = values[0]
    for v in values[1:]:
        expect = d * expect + (1 - d) * v
    with avg.swapped():
        assert torch.allclose(m.weight, torch.full_like(m.weight, expect))
    assert torch.equal(m.weight, torch.full_like(m.weight, 3.0))
    again = WeightAverage(m, 1.0)
    again.load_state_dict(avg.state_dict())
    with again.swapped():
        assert torch.allclose(m.weight, torch.full_like(m.weight, expect))


def test_weight_average_changes_the_kept_ca_only_when_on(fake_root, tmp_path):
    """ca_ema_halflife > 0: the CA kept at the end differs from plain training; the AE's phases are untouched."""
    plain = _trainer(fake_root, tmp_path / "a", paradigm="cascade")
    plain.fit()
    avg = _trainer(fake_root, tmp_path / "b", paradigm="cascade", ca_ema_halflife=0.5)
    avg.fit()
    a, b = _state(plain), _state(avg)
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("ae."))
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("ca.") and a[k].is_floating_point())
