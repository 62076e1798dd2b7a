"""The study's tables: the paper-style comparisons as DataFrames, their Markdown, and the files of ``results/``.

Each table is made from the frames of :mod:`aelib.results.read` with the statistics of
:mod:`aelib.results.stats`; :func:`write_tables` writes every one as CSV (numbers) and Markdown
(formatted, :func:`to_markdown` shows a mean ``x`` and its ``x_ci`` half-width as ``m ± h``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import FRONTEND_PARADIGMS, PARADIGMS, TASKS
from .read import RUN_TIMES_TABLE, collect, collect_sources, inventory, per_utterance, run_times, snr_label
from .stats import (NOISY, _order, _over_seeds, _primary, task_meta, importance_summary, of_task_kind,
                    paired_vs_iterative, summary_by_snr)

AE_METRICS = ("sisdr", "stoi", "pesq")


def fmt(mean: float, ci: float = math.nan, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {ci:.{digits}f}" if np.isfinite(ci) else "")


def table_by_snr(df: pd.DataFrame, task: str, metric: str | None = None, kind: str = "synthetic",
                 noise_split: str = "all", digits: int = 3) -> pd.DataFrame:
    """Paper-style table: paradigms x (clean, SNRs, avg), ``mean ± 95 % CI`` over seeds as strings."""
    long = summary_by_snr(df, task, metric, kind, noise_split)
    wide = long.assign(cell=[fmt(m, h, digits) for m, h in zip(long["mean"], long["ci"])]).pivot(
        index="paradigm", columns="condition", values="cell")
    cols = list(dict.fromkeys(long["condition"]))
    cols = sorted(cols, key=lambda c: (c != "clean", c == "avg", float(c) if c not in ("clean", "avg") else 0))
    wide = wide.reindex(index=_order(wide.index), columns=cols).fillna("–")
    wide.attrs.update(long.attrs)
    wide.attrs["higher_is_better"] = task_meta(df, task, metric)[1]
    return wide


def seen_vs_unseen(df: pd.DataFrame, metric: str | None = None, kind: str = "synthetic") -> pd.DataFrame:
    """Per task and paradigm: primary metric over the noisy grid for seen and unseen noise types, and the gap."""
    sub = of_task_kind(df, kind)
    sub = sub[sub["noise_split"].isin(NOISY)]
    if sub.empty:
        return pd.DataFrame()
    sub = sub.assign(value=_primary(sub, metric))
    ps = sub.pivot_table(index=["task", "paradigm", "seed"], columns="noise_split", values="value", aggfunc="mean")
    ps = ps.rename(columns={"test_seen": "seen", "test_unseen": "unseen"}).reset_index()
    cols = [c for c in ("seen", "unseen") if c in ps]
    if len(cols) == 2:
        ps["gap"] = ps["unseen"] - ps["seen"]
        cols.append("gap")
    out = _over_seeds(ps, ["task", "paradigm"], cols)
    out.insert(2, "metric", out["task"].map(lambda t: task_meta(df, t, metric)[0]))
    return out


def synthetic_vs_real(df: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Per task with real test speech and paradigm: clean and noisy-average scores on synthetic vs real voices."""
    real_tasks = df.loc[df["kind"] == "real", "task"].unique()
    sub = df[df["task"].isin(real_tasks)]
    if sub.empty:
        return pd.DataFrame()
    sub = sub.assign(value=_primary(sub, metric), cond=np.where(sub["noise_split"] == "clean", "clean", "noisy"))
    ps = sub.pivot_table(index=["task", "paradigm", "seed"], columns=["kind", "cond"], values="value", aggfunc="mean")
    ps.columns = [f"{k}_{c}" for k, c in ps.columns]
    ps = ps.reset_index()
    cols = [c for c in ("synthetic_clean", "real_clean", "synthetic_noisy", "real_noisy") if c in ps]
    out = _over_seeds(ps, ["task", "paradigm"], cols)
    out.insert(2, "metric", out["task"].map(lambda t: task_meta(df, t, metric)[0]))
    return out


