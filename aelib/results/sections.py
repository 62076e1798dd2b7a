"""The Markdown sections of the generated results that read only a study's result tables and run summaries
(``scripts/report.py`` assembles them, with the study's own timing lines, into docs/results.md and the
README's block).

- :func:`competence`: every task's ``clean`` CA on clean test audio against chance, its worst and best test
  voice, and the ``cascade`` AE's gain on unseen noise types;
- :func:`headline_table`: per task, the ``clean`` CA on clean audio and each paradigm's noisy-grid mean;
- :func:`findings`, :func:`significant`, :func:`equal_budget`: sentences generated from the paired tests
  (the study's and the ablations'), so that they change when the numbers do.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..config import PARADIGMS
from ..layout import find_run_dirs
from .read import collect, collect_sources
from .stats import seed_mean, task_kinds, task_meta

TASK_NAMES = {"kws": "keyword spotting", "asr": "speech recognition", "ser": "emotion recognition",
              "asc": "scene classification"}
ALPHA = 0.05


def read_table(path: Path) -> pd.DataFrame | None:
    """A CSV table the study wrote, or None when it has not been written."""
    return pd.read_csv(path) if path.exists() else None


def read_markdown(path: Path) -> str:
    """A Markdown table the study wrote, or a note that says to run the study."""
    return path.read_text().strip() if path.exists() else "_(missing: run the study)_"


def _num(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def chance_levels(study: Path) -> dict[str, str]:
    """Per task, 1 / number of labels from the first finished ``clean`` run's metrics.json, formatted
    ("n/a" for asr, which has no chance level, and for a task with no finished ``clean`` run)."""
    out = {}
    for task in TASK_NAMES:
        n_labels = next((json.loads((d / "metrics.json").read_text()).get("n_labels")
                         for _, d in find_run_dirs(study, [task], ["clean"]) if (d / "metrics.json").exists()), None)
        out[task] = f"{1 / n_labels:.3f}" if n_labels and task != "asr" else "n/a"
    return out


def competence(study: Path, df: pd.DataFrame | None = None) -> list[str]:
    """Clean-test score of every task's ``clean`` CA (vs chance), and the AE's SI-SDR gain on unseen noise;
    ``df`` is :func:`aelib.results.collect` of ``study`` when the caller has it."""
    df = collect(study) if df is None else df
    if df.empty:
        return ["_(missing: run the study)_"]
    chance = chance_levels(study)
    kinds = task_kinds(df)  # asc's scenes are real recordings
    src = collect_sources(study)
    lines = ["| task | metric | `clean` CA on clean test audio | worst / best test voice (mean over seeds) | chance "
             "| `cascade` AE: SI-SDR gain on unseen noise types, dB |", "|---|---|---:|---|---:|---:|"]
    for task in [t for t in TASK_NAMES if t in set(df["task"])]:
        sub = df[(df["task"] == task) & (df["kind"] == kinds[task])]
        metric = sub["primary_metric"].iloc[0]
        clean = sub[(sub["paradigm"] == "clean") & (sub["noise_split"] == "clean")].groupby("seed")[metric].mean()
        m, h, n = seed_mean(clean)
        un = sub[(sub["paradigm"] == "cascade") & (sub["noise_split"] == "test_unseen")]
        gain = "n/a"
        if "sisdr_delta" in un and len(un):
            gm, gh, _ = seed_mean(un.groupby("seed")["sisdr_delta"].mean())
            gain = f"{gm:+.2f} ± {_num(gh, 2)}"
        spread = _extremes(src, task, kinds[task], bool(sub["higher_is_better"].iloc[0]))
        lines.append(f"| {task} | {metric} | {_num(m)} ± {_num(h)} ({n} seeds) | {spread} | {chance[task]} "
                     f"| {gain} |")
    return lines


def _extremes(src: pd.DataFrame, task: str, kind: str, higher_is_better: bool) -> str:
    """The worst and best test voice (or family of voices) of the ``clean`` CA on clean audio: a pooled score
    can hide that a model generalises to some unseen voices and not to others (:func:`aelib.evaluate.by_source`)."""
    if src.empty:
        return "n/a"
    sub = src[(src["task"] == task) & (src["kind"] == kind) & (src["paradigm"] == "clean")
              & (src["condition"] == "clean")]
    by = sub.groupby("source")["value"].mean().sort_values(ascending=higher_is_better)
    if len(by) < 2:
        return "n/a"
    return f"{_num(by.iloc[0])} (`{by.index[0]}`) / {_num(by.iloc[-1])} (`{by.index[-1]}`)"


def findings(study: Path, ablations: Path) -> list[str]:
    """One generated sentence per task and comparison, from the utterance-level paired tests."""
    out = []
    paired = read_table(study / "results" / "paired_vs_iterative.csv")
    if paired is not None and not paired.empty:
        for task in [t for t in TASK_NAMES if t in set(paired["task"])]:
            sub = paired[(paired["task"] == task)]
            parts = []
            for other in sub["paradigm"].unique():
                s = sub[(sub["paradigm"] == other) & (sub["level"] == "seed")]
                u = sub[(sub["paradigm"] == other) & (sub["level"] == "utterance")]
                if s.empty:
                    continue
                s, metric = s.iloc[0], s.iloc[0]["metric"]
                verdict = "better" if s["reference_better"] else "worse"
                sig = ""
                if len(u):
                    sig = f"; per utterance {_p(u.iloc[0]['p'])}"
                parts.append(f"{verdict} than `{other}` ({metric} {_num(s['reference_mean'])} vs "
                             f"{_num(s['other_mean'])}, seeds {_p(s['p'])}{sig})")
            out.append(f"- **{task}** ({TASK_NAMES[task]}), mean over the noisy test grid: `iterative` is "
                       + "; ".join(parts) + ".")
    ab = read_table(ablations / "paired.csv")
    if ab is not None and not ab.empty:
        for task in [t for t in TASK_NAMES if t in set(ab["task"])]:
            sub = ab[(ab["task"] == task) & (ab["level"] == "utterance")]
            parts = []
            for _, r in sub.iterrows():
                if r["paradigm"] == "iterative":
                    continue
                verdict = "better" if r["reference_better"] else "worse"
                parts.append(f"{verdict} than {r['paradigm']} ({r['metric']} {_num(r['reference_mean'])} vs "
                             f"{_num(r['other_mean'])}, {_p(r['p'])})")
            if parts:
                out.append(f"- ablations, **{task}**: `iterative` (ratio weights) is " + "; ".join(parts) + ".")
    return out


def headline_table(study: Path, df: pd.DataFrame | None = None) -> list[str]:
    """Per task: the ``clean`` CA on clean audio and every paradigm's mean over the noisy test grid
    (the ``avg`` column of the per-task tables), mean ± 95 % CI over seeds; the best paradigm in bold.
    ``df`` is :func:`aelib.results.collect` of ``study`` when the caller has it."""
    df = collect(study) if df is None else df
    rows, paradigms = {}, []
    for task in TASK_NAMES:
        t = read_table(study / "results" / f"by_snr_{task}.csv")
        if t is None or df.empty or task not in set(df["task"]):
            continue
        meta = task_meta(df, task, None)
        t = t[t["noise_split"] == "all"]
        rows[task] = (meta, t)
        paradigms += [p for p in t["paradigm"] if p not in paradigms]
    if not rows:
        return ["_(missing: run the study)_"]
    paradigms = [p for p in PARADIGMS if p in paradigms] + [p for p in paradigms if p not in PARADIGMS]
    lines = ["| task | metric | chance | `clean` CA on clean audio | " + " | ".join(f"`{p}`" for p in paradigms) + " |",
             "|---|---|---:|---:|" + "---:|" * len(paradigms)]
    chance = chance_levels(study)
    for task, ((metric, higher), t) in rows.items():
        avg = t[t["condition"] == "avg"].set_index("paradigm")
        clean = t[(t["paradigm"] == "clean") & (t["condition"] == "clean")]
        best = avg["mean"].idxmax() if higher else avg["mean"].idxmin()
        cells = []
        for p in paradigms:
            cell = f"{_num(avg.loc[p, 'mean'])} ± {_num(avg.loc[p, 'ci'])}" if p in avg.index else "–"
            cells.append(f"**{cell}**" if p == best else cell)
        c = f"{_num(clean['mean'].iloc[0])} ± {_num(clean['ci'].iloc[0])}" if len(clean) else "–"
        lines.append(f"| {task} | {metric} {'↑' if higher else '↓'} | {chance[task]} | {c} | "
                     + " | ".join(cells) + " |")
    return lines


def significant(study: Path) -> str:
    """Which seed-level paired tests of ``iterative`` against another paradigm reach p < ALPHA."""
    paired = read_table(study / "results" / "paired_vs_iterative.csv")
    if paired is None or paired.empty:
        return ""
    s = paired[(paired["level"] == "seed") & (paired["p"] < ALPHA)]
    parts = []
    for task in [t for t in TASK_NAMES if t in set(paired["task"])]:
        sub = s[s["task"] == task]
        if len(sub):
            parts.append(f"{task} " + ", ".join(f"{'better' if r['reference_better'] else 'worse'} than `{r['paradigm']}`"
                                                for _, r in sub.iterrows()))
    n = len(paired[paired["level"] == "seed"])
    return (f"Seed-level paired t-tests of `iterative` against each other paradigm with p < {ALPHA:g} "
            f"({len(s)} of {n}): " + ("; ".join(parts) if parts else "none") + ".")


def equal_budget(ablations: Path) -> str:
    """The paper's question at equal budgets: ``iterative`` against the cascade trained as long (bands.csv)."""
    b = read_table(ablations / "bands.csv")
    if b is None or b.empty:
        return ""
    parts = []
    for task in [t for t in TASK_NAMES if t in set(b["task"])]:
        sub = b[b["task"] == task].set_index("arm")
        if {"iterative", "cascade (equal budget)"} <= set(sub.index):
            parts.append(f"{task} {_num(sub.loc['iterative', 'all noisy'])} against "
                         f"{_num(sub.loc['cascade (equal budget)', 'all noisy'])}")
    if not parts:
        return ""
    return ("At equal budgets (`make ablations`), `iterative` against the cascade that trains the AE and the CA for as "
            "many epochs, noisy-grid mean: " + "; ".join(parts) + ".")
