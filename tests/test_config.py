"""Config: every field declares its doc, group and cache-key roles; the keys of cached stages are the
ones the parallel lists of settings gave before the fields declared them; docs/config.md is generated."""
import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from aelib import evaluate
from aelib.config import (PARADIGMS, PRESETS, SHARED_ROLES, TASKS, Config, knob, knob_names, make_config,
                          parse_sets, shared_settings)
from aelib.paradigms import phases
from aelib.train import shared_key

REPO = Path(__file__).resolve().parent.parent

# The frozen reference: the lists that keyed the cached stages before the fields declared their roles
# (aelib/train.py and aelib/evaluate.py at 07634c8). Never edit them: they pin every existing key.
OLD_SHARED_KEYS = ("task", "seed", "data_dir", "sample_rate", "train_snr_low", "train_snr_high", "rir_prob",
                   "speed_perturb", "n_fft", "hop", "ae_width", "ae_depth", "ae_loss", "ca_width", "n_mels",
                   "asr_units", "asr_time_stride", "asr_rnn_dim", "batch_size", "lr", "ae_lr", "weight_decay",
                   "grad_clip", "max_train_clips", "amp")
OLD_NOT_SHARED_KEYS = ("paradigm", "preset", "study", "run_root", "device", "test_snrs", "ae_epochs", "ca_epochs",
                       "rounds", "ae_epochs_per_round", "ca_epochs_per_round", "joint_lambda", "importance",
                       "importance_w_max", "importance_temperature", "budget_matched", "gate_nonstationary",
                       "max_eval_clips", "ae_metric_clips", "num_workers", "eval_pesq", "extra")
OLD_INPUT_QUALITY_KEYS = ("task", "seed", "data_dir", "sample_rate", "clip_seconds", "max_eval_clips",
                          "ae_metric_clips", "eval_pesq", "test_snrs")


def _old_hash(settings):
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def _old_shared_key(cfg, phase, data=""):
    """aelib.train.shared_key as it was, on the frozen lists."""
    d = cfg.to_dict()
    defaults = Config(task=cfg.task).to_dict()
    keys = {k: d[k] for k in OLD_SHARED_KEYS}
    keys.update({k: v for k, v in d.items()
                 if k not in OLD_SHARED_KEYS and k not in OLD_NOT_SHARED_KEYS and v != defaults[k]})
    keys["epochs"] = phase.epochs
    keys["phase"] = phase.name
    if data:
        keys["data"] = data
    return _old_hash(keys)


# --set overrides as a command line gives them: fields of each role, two of them "if_changed" ones
SETS = [
    [],
    ["ser_feature_norm=gain"],  # if_changed, off its default
    ["clip_seconds=2.0", "asr_beam=40"],  # if_changed
    ["asr_lm_weight=0.5"],  # if_changed, at its default (a preset value moved back to it)
    ["lr=0.002", "max_train_clips=64"],  # always
    ["max_eval_clips=3", "study=other", "importance=rank", "test_snrs=[0, 5]"],  # never
    ["data_dir=/elsewhere", "seed=2"],
]


def _configs():
    for preset in PRESETS:
        for task in TASKS:
            for paradigm in PARADIGMS:
                for sets in SETS:
                    yield make_config(preset, task=task, paradigm=paradigm, **parse_sets(sets))


def test_shared_key_equals_the_frozen_algorithm_for_every_config():
    n = 0
    for cfg in _configs():
        for phase in phases(cfg):
            for data in ("", "corpus-fingerprint"):
                assert shared_key(cfg, phase, data) == _old_shared_key(cfg, phase, data), \
                    (cfg.preset, cfg.task, cfg.paradigm, phase.name)
                n += 1
    assert n > len(PRESETS) * len(TASKS) * len(PARADIGMS) * len(SETS)


def test_input_quality_key_equals_the_frozen_list_for_every_config():
    for cfg in _configs():
        d = cfg.to_dict()
        old = _old_hash({k: d[k] for k in OLD_INPUT_QUALITY_KEYS})
        assert evaluate.InputQuality.for_run(cfg).path.name == f"input_quality-{old}.json"


def test_roles_keep_the_frozen_lists():
    """"always" is exactly the old list (a new "always" knob would change every existing key); every setting
    the old code kept out of the key stays "never"; the rest (the knobs added later) are "if_changed"."""
    assert knob_names(shared="always") == tuple(f for f in knob_names() if f in OLD_SHARED_KEYS)
    assert set(knob_names(shared="always")) == set(OLD_SHARED_KEYS)
    assert set(OLD_NOT_SHARED_KEYS) <= set(knob_names(shared="never"))
    assert set(knob_names(shared="if_changed")) == set(knob_names()) - set(OLD_SHARED_KEYS) - set(OLD_NOT_SHARED_KEYS)
    assert set(evaluate.INPUT_QUALITY_KEYS) == set(OLD_INPUT_QUALITY_KEYS)


def test_every_field_declares_its_doc_group_and_roles():
    for f in dataclasses.fields(Config):
        m = f.metadata
        assert m["doc"] and m["group"], f.name
        assert m["shared"] in SHARED_ROLES and isinstance(m["input_quality"], bool), f.name
    assert dataclasses.fields(Config)[-1].default_factory is dict  # a mutable default is made per Config
    assert Config().extra is not Config().extra
    with pytest.raises(ValueError, match="unknown shared role"):
        knob(0, "x", group="g", shared="sometimes")


def test_shared_settings_add_an_if_changed_knob_only_off_its_default():
    cfg = make_config("smoke", task="ser", paradigm="clean")
    assert set(shared_settings(cfg)) == set(OLD_SHARED_KEYS)
    changed = shared_settings(make_config("smoke", task="ser", paradigm="clean", ser_feature_norm="gain"))
    assert set(changed) - set(OLD_SHARED_KEYS) == {"ser_feature_norm"} and changed["ser_feature_norm"] == "gain"


def _knobs_module():
    spec = importlib.util.spec_from_file_location("knobs", REPO / "scripts" / "knobs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_docs_config_md_is_generated_and_up_to_date(tmp_path, monkeypatch):
    """docs/config.md is written by scripts/knobs.py from the fields: a stale table fails here."""
    knobs = _knobs_module()
    text = (REPO / "docs" / "config.md").read_text()
    assert text.splitlines()[0].startswith("Generated by `python scripts/knobs.py`; do not edit")
    assert text == knobs.render(), "docs/config.md is stale: run `python scripts/knobs.py` and commit"
    for f in dataclasses.fields(Config):
        assert f"| `{f.name}` |" in text
    assert "| `ca_epochs` | `int` | `6` | `1` | `8`; kws `16`; asr `12` | `40` | `never` |" in text
    stale = tmp_path / "config.md"
    stale.write_text(text.replace("`16`", "`17`"))
    monkeypatch.setattr("sys.argv", ["knobs", "--out", str(stale), "--check"])
    assert knobs.main() == 1
    monkeypatch.setattr("sys.argv", ["knobs", "--out", str(stale)])
    assert knobs.main() == 0 and stale.read_text() == text
