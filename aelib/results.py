"""Study results: pure functions over run folders -> DataFrames, tables (CSV, Markdown) and figures.

Reads ``runs/<study>/<task>/<paradigm>/seed<k>/`` (``metrics.json``, ``predictions.csv``,
``importance.json``, ``params.json``, ``train.ipynb``); never writes there. Means and 95 % intervals
over seeds come from :func:`aelib.metrics.mean_ci` (Student t; one seed gives no interval), paired
comparisons from :func:`aelib.metrics.paired_test`. Every function works on whatever runs exist:
missing tasks, paradigms or seeds are simply absent, and :func:`inventory` says which are missing.

Conventions: ``snr`` is a float column with the clean condition as ``+inf``; ``condition`` is its
label (``clean``, ``-5``, ..., ``avg`` for the mean over the noisy grid). Numeric tables carry a
``<col>_ci`` half-width beside each mean ``<col>``; :func:`to_markdown` formats them as ``m ± h``.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .config import PARADIGMS, TASKS
from .metrics import mean_ci, paired_test

AE_PARADIGMS = ("cascade", "joint", "iterative", "noisereduce")  # runs with a front-end (AE quality table)
AE_METRICS = ("sisdr", "stoi", "pesq")
NOISY = ("test_seen", "test_unseen")


# ---- reading -----------------------------------------------------------------------------------
def snr_value(x: Any) -> float:
    return math.inf if str(x) == "clean" else float(x)


def snr_label(x: Any) -> str:
    if isinstance(x, str):
        return x
    return "clean" if x == math.inf else ("avg" if x != x else f"{x:g}")


def resolve_study_dir(study_dir: str | Path) -> Path:
    """An absolute study folder; a relative one that is not under the cwd is taken from the repository root."""
    p = Path(study_dir).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (Path(__file__).resolve().parent.parent / p).resolve()


def run_dirs(study_dir: str | Path) -> list[tuple[str, str, int, Path]]:
    """(task, paradigm, seed, folder) of every run folder under the study (finished or not); a run folder
    itself gives just that run."""
    p = Path(study_dir)
    if re.fullmatch(r"seed\d+", p.name) and p.parent.name in PARADIGMS and p.parent.parent.name in TASKS:
        return [(p.parent.parent.name, p.parent.name, int(p.name[4:]), p)]  # a single run folder
    out = []
    for d in sorted(p.glob("*/*/seed*")):
        task, paradigm = d.parent.parent.name, d.parent.name
        if d.is_dir() and task in TASKS and paradigm in PARADIGMS and d.name[4:].isdigit():
            out.append((task, paradigm, int(d.name[4:]), d))
    return out


def _notebook_failed(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text())["metadata"].get("papermill", {}).get("exception"))
    except (OSError, ValueError, KeyError):
        return False


def inventory(study_dir: str | Path, tasks: Sequence[str] | None = None, paradigms: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per expected run: status finished | failed | unfinished | missing.

    The expected grid is the arguments, else ``study_info.json``'s, else the tasks and seeds found x all paradigms.
    """
    study_dir = Path(study_dir)
    found = {(t, p, s): d for t, p, s, d in run_dirs(study_dir)}
    info_path = study_dir / "study_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    tasks = list(tasks or info.get("tasks") or sorted({k[0] for k in found}, key=TASKS.index))
    paradigms = list(paradigms or info.get("paradigms") or PARADIGMS)
    seeds = list(seeds if seeds is not None else (info.get("seeds") or sorted({k[2] for k in found})))
    rows = []
    for t in tasks:
        for p in paradigms:
            for s in seeds:
                d = found.get((t, p, s), study_dir / t / p / f"seed{s}")
                if (d / "metrics.json").exists():
                    status = "finished"
                elif _notebook_failed(d / "train.ipynb"):
                    status = "failed"
                elif (d / "params.json").exists():
                    status = "unfinished"
                else:
                    status = "missing"
                rows.append({"task": t, "paradigm": p, "seed": s, "status": status, "run_dir": str(d)})
    return pd.DataFrame(rows, columns=["task", "paradigm", "seed", "status", "run_dir"])


