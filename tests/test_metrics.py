"""Metrics: classification scores, WER/CER, AE quality per sample, confidence intervals, paired tests."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aelib import metrics


def _voiced(n=32_000, sr=16_000):
    """A harmonic, amplitude-modulated, speech-like signal (PESQ detects it as speech)."""
    t = np.arange(n) / sr
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.7 * t)) / sr
    return 0.1 * sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2


# ---- classification ------------------------------------------------------------------------
def test_accuracy():
    assert metrics.accuracy(["a", "b", "c", "a"], ["a", "b", "a", "a"]) == 0.75
    assert math.isnan(metrics.accuracy([], []))
    with pytest.raises(ValueError):
        metrics.accuracy(["a"], [])


def test_uar_on_known_confusion():
    # class a: 4 of 4 right (recall 1); class b: 1 of 2 right (0.5); class c: 0 of 2 (0)
    refs = ["a"] * 4 + ["b"] * 2 + ["c"] * 2
    preds = ["a"] * 4 + ["b", "a"] + ["a", "b"]
    assert metrics.uar(preds, refs) == pytest.approx(0.5)
    assert metrics.accuracy(preds, refs) == pytest.approx(5 / 8)
    assert metrics.uar(preds, refs, labels=["a", "b", "c", "d"]) == pytest.approx(0.5)  # absent class ignored
    assert metrics.uar(preds, refs, labels=["a", "b"]) == pytest.approx(0.75)


# ---- speech recognition --------------------------------------------------------------------
def test_wer_cer_known_strings():
    out = metrics.wer_cer(["the cat sat", "hello"], ["the cat sat down", "hello world"])
    assert out["wer"] == pytest.approx(2 / 6)  # two deletions over six reference words
    assert metrics.wer_cer(["abc"], ["abd"])["cer"] == pytest.approx(1 / 3)
    assert metrics.wer_cer(["a b"], ["a b"]) == {"wer": 0.0, "cer": 0.0}


def test_wer_normalisation():
    assert metrics.wer_cer(["Hello,  World!"], ["hello world"])["wer"] == 0.0
    assert metrics.normalize_text("Don't  STOP!") == "don't stop"


def test_wer_empty_references_and_hypotheses():
    assert metrics.wer_cer(["", "x y"], ["a b", ""])["wer"] == pytest.approx(4 / 2)  # 2 del + 2 ins over 2 words
    assert metrics.wer_cer([""], [""])["wer"] == 0.0
    assert metrics.wer_cer(["x"], [""])["wer"] == 1.0
    assert math.isnan(metrics.wer_cer([], [])["wer"])


def test_per_utterance_wer():
    assert metrics.per_utterance_wer("the cat", "the cat sat") == pytest.approx(1 / 3)
    assert metrics.per_utterance_wer("", "") == 0.0


# ---- enhancement quality -------------------------------------------------------------------
def test_si_sdr_matches_torchmetrics():
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm_sisdr

    g = torch.Generator().manual_seed(0)
    ref = torch.randn(3, 8000, generator=g)
    est = ref + 0.3 * torch.randn(3, 8000, generator=g)
    ours = metrics.si_sdr(est, ref)
    assert ours.shape == (3,)
    np.testing.assert_allclose(ours, tm_sisdr(est.double(), ref.double(), zero_mean=True).numpy(), atol=1e-4)
    with pytest.raises(TypeError):
        metrics.si_sdr(est[0], ref[0])


def test_pesq_and_stoi_order_clean_above_noisy():
    clean = _voiced()
    noisy = clean + 0.03 * np.random.default_rng(0).standard_normal(clean.shape)
    p = metrics.pesq_wb(np.stack([clean, noisy]), np.stack([clean, clean]))
    s = metrics.stoi(np.stack([clean, noisy]), np.stack([clean, clean]), 16_000)
    assert p.shape == s.shape == (2,)
    assert p[0] > 4.0 and p[1] < p[0]
    assert s[0] == pytest.approx(1.0, abs=1e-6) and s[1] < s[0]


def test_pesq_silent_or_short_clip_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="PESQ"):
        assert np.isnan(metrics.pesq_wb(np.zeros((1, 16_000)), np.zeros((1, 16_000)))).all()
    short = _voiced(1000)[None]
    with pytest.warns(RuntimeWarning, match="PESQ failed"):
        assert np.isnan(metrics.pesq_wb(short, short)).all()
    with pytest.warns(RuntimeWarning, match="STOI"):
        assert np.isnan(metrics.stoi(np.zeros((1, 16_000)), np.zeros((1, 16_000)), 16_000)).all()


# ---- statistics ----------------------------------------------------------------------------
def test_mean_ci():
    from scipy import stats

    v = [1.0, 2.0, 3.0, 4.0, 5.0]
    m, lo, hi = metrics.mean_ci(v)
    half = stats.t.ppf(0.975, 4) * np.std(v, ddof=1) / np.sqrt(5)
    assert m == 3.0 and lo == pytest.approx(3 - half) and hi == pytest.approx(3 + half)
    assert metrics.mean_ci(v + [float("nan")]) == (m, lo, hi)  # NaN-safe
    assert metrics.mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    m1, lo1, hi1 = metrics.mean_ci([7.0])
    assert m1 == 7.0 and math.isnan(lo1) and math.isnan(hi1)
    assert all(math.isnan(x) for x in metrics.mean_ci([]))
    _, lo90, hi90 = metrics.mean_ci(v, confidence=0.9)
    assert lo < lo90 < hi90 < hi


def test_paired_test():
    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    b = a - 0.5 + 0.1 * rng.normal(size=40)
    res = metrics.paired_test(a, b)
    assert res["n"] == 40 and res["mean_diff"] == pytest.approx(np.mean(a - b))
    assert res["t"] > 0 and res["p"] < 1e-6 and res["p_wilcoxon"] < 1e-6
    same = metrics.paired_test(a, a)
    assert same["t"] == 0.0 and same["p"] == 1.0 and math.isnan(same["p_wilcoxon"])
    small = metrics.paired_test([1.0, 0.0, 1.0, float("nan")], [0.0, 0.0, 1.0, 1.0])
    assert small["n"] == 3 and math.isnan(small["p_wilcoxon"]) and 0 < small["p"] <= 1
    with pytest.raises(ValueError):
        metrics.paired_test([1.0], [1.0, 2.0])


def test_two_sample_p_is_students_t_test():
    """Pooled-variance t-test: scipy's on ordinary samples; one value on a side takes the other's variance."""
    from scipy import stats

    a, b = [0.61, 0.58, 0.64], [0.55, 0.57, 0.52, float("nan")]
    assert metrics.two_sample_p(a, b) == pytest.approx(stats.ttest_ind(a, b[:3]).pvalue)
    assert metrics.two_sample_p(a, a) == 1.0 and metrics.two_sample_p([0.5] * 3, [0.6] * 3) == 0.0
    t = (0.5 - np.mean(a)) / (np.std(a, ddof=1) * math.sqrt(1 / 3 + 1))  # one rerun seed against three
    assert metrics.two_sample_p(a, [0.5]) == pytest.approx(2 * stats.t.sf(abs(t), 2))
    assert math.isnan(metrics.two_sample_p([0.5], [0.6])) and math.isnan(metrics.two_sample_p([], a))


def test_holm_adjusts_in_step_down_order():
    """Holm: the k-th smallest of m p-values times (m - k + 1), kept monotone, capped at 1; NaN is not counted."""
    adj = metrics.holm([0.01, 0.04, 0.03, float("nan"), 0.5])
    assert adj[0] == pytest.approx(0.04) and adj[2] == pytest.approx(0.09) and adj[1] == pytest.approx(0.09)
    assert adj[4] == 0.5 and math.isnan(adj[3])
    assert metrics.holm([0.9, 0.6]).tolist() == [1.0, 1.0] and metrics.holm([]).size == 0


def test_reproduction_check_is_calibrated():
    """A sound rerun (3 new seeds of the same distribution, 24 paradigms) fails the Holm-adjusted t-test about 5 %
    of the time; the old check, "each rerun mean inside the reference's 95 % interval", fails it most of the time."""
    from scipy import stats

    rng = np.random.default_rng(0)
    draws, rows, t2 = 300, 24, stats.t.ppf(0.975, 2)
    holm_fail = old_fail = 0
    for _ in range(draws):
        ref, new = rng.normal(size=(rows, 3)), rng.normal(size=(rows, 3))
        holm_fail += bool((metrics.holm([metrics.two_sample_p(a, b) for a, b in zip(ref, new)]) < 0.05).any())
        half = t2 * ref.std(1, ddof=1) / math.sqrt(3)
        old_fail += bool((np.abs(new.mean(1) - ref.mean(1)) > half).any())
    assert holm_fail / draws < 0.1 and old_fail / draws > 0.8
