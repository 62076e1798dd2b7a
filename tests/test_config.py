"""Config: every field declares its doc, group and cache-key roles; the keys of cached stages are the
ones the parallel lists of settings gave before the fields declared them; docs/config.md is generated;
every field checks its values (one ConfigError naming field, value and what is allowed), --set values are
read as the field's type, and the committed runs' configs still validate. The property tests over every
field: tests/test_config_properties.py."""
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from aelib import evaluate
from aelib.config import (PARADIGMS, PRESETS, SHARED_ROLES, TASKS, Config, ConfigError, knob, knob_names,
                          make_config, parse_sets, shared_settings)
from aelib.paradigms import phases
from aelib.train import shared_key

from .scripts import load_script

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
    return load_script("knobs")


def test_docs_config_md_is_generated_and_up_to_date(tmp_path, monkeypatch):
    """docs/config.md is written by scripts/knobs.py from the fields: a stale table fails here."""
    knobs = _knobs_module()
    text = (REPO / "docs" / "config.md").read_text()
    assert text.splitlines()[0].startswith("Generated by `python scripts/knobs.py`; do not edit")
    assert text == knobs.render(), "docs/config.md is stale: run `python scripts/knobs.py` and commit"
    for f in dataclasses.fields(Config):
        assert f"| `{f.name}` |" in text
    assert "| `ca_epochs` | `int` | `6` | `1` | `8`; kws `16`; asr `8` | `40` | `never` |" in text
    stale = tmp_path / "config.md"
    stale.write_text(text.replace("`16`", "`17`"))
    monkeypatch.setattr("sys.argv", ["knobs", "--out", str(stale), "--check"])
    assert knobs.main() == 1
    monkeypatch.setattr("sys.argv", ["knobs", "--out", str(stale)])
    assert knobs.main() == 0 and stale.read_text() == text


# ---- every field checks its values (issue 26) ------------------------------------------------------
def _committed_params():
    return sorted(REPO.glob("runs/*/*/*/seed*/params.json"))


def test_every_committed_run_config_validates_and_round_trips():
    """The committed reference runs stay readable: their configs build as load_run builds them, and to_dict
    gives back every stored value with the same JSON text (so no params.json comparison changes)."""
    files = _committed_params()
    assert len(files) >= 72  # at least the default study's 4 tasks x 6 paradigms x 3 seeds
    for path in files:
        stored = json.loads(path.read_text())["config"]
        d = dict(stored)
        cfg = make_config(d.pop("preset"), **{k: tuple(v) if k == "test_snrs" else v for k, v in d.items()})
        new = cfg.to_dict()
        for k, v in stored.items():
            assert json.dumps(new[k]) == json.dumps(v), (path, k)


def test_the_owners_implement_exactly_the_declared_names():
    from aelib import importance, losses
    from aelib.config import AE_LOSS_NAMES, AE_MASKS, ASR_UNITS, IMPORTANCE_METHODS, SER_FEATURE_NORMS
    from aelib.models import frontends, unet
    from aelib.tasks import get_task
    assert tuple(losses.AE_LOSSES) == AE_LOSS_NAMES and unet.MASKS == AE_MASKS
    assert importance.METHODS == IMPORTANCE_METHODS and frontends.NORMALIZE == SER_FEATURE_NORMS
    rows = [{"label": "go left", "split": "train"}]
    for units in ASR_UNITS:
        assert get_task("asr").labels_from_manifest(rows, make_config("smoke", task="asr", asr_units=units))


