"""A front-end for a downstream model defined here, outside aelib: trainable, frozen and black box.

The data are tones (two classes: low and high pitch) in coloured noise, written as WAV files so that the
folder loaders are exercised too; the models are a small conv net (its loss is per-sample cross-entropy)
and a numpy black box (a spectral-centroid classifier, 0/1 errors). Each paradigm runs one short epoch
per phase: these tests check what trains and what does not, not how well.
"""
import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from aelib.own import (PARADIGMS, BlackBox, ClipSet, Downstream, DownstreamError, NoiseSet, OwnDataError, arms,
                       evaluate, fit_frontend, paired, summary)

SR = 16_000
TINY = dict(ae_epochs=1, rounds=1, ca_epochs=1, batch_size=4, clip_seconds=0.5, width=4, progress=False)


def _tone(f0: float, seconds: float, rng) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * f0 * (1 + 0.02 * rng.standard_normal()) * t)).astype(np.float32)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    rng = np.random.default_rng(0)
    for label, f0 in (("low", 300.0), ("high", 2500.0)):
        (root / "clips" / label).mkdir(parents=True)
        for i in range(10):
            sf.write(root / "clips" / label / f"{label}{i}.wav", _tone(f0, 0.6, rng), SR)
    (root / "noise").mkdir()
    for i in range(6):
        white = rng.standard_normal(SR * 2).astype(np.float32) * 0.1
        sf.write(root / "noise" / f"n{i}.wav", np.cumsum(white) / 50 if i % 2 else white, SR)
    return root


@pytest.fixture(scope="module")
def data(folders):
    clips, noise = ClipSet.from_folder(folders / "clips"), NoiseSet.from_folder(folders / "noise")
    return clips.split(val=0.2, test=0.2), noise.split(val=0.2, test=0.34)


class TinyNet(nn.Module):  # a user's model: raw wave -> 2 logits
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 64, stride=16)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.relu(self.conv(x[:, None])).mean(-1))


LABELS = ["low", "high"]


def ce(model, waves, lengths, targets):
    return nn.functional.cross_entropy(model(waves), torch.tensor([LABELS.index(t) for t in targets]),
                                       reduction="none")


def wrong(model, waves, lengths, targets):
    return (model(waves).argmax(-1) != torch.tensor([LABELS.index(t) for t in targets])).float()


def centroid_box(waves, targets):  # a black box: numpy only, no gradient
    out = []
    for w, t in zip(waves, targets):
        spec = np.abs(np.fft.rfft(w))
        c = float((spec * np.arange(len(spec))).sum() / spec.sum()) * SR / 2 / len(spec)
        out.append(float(("high" if c > 1200 else "low") != t))
    return out


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_data_split_by_file_and_mixtures_hold_targets(data):
    (tr, va, te), (ntr, nva, nte) = data
    assert len(tr) + len(va) + len(te) == 20 and not set(tr.names) & set(te.names)
    assert not set(ntr.names) & set(nte.names) and len(nte.waves) >= 1
    assert set(tr.targets) == set(LABELS)


@pytest.mark.parametrize("trainable", [True, False])
@pytest.mark.parametrize("paradigm", ["cascade", "joint", "iterative"])
def test_a_torch_model_trainable_or_frozen(data, paradigm, trainable):
    (tr, va, te), (ntr, nva, nte) = data
    torch.manual_seed(0)
    model = TinyNet()
    before = _params(model)
    d = Downstream(model, ce, trainable=trainable, error=wrong)
    fit = fit_frontend(d, tr, va, ntr, nva, paradigm=paradigm, **TINY)
    assert _same(before, _params(model))  # the caller's model: never changed (a trainable one is copied)
    assert all(p.requires_grad for p in model.parameters())
    assert _same(before, _params(fit.downstream.model)) == (not trainable)  # a frozen model: untouched
    assert fit.frontend.unet is not None and {h["phase"] for h in fit.history} >= {"ae"}
    rows = evaluate(arms(d, {paradigm: fit}), te, nte, snrs=(0.0, 10.0))
    assert set(rows["arm"]) == {"none", paradigm} and rows["error"].isin([0.0, 1.0]).all()
    assert len(rows) == 2 * (len(te) + 2 * len(te))  # clean + 2 SNRs, every test clip, per arm