def by_source_table(src: pd.DataFrame) -> pd.DataFrame:
    """Per task and test voice (or family of voices, :func:`aelib.evaluate.by_source`): the ``clean`` CA on clean
    audio (``clean_audio``) and every paradigm over the noisy grid, mean ± CI over seeds; ``n_clips`` is the
    most clean clips of a seed.

    Which unseen voices a model generalises to is hidden by the pooled headline (see
    :func:`aelib.evaluate.by_source`)."""
    if src.empty:
        return pd.DataFrame()
    clean = src[(src["condition"] == "clean") & (src["paradigm"] == "clean")].assign(col="clean_audio")
    noisy = src[src["condition"] == "noisy"]
    both = pd.concat([clean, noisy.assign(col=noisy["paradigm"])], ignore_index=True)
    by = ["task", "kind", "source", "metric"]
    ps = both.pivot_table(index=[*by, "seed"], columns="col", values="value", aggfunc="mean").reset_index()
    cols = [c for c in ("clean_audio", *PARADIGMS) if c in ps]
    out = _over_seeds(ps, by, cols)
    n = src[src["condition"] == "clean"].groupby(by[:3])["n"].max().rename("n_clips")
    return out.merge(n.reset_index(), on=by[:3], how="left").pipe(
        lambda t: t[[*by, "n_clips", *[c for c in t.columns if c not in (*by, "n_clips")]]])


def ae_quality_table(df: pd.DataFrame, kind: str = "synthetic", by_snr: bool = False) -> pd.DataFrame:
    """SI-SDR / STOI / PESQ of the enhanced and the unprocessed input, and the improvement, per run type with a
    front-end (:data:`aelib.config.FRONTEND_PARADIGMS`)."""
    sub = of_task_kind(df, kind)
    sub = sub[sub["noise_split"].isin(NOISY) & sub["paradigm"].isin(FRONTEND_PARADIGMS)]
    cols = [c for m in AE_METRICS for c in (m, f"input_{m}", f"{m}_delta") if c in sub and sub[c].notna().any()]
    if sub.empty or not cols:
        return pd.DataFrame()
    by = ["task", "paradigm"] + (["snr"] if by_snr else [])
    ps = sub.groupby(by + ["seed"], as_index=False)[cols].mean()
    out = _over_seeds(ps, by, cols)
    if by_snr:
        out.insert(2, "condition", out.pop("snr").map(snr_label))
    return out


def _by_noise_type(sub: pd.DataFrame, column: str, paradigms: tuple[str, ...]) -> pd.DataFrame:
    """Mean of ``column`` per task, noise split and noise type of the test files, one column per paradigm (mean and
    95 % CI over seeds of each run's mean), and ``n``: the utterances of one run in that type's cells."""
    by = ["task", "noise_split", "noise_type"]
    per_seed = sub.groupby([*by, "paradigm", "seed"], as_index=False)[column].mean()
    out = _over_seeds(per_seed, [*by, "paradigm"], [column])
    wide = out.set_index([*by, "paradigm"])[[column, f"{column}_ci"]].unstack("paradigm")  # keeps NaN CIs (one seed)
    cols = [p for p in paradigms if p in set(out["paradigm"])]
    table = pd.DataFrame(index=wide.index)
    for p in cols:
        table[p], table[f"{p}_ci"] = wide[(column, p)], wide[(f"{column}_ci", p)]
    n = sub.groupby([*by, "paradigm", "seed"]).size().groupby(level=by).max().rename("n")
    table = table.join(n).reset_index()
    order = {t: i for i, t in enumerate(TASKS)}
    table = table.sort_values(by, key=lambda s: s.map(order) if s.name == "task" else s).reset_index(drop=True)
    return table[[*by, "n", *[c for p in cols for c in (p, f"{p}_ci")]]]


def _noisy_rows(utt: pd.DataFrame, kind: str, need: set[str]) -> pd.DataFrame:
    """The per-utterance rows of the noisy test cells of each task's table kind with a noise type; empty without
    ``need`` columns."""
    if utt.empty or not need <= set(utt.columns):
        return pd.DataFrame()
    sub = of_task_kind(utt, kind)
    return sub[sub["noise_split"].isin(NOISY) & sub["noise_type"].notna()]