@pytest.mark.parametrize("kw, message", [
    (dict(lr="abc"), "Config.lr = 'abc': expected a number > 0"),
    (dict(lr=0.0), "Config.lr = 0.0: expected a number > 0"),
    (dict(batch_size="big"), "Config.batch_size = 'big': expected an integer >= 1"),
    (dict(batch_size=2.0), "Config.batch_size = 2.0: expected an integer >= 1"),
    (dict(amp="yes"), "Config.amp = 'yes': expected true or false"),
    (dict(task="kwz"), "Config.task = 'kwz': unknown task, expected one of 'kws', 'asr', 'ser', 'asc'"),
    (dict(train_snr_low=30.0), "Config.train_snr_low = 30.0: expected a value below train_snr_high = 20.0"),
    (dict(hop=512), "Config.hop = 512: expected a value below n_fft = 512"),
    (dict(test_snrs=(0.0, float("nan"))), "Config.test_snrs = (0.0, nan): expected a non-empty list"),
    (dict(test_snrs=()), "Config.test_snrs = (): expected a non-empty list"),
    (dict(rir_prob=1.5), "Config.rir_prob = 1.5: expected a number in [0, 1]"),
    (dict(ca_epochs=0), "Config.ca_epochs = 0: expected an integer >= 1"),
    (dict(device="gpu"), "Config.device = 'gpu': expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    (dict(study="a/b"), "Config.study = 'a/b': expected a folder name"),
])
def test_a_bad_value_is_one_config_error_naming_field_value_and_allowed(kw, message):
    with pytest.raises(ConfigError) as e:
        make_config("smoke", **kw)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError) and e.value.field == next(iter(kw))


def test_unknown_keys_and_presets_are_config_errors():
    with pytest.raises(ConfigError, match=r"unknown config keys \['lrr'\] \('lrr': did you mean 'lr'\?\)") as e:
        make_config("smoke", lrr=1)
    assert isinstance(e.value, TypeError)  # as before the checks
    with pytest.raises(ConfigError, match="Config.preset = 'tiny': unknown preset"):
        make_config("tiny")


def test_numpy_scalars_and_paths_become_python_values(tmp_path):
    import numpy as np
    cfg = make_config("smoke", seed=np.int64(2), lr=np.float32(0.5), run_root=tmp_path, amp=np.bool_(True))
    assert (type(cfg.seed), type(cfg.lr), cfg.run_root, cfg.amp) == (int, float, str(tmp_path), True)
    json.dumps(cfg.to_dict())


@pytest.mark.parametrize("item, message", [
    ("lr=abc", "--set lr=abc: lr expects a number > 0"),
    ("lr=", "--set lr=: lr expects a number > 0 (the value is empty)"),
    ('batch_size="big"', '--set batch_size="big": batch_size expects an integer >= 1'),
    ("asr:lr=-1", "--set asr:lr=-1: lr expects a number > 0"),
    ("amp=yes", "--set amp=yes: amp expects true or false"),
    ("importance=ranked", "--set importance=ranked: importance expects one of 'ratio', 'softmax', 'rank'"),
    ("test_snrs=[0, 5, 5]", "--set test_snrs=[0, 5, 5]: test_snrs expects a non-empty list of distinct"),
    ("extra=3", "--set extra=3: extra expects a JSON object"),
    ("lr", "--set expects [SCOPE:]KEY=VALUE, got 'lr'"),
])
def test_set_values_that_the_field_does_not_allow(item, message):
    with pytest.raises(ConfigError) as e:
        parse_sets([item])
    assert str(e.value).startswith(message), str(e.value)


def test_set_values_are_read_as_the_fields_type():
    got = parse_sets(["lr=1e-3", "ae_lr=.5", "clip_seconds=16", "batch_size=8", "amp=true", "eval_pesq=False",
                      "asr_decoder=bigram", 'asr:asr_decoder="greedy"', "study=2024", "device=cuda:1",
                      "test_snrs=0, 5.5", "kws:test_snrs=[-5, 5]", "ser:test_snrs=10", 'extra={"note": "x y"}',
                      "data_dir=", "note=x y", "other=[1]"])
    assert got == {"lr": 1e-3, "ae_lr": 0.5, "clip_seconds": 16, "batch_size": 8, "amp": True, "eval_pesq": False,
                   "asr_decoder": "bigram", "asr:asr_decoder": "greedy", "study": "2024", "device": "cuda:1",
                   "test_snrs": (0.0, 5.5), "kws:test_snrs": (-5.0, 5.0), "ser:test_snrs": (10.0,),
                   "extra": {"note": "x y"}, "data_dir": "", "note": "x y", "other": [1]}
    assert type(got["clip_seconds"]) is int  # a number is kept as written, as JSON decoding kept it
    with pytest.raises(TypeError, match="unknown config keys"):  # keys that are no field: make_config says so
        make_config("smoke", **{k: v for k, v in got.items() if ":" not in k})
