"""Task registry and the TaskSpec contract: labels, encoding, models, per-sample losses, decoding, scores."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from aelib.config import make_config
from aelib.tasks import TASKS, TaskSpec, get_task, register
from aelib.tasks.asr import VOCAB

ROWS = [
    {"label": "yes", "split": "train"}, {"label": "no", "split": "train"}, {"label": "up", "split": "train"},
    {"label": "no", "split": "val"}, {"label": "left", "split": "test"},
]




def test_registry_has_four_tasks():
    assert set(TASKS) == {"kws", "asr", "ser", "asc"}
    assert get_task("kws") is TASKS["kws"]
    with pytest.raises(ValueError, match="unknown task"):
        get_task("music")


def test_task_fields():
    expect = {"kws": (1.0, "noise", "accuracy", True), "asr": (6.0, "noise", "wer", False),
              "ser": (3.0, "noise", "uar", True), "asc": (4.0, "speech", "accuracy", True)}
    for name, (secs, interferer, metric, hib) in expect.items():
        t = get_task(name)
        assert (t.clip_seconds, t.interferer, t.primary_metric, t.higher_is_better) == (secs, interferer, metric, hib)
        assert t.fixed_length == (name != "asr")
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_task("kws").clip_seconds = 2.0


def test_register_one_more_task():
    spec = register(TaskSpec(name="_probe", clip_seconds=2.0, model="kws"))
    try:
        assert get_task("_probe") is spec
        with pytest.raises(ValueError):
            register(TaskSpec(name="_probe", clip_seconds=3.0))
    finally:
        del TASKS["_probe"]


@pytest.mark.parametrize("name", ["kws", "ser", "asc"])
def test_classification_labels_and_encoding(name):
    t = get_task(name)
    labels = t.labels_from_manifest(ROWS)
    assert labels == ["no", "up", "yes"]  # sorted, train rows only
    enc = t.encode("up", labels)
    assert enc.dtype == torch.long and enc.dim() == 0 and int(enc) == 1
    with pytest.raises(KeyError):
        t.encode("left", labels)
    logits = torch.tensor([[0.0, 0.0, 5.0], [3.0, 0.0, 0.0]])
    assert t.decode(logits, labels) == ["yes", "no"]
    assert t.collate_targets([t.encode("yes", labels), enc])["target"].tolist() == [2, 1]


def test_asr_vocab_and_encoding():
    t = get_task("asr")
    labels = t.labels_from_manifest(ROWS)
    assert labels == list(VOCAB) and labels[0] == "<blank>" and labels[1:3] == [" ", "'"] and len(labels) == 29
    ids = t.encode("Don't stop, 2 go!", labels)
    assert "".join(labels[i] for i in ids) == "don't stop go"  # digits dropped, spaces normalised
    assert (ids > 0).all()


def test_asr_greedy_decoding_of_one_hot_path():
    t = get_task("asr")
    labels = t.labels_from_manifest([])
    text = "hello world it's"
    ids = t.encode(text, labels).tolist()
    path = []
    for k in ids:  # each symbol twice, a blank after every symbol (needed between the two l's)
        path += [k, k, 0]
    path += [0] * 5
    log_probs = torch.full((2, len(path), len(labels)), -20.0)
    log_probs[0, torch.arange(len(path)), torch.tensor(path)] = 0.0
    log_probs[1, :, 0] = 0.0  # all blanks -> empty string
    out_len = torch.tensor([len(path), 3])
    assert t.decode((log_probs, out_len), labels) == [text, ""]
    short = torch.tensor([6, 3])  # decoding stops at the output length
    assert t.decode((log_probs, short), labels)[0] == "he"


def test_asr_collate_pads_with_zero():
    t = get_task("asr")
    b = t.collate_targets([torch.tensor([3, 4, 5]), torch.tensor([6])])
    assert b["target"].tolist() == [[3, 4, 5], [6, 0, 0]] and b["target_length"].tolist() == [3, 1]


@pytest.mark.parametrize("name,sets", [(n, {}) for n in sorted(TASKS)] + [("kws", {"kws_features": "logmel"})])
def test_build_forward_loss_decode(name, sets):
    t = get_task(name)
    cfg = make_config("smoke", task=name, **sets)
    rows = ROWS if name != "asr" else [{"label": "yes no", "split": "train"}]
    labels = t.labels_from_manifest(rows)
    model = t.build_model(cfg, labels)
    assert model.model_args["width"] == cfg.ca_width
    assert model.model_name == ("kws_logmel" if sets else t.model or name)
    refs = ["yes", "no", "up", "yes"] if name != "asr" else ["yes no", "up", "left right", "no"]
    n = int(t.clip_seconds * cfg.sample_rate) if name != "asr" else 16_000
    wave = 0.1 * torch.randn(4, n, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([n, n, n // 2, n // 3])
    batch = {**t.collate_targets([t.encode(r, labels) for r in refs]), "length": lengths}
    out = t.forward(model, wave, lengths)
    loss = t.loss(out, batch)
    assert loss.shape == (4,) and torch.isfinite(loss).all() and (loss >= 0).all()
    loss.mean().backward()
    preds = t.decode(out, labels)
    assert len(preds) == 4 and all(isinstance(p, str) for p in preds)
    scores = t.score(preds, refs, labels)
    assert t.primary_metric in scores


def test_asr_loss_adds_the_weighted_bag_of_units_term():
    from aelib.losses import bag_of_units_loss, ctc_loss

    t = get_task("asr")
    labels = t.labels_from_manifest([{"label": "yes no up", "split": "train"}], make_config("smoke", asr_units="word"))
    log_probs = torch.randn(2, 12, len(labels), generator=torch.Generator().manual_seed(0)).log_softmax(-1)
    out = (log_probs, torch.tensor([12, 9]))
    batch = t.collate_targets([t.encode("yes no", labels), t.encode("up", labels)])
    args = (log_probs, out[1], batch["target"], batch["target_length"])
    assert torch.allclose(t.loss(out, batch), ctc_loss(*args))  # no cfg: CTC alone, as the paper
    assert torch.allclose(t.loss(out, batch, make_config("smoke", asr_bag_weight=0.0)), ctc_loss(*args))
    both = t.loss(out, batch, make_config("smoke", asr_bag_weight=0.5))
    assert torch.allclose(both, ctc_loss(*args) + 0.5 * bag_of_units_loss(*args))


def test_scores_and_per_sample():
    kws, asr, ser, asc = (get_task(n) for n in ("kws", "asr", "ser", "asc"))
    labels = ["a", "b"]
    assert kws.score(["a", "b"], ["a", "a"], labels) == {"accuracy": 0.5}
    assert set(ser.score(["a"], ["a"], labels)) == {"uar", "accuracy"}
    assert set(asc.score(["a"], ["a"], labels)) == {"accuracy", "uar"}
    assert asr.score(["the cat"], ["the cat sat"], list(VOCAB)) == pytest.approx({"wer": 1 / 3, "cer": 4 / 11})
    assert kws.per_sample_correct("a", "a") == 1.0 and kws.per_sample_correct("a", "b") == 0.0
    assert asr.per_sample_correct("the cat", "the cat sat") == pytest.approx(1 / 3)


def test_asr_word_units_vocab_from_train_and_round_trip():
    """Closed-vocabulary word CTC: units are the train transcripts' words; decode joins them with spaces."""
    t = get_task("asr")
    rows = [{"label": "One two", "split": "train"}, {"label": "three", "split": "train"},
            {"label": "nine", "split": "test"}]
    labels = t.labels_from_manifest(rows, make_config("smoke", task="asr", asr_units="word"))
    assert labels == ["<blank>", "one", "three", "two"]
    ids = t.encode("two one nine", labels)  # "nine" was never trained: dropped
    assert ids.tolist() == [3, 1]
    log_probs = torch.full((1, 5, len(labels)), -10.0)
    for k, u in enumerate([3, 3, 0, 1, 0]):
        log_probs[0, k, u] = 0.0
    assert t.decode((log_probs, torch.tensor([5])), labels) == ["two one"]
    with pytest.raises(ValueError, match="asr_units"):
        t.labels_from_manifest(rows, make_config("smoke", task="asr", asr_units="phone"))
