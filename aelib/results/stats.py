"""Statistics over seeds and utterances: means, 95 % intervals and paired tests of a study's frames.

Works on the frames of :mod:`aelib.results.read` (``collect``, ``per_utterance``, ``importance_weights``).
Means and 95 % intervals over seeds come from :func:`aelib.metrics.mean_ci` (Student t; one seed gives
no interval), paired comparisons from :func:`aelib.metrics.paired_test`. Numeric tables carry a
``<col>_ci`` half-width beside each mean ``<col>``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..config import PARADIGMS, TASKS
from ..metrics import holm, mean_ci, paired_test, two_sample_p
from .read import collect, importance_weights, snr_label

NOISY = ("test_seen", "test_unseen")


def seed_mean(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % interval, number of finite values)."""
    v = np.asarray(list(values), dtype=float)
    m, lo, hi = mean_ci(v)
    return m, (hi - m) if np.isfinite(hi) else math.nan, int(np.isfinite(v).sum())


def task_meta(df: pd.DataFrame, task: str, metric: str | None) -> tuple[str, bool]:
    """(``metric``, or the task's primary metric when None; whether higher is better) from collected rows."""
    sub = df[df["task"] == task]
    if sub.empty:
        raise KeyError(f"no finished runs of task {task!r}")
    return metric or sub["primary_metric"].iloc[0], bool(sub["higher_is_better"].iloc[0])


def _per_seed(df: pd.DataFrame, metric: str, noise_split: str) -> pd.DataFrame:
    """(paradigm, seed, snr) -> value; noise_split "all" pools seen and unseen cells weighted by n."""
    sub = df if noise_split == "all" else df[df["noise_split"].isin((noise_split, "clean"))]
    sub = sub.dropna(subset=[metric])
    if sub.empty:
        return pd.DataFrame(columns=["paradigm", "seed", "snr", "value"])
    w = sub["n"].clip(lower=1).astype(float)
    g = (sub.assign(_wv=sub[metric] * w, _w=w).groupby(["paradigm", "seed", "snr"], as_index=False)[["_wv", "_w"]].sum())
    return g.assign(value=g["_wv"] / g["_w"])[["paradigm", "seed", "snr", "value"]]


def _order(paradigms: Iterable[str]) -> list[str]:
    """Known paradigms in PARADIGMS order, then the rest (ablation arms) by name: stable across processes."""
    return sorted(set(paradigms), key=lambda p: (PARADIGMS.index(p) if p in PARADIGMS else len(PARADIGMS), p))


