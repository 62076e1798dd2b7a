"""Metrics and statistics: task scores, AE quality per sample, confidence intervals, paired tests.

Task scores take lists of strings (class names or transcripts), so that they apply to any decoder.
AE metrics take [batch, time] arrays or tensors and return one value per sample (np.ndarray[B]);
PESQ/STOI failures on silent or too-short clips give NaN with a warning instead of an exception, and
the statistics (:func:`mean_ci`, :func:`paired_test`, :func:`two_sample_p`, :func:`holm`) skip NaNs.
"""
from __future__ import annotations

import math
import re
import warnings
from typing import Sequence

import numpy as np

SILENCE_RMS = 1e-5  # as aelib.audio: below this a reference is silent and PESQ/STOI are undefined


# ---- classification ------------------------------------------------------------------------
def accuracy(preds: Sequence, refs: Sequence) -> float:
    """Fraction of exact matches (NaN for empty input)."""
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
    if not refs:
        return float("nan")
    return float(np.mean([p == r for p, r in zip(preds, refs)]))


def uar(preds: Sequence, refs: Sequence, labels: Sequence | None = None) -> float:
    """Unweighted average recall: the mean over classes of per-class recall.

    Only classes that occur in ``refs`` count (recall is undefined for the others); ``labels``
    restricts the classes further. NaN for empty input.
    """
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
    present = set(refs) if labels is None else set(labels) & set(refs)
    if not present:
        return float("nan")
    recalls = []
    for c in sorted(present, key=str):
        idx = [i for i, r in enumerate(refs) if r == c]
        recalls.append(sum(preds[i] == c for i in idx) / len(idx))
    return float(np.mean(recalls))


# ---- speech recognition --------------------------------------------------------------------
def normalize_text(s: str) -> str:
    """Lower-case; anything but letters, digits and apostrophes becomes a space; single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9']", " ", s.lower())).strip()


def _edit_counts(hyps: Sequence[str], refs: Sequence[str], unit: str) -> tuple[int, int]:
    """(errors, reference units) over a corpus, with empty references counted as pure insertions."""
    import jiwer

    hyps = [normalize_text(h) for h in hyps]
    refs = [normalize_text(r) for r in refs]
    split = (lambda s: s.split()) if unit == "word" else list
    errors = n_ref = 0
    pairs = [(h, r) for h, r in zip(hyps, refs) if r]
    for h, r in zip(hyps, refs):
        if not r:
            errors += len(split(h))
    if pairs:
        hs, rs = [p[0] for p in pairs], [p[1] for p in pairs]
        if unit == "word":
            out = jiwer.process_words(rs, hs, reference_transform=_WORDS, hypothesis_transform=_WORDS)
        else:
            out = jiwer.process_characters(rs, hs, reference_transform=_CHARS, hypothesis_transform=_CHARS)
        errors += out.substitutions + out.deletions + out.insertions
        n_ref += sum(len(split(r)) for r in rs)
    return errors, n_ref


def _transforms():
    import jiwer

    words = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    chars = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfChars()])
    return words, chars


_WORDS, _CHARS = _transforms()


def _rate(errors: int, n_ref: int) -> float:
    # With no reference units at all, an empty hypothesis is perfect (0) and anything else is wrong (1).
    return errors / n_ref if n_ref else float(errors > 0)


def wer_cer(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    """Corpus WER and CER (errors summed over utterances / reference words or characters).

    Text is normalised by :func:`normalize_text` first; empty references are allowed (their
    hypothesis words count as insertions).
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    if not refs:
        return {"wer": float("nan"), "cer": float("nan")}
    return {"wer": _rate(*_edit_counts(hyps, refs, "word")), "cer": _rate(*_edit_counts(hyps, refs, "char"))}


def per_utterance_wer(hyp: str, ref: str) -> float:
    """WER of one utterance (for per-sample rows and paired tests)."""
    return _rate(*_edit_counts([hyp], [ref], "word"))