def ae_by_noise_type(utt: pd.DataFrame, kind: str = "synthetic") -> pd.DataFrame:
    """SI-SDR improvement (dB, enhanced minus input, mean over the noisy test grid's utterances) per noise type of
    the test files, one column per paradigm with a front-end, mean ± 95 % CI over seeds: which kinds of noise a
    front-end fails on, the unseen types above all. Made from ``predictions.csv`` (:func:`per_utterance`)."""
    sub = _noisy_rows(utt, kind, {"noise_type", "sisdr", "input_sisdr"})
    if not sub.empty:
        sub = sub[sub["paradigm"].isin(FRONTEND_PARADIGMS) & sub["sisdr"].notna()]
    if sub.empty:
        return pd.DataFrame()
    return _by_noise_type(sub.assign(delta=sub["sisdr"] - sub["input_sisdr"]), "delta", FRONTEND_PARADIGMS)


def score_by_noise_type(utt: pd.DataFrame, kind: str = "synthetic") -> pd.DataFrame:
    """The downstream model's per-utterance score (correct or not; for asr the utterance's WER) per noise type of the
    test files and paradigm, mean ± 95 % CI over seeds, over the noisy test grid: which noise each paradigm fails
    on. A mean of utterances: accuracy, not ser's UAR nor asr's corpus WER."""
    sub = _noisy_rows(utt, kind, {"noise_type", "score"})
    return pd.DataFrame() if sub.empty else _by_noise_type(sub, "score", PARADIGMS)


def to_markdown(df: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """A GitHub Markdown table; numeric ``x`` with an ``x_ci`` column become ``m ± h``."""
    if df.empty:
        return "_(no data)_\n"
    d = df.reset_index() if index and not isinstance(df.index, pd.RangeIndex) else df.copy()
    for c in list(d.columns):
        if f"{c}_ci" in d.columns:
            d[c] = [fmt(m, h, digits) for m, h in zip(d[c], d[f"{c}_ci"])]
            d = d.drop(columns=f"{c}_ci")
    def cell(v: Any) -> str:
        if not isinstance(v, float) or not np.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}" if abs(v) >= 1000 or 0 < abs(v) < 10**-digits else f"{v:.{digits}f}"

    lines = ["| " + " | ".join(map(str, d.columns)) + " |", "|" + "---|" * len(d.columns)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in d.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_tables(study_dir: str | Path, out_dir: str | Path | None = None, df: pd.DataFrame | None = None,
                 utt: pd.DataFrame | None = None, cross_task: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write every table as CSV (numbers) and Markdown (formatted) into ``out_dir`` (default <study>/results).

    ``cross_task``: the matrix of :func:`aelib.crosstask.cross_task_matrix`, when it was evaluated.
    """
    study_dir = Path(study_dir)
    out = Path(out_dir or study_dir / "results")
    out.mkdir(parents=True, exist_ok=True)
    df = collect(study_dir) if df is None else df
    utt = per_utterance(study_dir) if utt is None else utt
    tables: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    inv = inventory(study_dir)
    tables["inventory"] = (inv, inv)
    if not df.empty:
        for task in [t for t in TASKS if t in set(df["task"])]:
            long = pd.concat([summary_by_snr(df, task, noise_split=s).assign(noise_split=s)
                              for s in ("all", *NOISY)], ignore_index=True)
            tables[f"by_snr_{task}"] = (long, table_by_snr(df, task))
        for name, t in (("seen_vs_unseen", seen_vs_unseen(df)), ("synthetic_vs_real", synthetic_vs_real(df)),
                        ("ae_quality", ae_quality_table(df)), ("ae_quality_by_snr", ae_quality_table(df, by_snr=True)),
                        ("by_source", by_source_table(collect_sources(study_dir))),
                        ("ae_by_noise_type", ae_by_noise_type(utt)), ("score_by_noise_type", score_by_noise_type(utt)),
                        ("paired_vs_iterative", paired_vs_iterative(df, utt))):
            tables[name] = (t, t)
    imp = importance_summary(study_dir)
    tables["importance_summary"] = (imp, imp)
    rt = run_times(study_dir)[RUN_TIMES_TABLE]
    tables["run_times"] = (rt, rt)
    if cross_task is not None:
        tables["cross_task"] = (cross_task, cross_task.pivot(index="ae_task", columns="ca_task", values="value")
                                if not cross_task.empty else cross_task)
    written = {}
    for name, (numeric, shown) in tables.items():
        numeric.to_csv(out / f"{name}.csv", index=False)
        (out / f"{name}.md").write_text(to_markdown(shown, index=shown is not numeric or name == "cross_task"))
        written[name] = out / f"{name}.csv"
    return written