def _over_seeds(per_seed: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    """Mean and CI half-width over seeds of each value column, grouped by ``by``."""
    rows = []
    for key, g in per_seed.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for c in cols:
            row[c], row[f"{c}_ci"], n = seed_mean(g[c]) if c in g else (math.nan, math.nan, 0)
        row["n_seeds"] = g["seed"].nunique()
        rows.append(row)
    out = pd.DataFrame(rows)
    if not out.empty and "paradigm" in out:
        out = out.sort_values(by, key=lambda s: s.map(lambda v: (PARADIGMS + TASKS).index(v)
                                                      if v in PARADIGMS + TASKS else v)).reset_index(drop=True)
    return out


def _primary(df: pd.DataFrame, metric: str | None) -> pd.Series:
    """The value of each cell's own primary metric (or ``metric``)."""
    if metric:
        return df[metric]
    return pd.Series([r[r["primary_metric"]] if r["primary_metric"] in r else math.nan for _, r in df.iterrows()],
                     index=df.index, dtype=float)


def own_kind(kinds: Iterable[str], kind: str = "synthetic") -> str:
    """The kind a task's tables use, of the kinds its cells have: ``kind`` where present, else its own
    (asc has only real scene recordings, which would otherwise drop out of every synthetic table)."""
    kinds = set(kinds)
    return kind if kind in kinds or not kinds else sorted(kinds)[0]


def task_kinds(df: pd.DataFrame, kind: str = "synthetic") -> pd.Series:
    """task -> the speech kind its tables use (:func:`own_kind`)."""
    return df.groupby("task")["kind"].agg(lambda k: own_kind(k, kind))


def of_task_kind(df: pd.DataFrame, kind: str = "synthetic") -> pd.DataFrame:
    """The rows of each task's table kind (:func:`task_kinds`): ``kind`` rows, and asc's real ones."""
    if df.empty:
        return df
    return df[df["kind"] == df["task"].map(task_kinds(df, kind))]


def noisy_seed_means(df: pd.DataFrame, kind: str = "synthetic"):
    """Per task of the noisy grid, in TASKS order: (task, metric, higher_is_better, per-seed means).

    The means are of the task's primary metric over its noisy cells (seen and unseen noise, every SNR) of
    its table kind (:func:`of_task_kind`), a Series indexed by (paradigm, seed): the unit of the seed-level
    paired tests and of :mod:`aelib.results.power`.
    """
    df = of_task_kind(df, kind)
    noisy = df[df["noise_split"].isin(NOISY)]
    for task in [t for t in TASKS if t in set(noisy["task"])]:
        metric, hib = task_meta(df, task, None)
        yield task, metric, hib, noisy[noisy["task"] == task].groupby(["paradigm", "seed"])[metric].mean()


def summary_by_snr(df: pd.DataFrame, task: str, metric: str | None = None, kind: str = "synthetic",
                   noise_split: str = "all") -> pd.DataFrame:
    """Long table: paradigm, condition, snr, mean, ci (half-width), n_seeds; ``avg`` = mean over noisy SNRs."""
    metric, _ = task_meta(df, task, metric)
    kind = own_kind(df.loc[df["task"] == task, "kind"], kind)  # asc: its real scene recordings
    seeds = _per_seed(df[(df["task"] == task) & (df["kind"] == kind)], metric, noise_split)
    rows = []
    for p in _order(seeds["paradigm"]):
        sp = seeds[seeds["paradigm"] == p]
        for snr in sorted(sp["snr"].unique(), key=lambda s: (s != math.inf, s)):
            m, h, n = seed_mean(sp.loc[sp["snr"] == snr, "value"])
            rows.append({"paradigm": p, "condition": snr_label(snr), "snr": snr, "mean": m, "ci": h, "n_seeds": n})
        noisy = sp[sp["snr"] != math.inf].groupby("seed")["value"].mean()
        if len(noisy):
            m, h, n = seed_mean(noisy)
            rows.append({"paradigm": p, "condition": "avg", "snr": math.nan, "mean": m, "ci": h, "n_seeds": n})
    out = pd.DataFrame(rows, columns=["paradigm", "condition", "snr", "mean", "ci", "n_seeds"])
    out.attrs.update(task=task, metric=metric, kind=kind, noise_split=noise_split)
    return out


def paired_vs_iterative(df: pd.DataFrame, utt: pd.DataFrame | None = None, reference: str = "iterative",
                        kind: str = "synthetic") -> pd.DataFrame:
    """Paired tests of ``reference`` against every other paradigm, per task, on the noisy grid.

    ``level=seed``: per-seed means of the primary metric, paired by seed. ``level=utterance`` (when
    ``utt`` from :func:`aelib.results.read.per_utterance` is given): per-utterance scores (correctness,
    or WER for asr) matched by (clip, noise_split, snr, seed). ``mean_diff`` = reference - other;
    ``reference_better`` takes the metric's direction into account.
    """
    rows = []
    only = task_kinds(df, kind)
    for task, metric, hib, per_seed in noisy_seed_means(df, kind):
        if reference not in per_seed.index.get_level_values(0):
            continue
        ref = per_seed[reference]
        u = None
        if utt is not None and not utt.empty:
            u = utt[(utt["task"] == task) & (utt["kind"] == only[task]) & utt["noise_split"].isin(NOISY)]
        key = ["clip", "noise_split", "snr", "seed"]
        for other in _order(set(per_seed.index.get_level_values(0)) - {reference}):
            oth = per_seed[other]
            seeds = sorted(set(ref.index) & set(oth.index))
            tests = [("seed", metric, paired_test(ref[seeds].to_numpy(), oth[seeds].to_numpy()),
                      ref[seeds].mean(), oth[seeds].mean())]
            if u is not None:
                a = u[u["paradigm"] == reference][key + ["score"]]
                b = u[u["paradigm"] == other][key + ["score"]]
                m = a.merge(b, on=key, suffixes=("_ref", "_other"))
                if len(m):
                    tests.append(("utterance", "wer" if task == "asr" else "correct",
                                  paired_test(m["score_ref"].to_numpy(), m["score_other"].to_numpy()),
                                  m["score_ref"].mean(), m["score_other"].mean()))
            for level, name, t, rm, om in tests:
                d = t["mean_diff"]
                rows.append({"task": task, "paradigm": other, "level": level, "metric": name, "n": t["n"],
                             "reference_mean": rm, "other_mean": om, "mean_diff": d, "t": t["t"], "p": t["p"],
                             "p_wilcoxon": t["p_wilcoxon"],
                             "reference_better": bool(np.isfinite(d) and (d > 0 if hib else d < 0))})
    out = pd.DataFrame(rows)
    out.attrs["reference"] = reference
    return out


def importance_summary(study_dir: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Quantiles of the weights per task, seed and round, the share at the cap, and the effective sample
    size fraction (sum w)^2 / (n sum w^2) (1 = uniform weights, small = a few samples dominate)."""
    w = study_dir if isinstance(study_dir, pd.DataFrame) else importance_weights(study_dir)
    rows = []
    for (task, seed, rnd), g in w.groupby(["task", "seed", "round"]):
        x = g["weight"].to_numpy(float)
        q = np.quantile(x, [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
        cap = g["w_max"].iloc[0]
        rows.append({"task": task, "seed": seed, "round": rnd, "n": x.size, "mean": x.mean(), "std": x.std(),
                     "min": q[0], "q10": q[1], "q25": q[2], "median": q[3], "q75": q[4], "q90": q[5], "max": q[6],
                     "at_cap": float(np.mean(x >= cap - 1e-4)) if np.isfinite(cap) else math.nan,
                     "ess": float(x.sum() ** 2 / (x.size * (x**2).sum())) if (x**2).sum() > 0 else math.nan})
    out = pd.DataFrame(rows)
    if not out.empty:
        out = out.sort_values(["task", "seed", "round"], key=lambda s: s.map(
            lambda v: TASKS.index(v) if v in TASKS else v)).reset_index(drop=True)
    return out


def compare_studies(reference: str | Path, rerun: str | Path, kind: str = "synthetic",
                    tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Does a rerun reproduce a study? Per task and paradigm, the primary metric over the noisy grid
    (on ``kind`` speech, or the task's own kind: :func:`task_kinds`); only ``tasks`` when given (a
    rerun that changed a task's data or settings on purpose reproduces only the others).

    Columns: the reference's mean and 95 % CI over seeds, the rerun's mean, the largest per-seed
    difference, ``within_ci`` (the rerun's mean lies inside the reference's interval), ``p`` (a two-sample
    t-test of the rerun's seed values against the reference's: is the difference beyond the seed-to-seed
    noise?) and ``p_holm`` (``p`` adjusted by Holm over the table's rows), and ``reproduced`` (``p_holm`` >= 0.05;
    ``within_ci`` where no p can be had). ``within_ci`` alone is no test of a rerun: a rerun whose seeds are new
    draws of the same distribution lies outside a 3-seed 95 % interval ~9 % of the time, so some mean of 24
    usually does. The reference's mean and interval are over all its seeds (a rerun of some seeds is checked
    against the full study); the rerun's mean and the per-seed difference are over the (task, paradigm, seed)
    runs finished in both.
    """
    def grid_means(study: str | Path) -> pd.DataFrame:
        df = collect(study)
        if tasks is not None and not df.empty:
            df = df[df["task"].isin(tasks)]
        if df.empty:
            return pd.DataFrame(columns=["task", "paradigm", "seed", "value"])
        sub = of_task_kind(df, kind)
        sub = sub[sub["noise_split"].isin(NOISY)]
        sub = sub.assign(value=_primary(sub, None))
        return sub.groupby(["task", "paradigm", "seed"], as_index=False)["value"].mean()

    ref, new_runs = grid_means(reference), grid_means(rerun)
    both = ref.merge(new_runs, on=["task", "paradigm", "seed"], suffixes=("_ref", "_rerun"))
    rows = []
    for (task, paradigm), g in both.groupby(["task", "paradigm"]):
        ref_values = ref[(ref["task"] == task) & (ref["paradigm"] == paradigm)]["value"]
        m, hw, n = seed_mean(ref_values)
        new = float(g["value_rerun"].mean())
        rows.append({"task": task, "paradigm": paradigm, "seeds": n, "reference": m, "ci95": hw, "rerun": new,
                     "max_seed_diff": float((g["value_rerun"] - g["value_ref"]).abs().max()),
                     "within_ci": bool(abs(new - m) <= hw) if np.isfinite(hw) else bool(new == m),
                     "p": two_sample_p(ref_values, g["value_rerun"])})
    out = pd.DataFrame(rows, columns=["task", "paradigm", "seeds", "reference", "ci95", "rerun", "max_seed_diff",
                                      "within_ci", "p"])
    out["p_holm"] = holm(out["p"]) if len(out) else []
    out["reproduced"] = [bool(q >= 0.05) if np.isfinite(q) else bool(w)
                         for q, w in zip(out["p_holm"], out["within_ci"])]
    return out.sort_values(["task", "paradigm"], key=lambda c: c.map(lambda v: (TASKS + PARADIGMS).index(v)))\
        .reset_index(drop=True)