def collect(study_dir: str | Path) -> pd.DataFrame:
    """One row per evaluation cell of every finished run: task, paradigm, seed, kind, noise_split, snr, metrics."""
    rows = []
    for task, paradigm, seed, d in run_dirs(study_dir):
        if not (d / "metrics.json").exists():
            continue
        m = json.loads((d / "metrics.json").read_text())
        for c in m["cells"]:
            rows.append({"task": task, "paradigm": paradigm, "seed": seed, "preset": m.get("preset"),
                         "primary_metric": m["primary_metric"], "higher_is_better": m["higher_is_better"],
                         **c, "snr": snr_value(c["snr"])})
    base = ["task", "paradigm", "seed", "preset", "primary_metric", "higher_is_better", "kind", "noise_split", "snr", "n"]
    return pd.DataFrame(rows, columns=None if rows else base)


def per_utterance(study_dir: str | Path, tasks: Iterable[str] | None = None,
                  paradigms: Iterable[str] | None = None) -> pd.DataFrame:
    """The predictions.csv rows of every finished run, with task, paradigm and seed columns."""
    frames = []
    for task, paradigm, seed, d in run_dirs(study_dir):
        if (tasks and task not in tasks) or (paradigms and paradigm not in paradigms):
            continue
        if (d / "metrics.json").exists() and (d / "predictions.csv").exists():
            f = pd.read_csv(d / "predictions.csv", keep_default_na=False, na_values=[""])
            f.insert(0, "seed", seed), f.insert(0, "paradigm", paradigm), f.insert(0, "task", task)
            frames.append(f)
    if not frames:
        return pd.DataFrame(columns=["task", "paradigm", "seed", "clip", "kind", "noise_split", "snr", "score"])
    out = pd.concat(frames, ignore_index=True)
    out["snr"] = out["snr"].map(snr_value)
    return out