def test_a_black_box_gets_importance_once_per_round(data):
    (tr, va, te), (ntr, nva, nte) = data
    box = BlackBox(centroid_box, batch_size=4)
    fit = fit_frontend(box, tr, va, ntr, nva, paradigm="iterative", **{**TINY, "rounds": 2})
    calls_per_pass = -(-len(tr) // 4)
    importance = [h for h in fit.history if h["phase"].endswith("_importance")]
    assert len(importance) == 2
    val_calls = -(-(len(va) * 3) // 4)  # the validation grid of the observation weight
    assert box.calls == 2 * calls_per_pass + val_calls
    rows = evaluate(arms(box, {"iterative": fit}), te, nte, snrs=(0.0,))
    table = summary(rows)
    assert list(table.index) == ["none", "iterative"] and "noisy mean" in table
    assert set(paired(rows, "iterative", "none")) >= {"mean_diff", "p", "p_wilcoxon"}


def test_observation_adding_is_chosen_on_validation(data):
    (tr, va, te), (ntr, nva, nte) = data
    d = Downstream(TinyNet(), ce, trainable=False, error=wrong)
    fit = fit_frontend(d, tr, va, ntr, nva, paradigm="cascade", **TINY, observation_weights=(0.0, 0.3, 1.0))
    assert set(fit.observation) == {0.0, 0.3, 1.0}
    assert fit.frontend.observation_weight == min(fit.observation, key=lambda a: (fit.observation[a], a))
    x = torch.from_numpy(nte.waves[0][:8000])[None]
    fit.frontend.observation_weight = 1.0  # all observation: the identity
    assert torch.allclose(fit.frontend(x), x)


def test_each_kind_gets_only_the_paradigms_that_make_sense(data):
    (tr, va, te), (ntr, nva, nte) = data
    assert PARADIGMS["black box"] == ("cascade", "iterative")
    with pytest.raises(DownstreamError, match="for a black box downstream model choose one of"):
        fit_frontend(BlackBox(centroid_box), tr, va, ntr, nva, paradigm="joint", **TINY)
    with pytest.raises(DownstreamError, match="needs a trainable model"):
        fit_frontend(Downstream(TinyNet(), ce, trainable=False), tr, va, ntr, nva, paradigm="noisy", **TINY)


@pytest.mark.parametrize("loss, match", [
    (lambda m, x, n, y: ce(m, x, n, y).mean(), r"one value per sample, shape \[4\], got \(\) \(a mean over"),
    (lambda m, x, n, y: ce(m, x, n, y)[:, None], r"squeeze it to \[batch\]"),
    (lambda m, x, n, y: ce(m, x, n, y) * float("nan"), r"4 NaN or infinite value"),
])
def test_a_misshaped_or_nan_loss_is_one_clear_error(data, loss, match):
    (tr, va, te), (ntr, nva, nte) = data
    with pytest.raises(DownstreamError, match=match):
        fit_frontend(Downstream(TinyNet(), loss), tr, va, ntr, nva, paradigm="iterative", **TINY)


def test_bad_black_boxes_and_folders_are_clear_errors(data, tmp_path, folders):
    (tr, va, te), (ntr, nva, nte) = data
    with pytest.raises(DownstreamError, match=r"shape \[4\], got \(3,\)"):
        BlackBox(lambda w, t: [0.0] * 3, batch_size=4).errors(te.waves[:4], te.targets[:4])
    with pytest.raises(DownstreamError, match="is a Downstream"):
        BlackBox(TinyNet())
    with pytest.raises(DownstreamError, match="positive whole number"):
        BlackBox(centroid_box, sr=8000.5)
    with pytest.raises(OwnDataError, match="holds no audio files"):
        ClipSet.from_folder(tmp_path)
    with pytest.raises(OwnDataError, match="no folder at"):
        NoiseSet.from_folder(tmp_path / "nowhere")
    (tmp_path / "c").mkdir()
    sf.write(tmp_path / "c" / "quiet.wav", np.zeros(SR, np.float32), SR)
    (tmp_path / "c" / "broken.wav").write_bytes(b"RIFF0000WAVEnot audio")
    with pytest.raises(OwnDataError, match=r"2 clip file\(s\) cannot be used: broken.wav .*quiet.wav \(silent\)"):
        ClipSet.from_folder(tmp_path / "c")


def test_a_black_box_at_8_khz_gets_8_khz_waves(data):
    (tr, va, te), _ = data
    seen = []
    BlackBox(lambda w, t: (seen.extend(len(x) for x in w), [0.0] * len(w))[1], sr=8000).errors(te.waves[:2],
                                                                                                te.targets[:2])
    assert seen == [len(w) // 2 for w in te.waves[:2]]


def test_the_notebook_fits_and_evaluates_a_model_from_outside(folders, tmp_path):
    import papermill as pm

    from aelib.layout import REPO

    out = tmp_path / "out"
    pm.execute_notebook(str(REPO / "notebooks" / "04_own_model.ipynb"), str(tmp_path / "04.ipynb"), cwd=str(REPO),
                        progress_bar=False, parameters=dict(
                            downstream="tests.own_factory:frozen", clips=str(folders / "clips"),
                            noise=str(folders / "noise"), paradigms="", snrs="0,10", ae_epochs=1, rounds=1,
                            observation_weights="0,0.5", out_dir=str(out)))
    rows = __import__("pandas").read_csv(out / "rows.csv")
    assert set(rows["arm"]) == {"none", *PARADIGMS["frozen"]}
    assert (out / "summary.md").read_text().count("|") > 10


def test_the_pocketsphinx_black_box_reads_its_training_lm(tmp_path):
    from aelib.own.pocketsphinx import bigram_arpa

    arpa = bigram_arpa(["turn on the light", "turn off the light", "call anna"], tmp_path / "lm.arpa").read_text()
    assert "ngram 1=9" in arpa and "ngram 2=10" in arpa and arpa.rstrip().endswith("\\end\\")
    pytest.importorskip("pocketsphinx")
    from aelib.own.pocketsphinx import pocketsphinx_box

    box = pocketsphinx_box(["one two three", "three two one"])
    errors = box.errors([np.zeros(SR, np.float32), _tone(300.0, 1.0, np.random.default_rng(0))], ["one", "two"])
    assert errors.shape == (2,) and np.all(errors >= 0)