# ---- enhancement quality -------------------------------------------------------------------
def _as_2d(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise TypeError(f"Inputs must be of shape [batch, time], got {x.shape}")
    return x


def _pair(est, ref) -> tuple[np.ndarray, np.ndarray]:
    est, ref = _as_2d(est), _as_2d(ref)
    if est.shape != ref.shape:
        raise TypeError(f"Inputs must have the same shape [batch, time], got {est.shape} and {ref.shape}")
    return est, ref


def si_sdr(est, ref, zero_mean: bool = True, eps: float = 1e-8) -> np.ndarray:
    """Scale-invariant SDR in dB per sample (Le Roux et al. 2019), float64."""
    est, ref = _pair(est, ref)
    if zero_mean:
        est = est - est.mean(-1, keepdims=True)
        ref = ref - ref.mean(-1, keepdims=True)
    scale = (est * ref).sum(-1, keepdims=True) / ((ref**2).sum(-1, keepdims=True) + eps)
    target = scale * ref
    noise = est - target
    return 10 * np.log10(((target**2).sum(-1) + eps) / ((noise**2).sum(-1) + eps))


def _per_sample(fn, name: str, est, ref) -> np.ndarray:
    est, ref = _pair(est, ref)
    out = np.full(len(est), np.nan)
    for i, (e, r) in enumerate(zip(est, ref)):
        if np.sqrt(np.mean(r**2)) < SILENCE_RMS:
            warnings.warn(f"{name}: reference {i} is silent; returning NaN", RuntimeWarning, stacklevel=3)
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[i] = float(fn(e, r))
        except Exception as exc:  # pesq raises its own types for silent/too-short input
            warnings.warn(f"{name} failed on sample {i} ({type(exc).__name__}: {exc}); returning NaN",
                          RuntimeWarning, stacklevel=3)
    return out


def pesq_wb(est, ref, sr: int = 16_000) -> np.ndarray:
    """Wide-band PESQ (ITU-T P.862.2) per sample via the ``pesq`` package; NaN where undefined."""
    from pesq import pesq

    if sr not in (8000, 16000):
        raise ValueError(f"PESQ needs 8 or 16 kHz audio, got {sr}")
    return _per_sample(lambda e, r: pesq(sr, r, e, "wb"), "PESQ", est, ref)


def stoi(est, ref, sr: int = 16_000, extended: bool = False) -> np.ndarray:
    """STOI (Taal et al. 2011) per sample via ``pystoi``; NaN for a silent reference."""
    from pystoi import stoi as _stoi

    return _per_sample(lambda e, r: _stoi(r, e, sr, extended=extended), "STOI", est, ref)


# ---- statistics ----------------------------------------------------------------------------
def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean, ignoring NaN/inf.

    No values give (nan, nan, nan); one value gives (x, nan, nan).
    """
    from scipy import stats

    v = _finite(values)
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(v.mean())
    if v.size == 1:
        return (m, math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return (m, m - half, m + half)


def paired_test(a, b, min_wilcoxon: int = 10) -> dict[str, float]:
    """Paired comparison of per-sample scores a and b (same samples, same order).

    Pairs with a NaN on either side are dropped. Returns ``mean_diff`` (mean of a - b), the paired
    t-test's ``t`` and ``p``, ``n`` (pairs used) and ``p_wilcoxon`` (signed-rank test; NaN when
    fewer than ``min_wilcoxon`` pairs or all differences are zero). Identical samples give t = 0, p = 1.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have the same length, got {a.size} and {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    out = {"mean_diff": math.nan, "t": math.nan, "p": math.nan, "n": n, "p_wilcoxon": math.nan}
    if n == 0:
        return out
    d = a - b
    out["mean_diff"] = float(d.mean())
    if n < 2:
        return out
    if np.all(d == d[0]):  # zero variance: the t statistic is undefined
        out["t"], out["p"] = (0.0, 1.0) if d[0] == 0 else (math.copysign(math.inf, d[0]), 0.0)
    else:
        res = stats.ttest_rel(a, b)
        out["t"], out["p"] = float(res.statistic), float(res.pvalue)
    if n >= min_wilcoxon and np.any(d != 0):
        out["p_wilcoxon"] = float(stats.wilcoxon(a, b).pvalue)
    return out


def two_sample_p(a, b) -> float:
    """Student's two-sample t-test (pooled variance) of independent samples a and b: its two-sided p.

    NaN/inf are dropped. Needs three values in all (one side may hold a single value: it then takes the
    other's variance). Both sides constant gives p = 1 for equal means and 0 otherwise; too few values, NaN.
    """
    from scipy import stats

    a, b = _finite(a), _finite(b)
    df = a.size + b.size - 2
    if a.size == 0 or b.size == 0 or df < 1:
        return math.nan
    diff = float(b.mean() - a.mean())
    ss = float(((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum())
    if ss == 0:
        return 1.0 if diff == 0 else 0.0
    t = diff / math.sqrt(ss / df * (1 / a.size + 1 / b.size))
    return float(2 * stats.t.sf(abs(t), df))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order; NaN stays NaN and is not counted)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out