# ---- statistics over seeds ---------------------------------------------------------------------
def _ci(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % interval, number of finite values)."""
    v = np.asarray(list(values), dtype=float)
    m, lo, hi = mean_ci(v)
    return m, (hi - m) if np.isfinite(hi) else math.nan, int(np.isfinite(v).sum())


def _task_meta(df: pd.DataFrame, task: str, metric: str | None) -> tuple[str, bool]:
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


def summary_by_snr(df: pd.DataFrame, task: str, metric: str | None = None, kind: str = "synthetic",
                   noise_split: str = "all") -> pd.DataFrame:
    """Long table: paradigm, condition, snr, mean, ci (half-width), n_seeds; ``avg`` = mean over noisy SNRs."""
    metric, _ = _task_meta(df, task, metric)
    kind = own_kind(df.loc[df["task"] == task, "kind"], kind)  # asc: its real scene recordings
    seeds = _per_seed(df[(df["task"] == task) & (df["kind"] == kind)], metric, noise_split)
    rows = []
    for p in _order(seeds["paradigm"]):
        sp = seeds[seeds["paradigm"] == p]
        for snr in sorted(sp["snr"].unique(), key=lambda s: (s != math.inf, s)):
            m, h, n = _ci(sp.loc[sp["snr"] == snr, "value"])
            rows.append({"paradigm": p, "condition": snr_label(snr), "snr": snr, "mean": m, "ci": h, "n_seeds": n})
        noisy = sp[sp["snr"] != math.inf].groupby("seed")["value"].mean()
        if len(noisy):
            m, h, n = _ci(noisy)
            rows.append({"paradigm": p, "condition": "avg", "snr": math.nan, "mean": m, "ci": h, "n_seeds": n})
    out = pd.DataFrame(rows, columns=["paradigm", "condition", "snr", "mean", "ci", "n_seeds"])
    out.attrs.update(task=task, metric=metric, kind=kind, noise_split=noise_split)
    return out


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
    wide.attrs["higher_is_better"] = _task_meta(df, task, metric)[1]
    return wide


def _over_seeds(per_seed: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    """Mean and CI half-width over seeds of each value column, grouped by ``by``."""
    rows = []
    for key, g in per_seed.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for c in cols:
            row[c], row[f"{c}_ci"], n = _ci(g[c]) if c in g else (math.nan, math.nan, 0)
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
    out.insert(2, "metric", out["task"].map(lambda t: _task_meta(df, t, metric)[0]))
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
    out.insert(2, "metric", out["task"].map(lambda t: _task_meta(df, t, metric)[0]))
    return out


def collect_sources(study_dir: str | Path) -> pd.DataFrame:
    """One row per run, kind, test source and condition (clean | noisy) from ``metrics.json``'s ``by_source``
    (:func:`aelib.evaluate.by_source`); runs written before it have none and add no rows."""
    rows = []
    for task, paradigm, seed, d in run_dirs(study_dir):
        if (d / "metrics.json").exists():
            m = json.loads((d / "metrics.json").read_text())
            rows += [{"task": task, "paradigm": paradigm, "seed": seed, "metric": m["primary_metric"], **r,
                      "value": r.get(m["primary_metric"], math.nan)} for r in m.get("by_source", [])]
    return pd.DataFrame(rows, columns=None if rows else ["task", "paradigm", "seed", "metric", "kind", "source",
                                                         "condition", "n", "value"])


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
    """SI-SDR / STOI / PESQ of the enhanced and the unprocessed input, and the improvement, per AE run type."""
    sub = of_task_kind(df, kind)
    sub = sub[sub["noise_split"].isin(NOISY) & sub["paradigm"].isin(AE_PARADIGMS)]
    cols = [c for m in AE_METRICS for c in (m, f"input_{m}", f"{m}_delta") if c in sub and sub[c].notna().any()]
    if sub.empty or not cols:
        return pd.DataFrame()
    by = ["task", "paradigm"] + (["snr"] if by_snr else [])
    ps = sub.groupby(by + ["seed"], as_index=False)[cols].mean()
    out = _over_seeds(ps, by, cols)
    if by_snr:
        out.insert(2, "condition", out.pop("snr").map(snr_label))
    return out


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


def paired_vs_iterative(df: pd.DataFrame, utt: pd.DataFrame | None = None, reference: str = "iterative",
                        kind: str = "synthetic") -> pd.DataFrame:
    """Paired tests of ``reference`` against every other paradigm, per task, on the noisy grid.

    ``level=seed``: per-seed means of the primary metric, paired by seed. ``level=utterance`` (when
    ``utt`` from :func:`per_utterance` is given): per-utterance scores (correctness, or WER for asr)
    matched by (clip, noise_split, snr, seed). ``mean_diff`` = reference - other; ``reference_better``
    takes the metric's direction into account.
    """
    rows = []
    only = task_kinds(df, kind)
    df = df[df["kind"] == df["task"].map(only)]
    noisy = df[df["noise_split"].isin(NOISY)]
    for task in [t for t in TASKS if t in set(noisy["task"])]:
        metric, hib = _task_meta(df, task, None)
        sub = noisy[noisy["task"] == task]
        per_seed = sub.groupby(["paradigm", "seed"])[metric].mean()
        if reference not in per_seed.index.get_level_values(0):
            continue
        ref = per_seed[reference]
        u = None
        if utt is not None and not utt.empty:
            u = utt[(utt["task"] == task) & (utt["kind"] == only[task]) & utt["noise_split"].isin(NOISY)]
        key = ["clip", "noise_split", "snr", "seed"]
        for other in _order(set(sub["paradigm"]) - {reference}):
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


# ---- importance --------------------------------------------------------------------------------
def importance_weights(study_dir: str | Path) -> pd.DataFrame:
    """Long table of every logged importance weight: task, seed, phase, round, weight, w_max."""
    frames = []
    for task, paradigm, seed, d in run_dirs(study_dir):
        f = d / "importance.json"
        if not f.exists():
            continue
        w_max = math.nan
        if (d / "params.json").exists():
            cfg = json.loads((d / "params.json").read_text())["config"]
            w_max = cfg.get("importance_w_max", math.nan) if cfg.get("importance") == "ratio" else math.nan
        for phase, ws in json.loads(f.read_text()).items():
            r = re.match(r"round(\d+)", phase)
            frames.append(pd.DataFrame({"task": task, "paradigm": paradigm, "seed": seed, "phase": phase,
                                        "round": int(r.group(1)) if r else 0, "weight": np.asarray(ws, float),
                                        "w_max": w_max}))
    cols = ["task", "paradigm", "seed", "phase", "round", "weight", "w_max"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


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


# ---- cross-task matrix -------------------------------------------------------------------------
def cross_task_matrix(study_dir: str | Path, snrs: Sequence[float] = (0.0,), max_clips: int = 40,
                      paradigm: str = "iterative", seed: int = 0, kind: str = "synthetic",
                      include_no_ae: bool = True) -> pd.DataFrame:
    """Task B's test set through task A's AE, then B's CA (B's run of the same paradigm and seed).

    Returns a long table: ae_task (``none`` = B's CA on the unprocessed mixture), ca_task, metric
    (B's primary), value (mean over the noisy cells of ``kind`` at ``snrs``, both noise splits),
    sisdr_delta and n. Only finished runs take part.
    """
    import dataclasses

    from .data import load_data
    from .evaluate import evaluate
    from .runs import load_run

    study_dir = Path(study_dir)
    pipes = {t: load_run(study_dir / t / paradigm / f"seed{seed}") for t in TASKS
             if (study_dir / t / paradigm / f"seed{seed}" / "metrics.json").exists()}
    rows = []
    for b, pb in pipes.items():
        cfg = dataclasses.replace(pb.cfg, test_snrs=tuple(float(s) for s in snrs), max_eval_clips=max_clips,
                                  eval_pesq=False, device="cpu")
        data = load_data(cfg, pb.task_spec)
        sources = ([("none", None)] if include_no_ae else []) + [(a, pa.ae) for a, pa in pipes.items()]
        for a, ae in sources:
            _, cells = evaluate(cfg, data, ae, pb.ca, progress=False)
            own = own_kind((c["kind"] for c in cells), kind)
            cells = [c for c in cells if c["kind"] == own and c["noise_split"] in NOISY]
            metric = pb.task_spec.primary_metric
            deltas = [c["sisdr_delta"] for c in cells if "sisdr_delta" in c]
            rows.append({"ae_task": a, "ca_task": b, "metric": metric,
                         "value": float(np.mean([c[metric] for c in cells])) if cells else math.nan,
                         "sisdr_delta": float(np.mean(deltas)) if deltas else math.nan,
                         "n": int(sum(c["n"] for c in cells)), "higher_is_better": pb.task_spec.higher_is_better})
    return pd.DataFrame(rows, columns=["ae_task", "ca_task", "metric", "value", "sisdr_delta", "n", "higher_is_better"])


# ---- one run (01_train) ------------------------------------------------------------------------
def run_table(run_dir: str | Path, metric: str | None = None) -> pd.DataFrame:
    """One run's metric per (kind, noise split) x condition (clean and the SNR grid)."""
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    metric = metric or m["primary_metric"]
    cells = pd.DataFrame(m["cells"])
    cells["condition"] = cells["snr"].map(lambda s: snr_label(snr_value(s)))
    t = cells.pivot_table(index=["kind", "noise_split"], columns="condition", values=metric, aggfunc="mean")
    cols = sorted(t.columns, key=lambda c: (c != "clean", float(c) if c != "clean" else 0))
    return t[cols]


# ---- writing -----------------------------------------------------------------------------------
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


def run_times(study_dir: str | Path) -> pd.DataFrame:
    """Per run: training seconds (metrics.json) and the executed notebook's wall seconds (papermill metadata,
    training + evaluation + start-up), so that a study's cost can be told apart from other load on the machine."""
    rows = []
    for task, paradigm, seed, d in run_dirs(study_dir):
        if not (d / "metrics.json").exists():
            continue
        m = json.loads((d / "metrics.json").read_text())
        nb_s = math.nan
        if (d / "train.ipynb").exists():
            try:
                nb_s = float(json.loads((d / "train.ipynb").read_text())["metadata"]["papermill"]["duration"])
            except (KeyError, TypeError, ValueError):
                pass
        rows.append({"task": task, "paradigm": paradigm, "seed": seed, "train_seconds": m.get("train_seconds"),
                     "notebook_seconds": nb_s})
    return pd.DataFrame(rows, columns=["task", "paradigm", "seed", "train_seconds", "notebook_seconds"])


def compare_studies(reference: str | Path, rerun: str | Path, kind: str = "synthetic",
                    tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Does a rerun reproduce a study? Per task and paradigm, the primary metric over the noisy grid
    (on ``kind`` speech, or the task's own kind: :func:`task_kinds`); only ``tasks`` when given (a
    rerun that changed a task's data or settings on purpose reproduces only the others).

    Columns: the reference's mean and 95 % CI over seeds, the rerun's mean, the largest per-seed
    difference, and ``within_ci`` (the rerun's mean lies inside the reference's interval: "the same
    tables within the reported noise"). The reference's mean and interval are over all its seeds (a rerun
    of some seeds is checked against the full study); the rerun's mean and the per-seed difference are
    over the (task, paradigm, seed) runs finished in both.
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
        m, hw, n = _ci(ref[(ref["task"] == task) & (ref["paradigm"] == paradigm)]["value"])
        new = float(g["value_rerun"].mean())
        rows.append({"task": task, "paradigm": paradigm, "seeds": n, "reference": m, "ci95": hw, "rerun": new,
                     "max_seed_diff": float((g["value_rerun"] - g["value_ref"]).abs().max()),
                     "within_ci": bool(abs(new - m) <= hw) if np.isfinite(hw) else bool(new == m)})
    out = pd.DataFrame(rows, columns=["task", "paradigm", "seeds", "reference", "ci95", "rerun", "max_seed_diff",
                                      "within_ci"])
    return out.sort_values(["task", "paradigm"], key=lambda c: c.map(lambda v: (TASKS + PARADIGMS).index(v)))\
        .reset_index(drop=True)


def write_tables(study_dir: str | Path, out_dir: str | Path | None = None, df: pd.DataFrame | None = None,
                 utt: pd.DataFrame | None = None, cross_task: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write every table as CSV (numbers) and Markdown (formatted) into ``out_dir`` (default <study>/results)."""
    study_dir = Path(study_dir)
    out = Path(out_dir or study_dir / "results")
    out.mkdir(parents=True, exist_ok=True)
    df = collect(study_dir) if df is None else df
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
                        ("paired_vs_iterative", paired_vs_iterative(df, per_utterance(study_dir) if utt is None else utt))):
            tables[name] = (t, t)
    imp = importance_summary(study_dir)
    tables["importance_summary"] = (imp, imp)
    rt = run_times(study_dir)
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


# ---- figures -----------------------------------------------------------------------------------
def _save(fig, path: str | Path | None):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_metric_vs_snr(df: pd.DataFrame, task: str, metric: str | None = None, kind: str = "synthetic",
                       noise_split: str = "all", path: str | Path | None = None, ax=None):
    """One line per paradigm over the SNR grid (clean at the right), 95 % CI bands over seeds."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = summary_by_snr(df, task, metric, kind, noise_split)
    long = long[long["condition"] != "avg"]
    fig, ax = (plt.subplots(figsize=(5.5, 3.6)) if ax is None else (ax.figure, ax))
    noisy = sorted(s for s in long["snr"].unique() if s != math.inf)
    clean_x = (max(noisy) + 10) if noisy else 0.0
    palette = dict(zip(PARADIGMS, sns.color_palette("colorblind", len(PARADIGMS))))
    for p, g in long.groupby("paradigm", sort=False):
        g = g.assign(x=g["snr"].replace(math.inf, clean_x)).sort_values("x")
        line = g[g["snr"] != math.inf]
        ax.plot(line["x"], line["mean"], marker="o", label=p, color=palette.get(p))
        ax.fill_between(line["x"], line["mean"] - line["ci"], line["mean"] + line["ci"], alpha=0.2, color=palette.get(p))
        c = g[g["snr"] == math.inf]
        ax.errorbar(c["x"], c["mean"], yerr=c["ci"].fillna(0), marker="s", color=palette.get(p), linestyle="none")
    ax.set_xticks(noisy + [clean_x], [f"{s:g}" for s in noisy] + ["clean"])
    ax.set_xlabel("test SNR (dB)")
    ax.set_ylabel(long.attrs.get("metric", metric))
    noise = "seen + unseen noise" if noise_split == "all" else noise_split
    ax.set_title(f"{task}: {long.attrs.get('metric')} vs SNR ({long.attrs.get('kind', kind)} test audio, {noise})",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_importance(weights: pd.DataFrame, path: str | Path | None = None):
    """Distribution of the importance weights per round (one panel per task, seeds pooled)."""
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if t in set(weights["task"])] or ["(none)"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.0), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        g = weights[weights["task"] == task]
        rounds = sorted(g["round"].unique())
        if rounds:
            ax.boxplot([g.loc[g["round"] == r, "weight"] for r in rounds], flierprops={"markersize": 2})
            ax.set_xticks(range(1, len(rounds) + 1), [str(r) for r in rounds])
            cap = g["w_max"].dropna()
            if len(cap):
                ax.axhline(cap.iloc[0], ls="--", lw=0.8, color="grey")
        ax.axhline(1.0, lw=0.8, color="black")
        ax.set_title(task)
        ax.set_xlabel("round")
    axes[0][0].set_ylabel("importance weight w_i")
    fig.tight_layout()
    return _save(fig, path)


def plot_cross_task(cross: pd.DataFrame, path: str | Path | None = None):
    """Heatmap of the cross-task matrix (rows: whose AE, columns: whose CA and metric)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    piv = cross.pivot(index="ae_task", columns="ca_task", values="value")
    order = ["none"] + list(TASKS)
    piv = piv.reindex(index=[t for t in order if t in piv.index], columns=[t for t in TASKS if t in piv.columns])
    fig, ax = plt.subplots(figsize=(1.2 * len(piv.columns) + 2, 0.6 * len(piv.index) + 1.2))
    sns.heatmap(piv, annot=True, fmt=".2f", cmap="viridis", cbar=False, ax=ax)
    metrics = dict(zip(cross["ca_task"], cross["metric"]))
    ax.set_xticklabels([f"{t}\n({metrics.get(t, '')})" for t in piv.columns])
    ax.set_xlabel("CA (test set) of task")
    ax.set_ylabel("AE of task")
    fig.tight_layout()
    return _save(fig, path)


def plot_history(run_dir: str | Path, path: str | Path | None = None):
    """A run's training losses (AE steps and CA steps apart: their scales differ) and validation score per epoch."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    h = pd.DataFrame(json.loads((Path(run_dir) / "history.json").read_text()))
    h["epoch_total"] = np.arange(1, len(h) + 1)
    is_ae = h["step"].isin(["ae", "ae_weighted"]) if "step" in h else pd.Series(False, index=h.index)
    panels = [(h[is_ae], "train_loss", "AE training loss (lower is better)"),
              (h[~is_ae], "train_loss", "CA training loss (joint: L_AE + lambda L_CA)"),
              (h, "score", "validation score (higher is better)")]
    panels = [p for p in panels if not p[0].empty]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    colours = dict(zip(dict.fromkeys(h["phase"]), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10))
    for ax, (sub, col, label) in zip(axes[0], panels):
        for phase, g in sub.groupby("phase", sort=False):
            ax.plot(g["epoch_total"], g[col], marker="o", label=phase, color=colours[phase])
        ax.set_xlabel("epoch (all phases)")
        ax.set_title(label, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)
