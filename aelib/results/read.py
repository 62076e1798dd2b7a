"""Reading run folders into DataFrames: the one reader of what a study's runs wrote.

Reads ``<study>/<task>/<paradigm>/seed<k>/`` (``metrics.json``, ``predictions.csv``, ``importance.json``,
``params.json``, ``history.json``, ``train.ipynb``), ``<study>/study_info.json`` and ``<study>/reproduction.json``;
never writes there.
Every function works on whatever runs exist: missing tasks, paradigms or seeds are simply absent, and
:func:`inventory` says which are missing. Timings are read here only: :func:`run_times` (per run folder),
:func:`study_wall_seconds` and :func:`study_run_seconds` (from ``study_info.json``).

Conventions: ``snr`` is a float column with the clean condition as ``+inf``; ``condition`` is its
label (``clean``, ``-5``, ..., ``avg`` for the mean over the noisy grid).
"""
from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..config import PARADIGMS, TASKS
from ..layout import REPO, find_run_dirs, relative_to_repo, run_dir, run_name

# the columns of results/run_times.csv (run_times has more)
RUN_TIMES_TABLE = ["task", "paradigm", "seed", "train_seconds", "notebook_seconds"]


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
    return (REPO / p).resolve()


def run_dirs(study_dir: str | Path) -> list[tuple[str, str, int, Path]]:
    """(task, paradigm, seed, folder) of every run folder under the study (finished or not); a run folder
    itself gives just that run."""
    return [(*key, d) for key, d in find_run_dirs(study_dir, TASKS, PARADIGMS)]


def study_info(study_dir: str | Path) -> dict[str, Any]:
    """The study's ``study_info.json`` (grid, workers, wall time, invocations), or {} when there is none."""
    path = Path(study_dir) / "study_info.json"
    return json.loads(path.read_text()) if path.exists() else {}


def reproduction_record(study_dir: str | Path) -> dict[str, Any]:
    """The study's ``reproduction.json``: a from-scratch rerun's cost and verdict (``scripts/compare_studies.py``
    writes it beside its page; ``make reproduce``), or {} when there is none."""
    path = Path(study_dir) / "reproduction.json"
    return json.loads(path.read_text()) if path.exists() else {}


def study_wall_seconds(info: dict[str, Any]) -> float | None:
    """A study's wall time from its :func:`study_info` (also the older key names), or None when not recorded."""
    wall = next((info[k] for k in ("wall_seconds", "wall_time_s", "seconds", "elapsed_seconds") if k in info), None)
    if wall is None and isinstance(info.get("started"), (int, float)) and isinstance(info.get("finished"), (int, float)):
        wall = info["finished"] - info["started"]
    return wall


def study_run_seconds(info: dict[str, Any]) -> pd.DataFrame:
    """(task, paradigm, seed, seconds) of every run the study runner finished, as recorded in a
    :func:`study_info` (its ``runs`` list: each run's notebook wall seconds seen by the runner)."""
    rows = [{k: r[k] for k in ("task", "paradigm", "seed", "seconds")} for r in info.get("runs", [])
            if r.get("status") == "done"]
    return pd.DataFrame(rows, columns=["task", "paradigm", "seed", "seconds"])


def _notebook_failed(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text())["metadata"].get("papermill", {}).get("exception"))
    except (OSError, ValueError, KeyError):
        return False


def inventory(study_dir: str | Path, tasks: Sequence[str] | None = None, paradigms: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per expected run: status finished | failed | unfinished | missing; ``run_dir`` as a committed
    table records it (:func:`aelib.layout.relative_to_repo`).

    The expected grid is the arguments, else ``study_info.json``'s, else the tasks and seeds found x all paradigms.
    """
    study_dir = Path(study_dir)
    found = {(t, p, s): d for t, p, s, d in run_dirs(study_dir)}
    info = study_info(study_dir)
    tasks = list(tasks or info.get("tasks") or sorted({k[0] for k in found}, key=TASKS.index))
    paradigms = list(paradigms or info.get("paradigms") or PARADIGMS)
    seeds = list(seeds if seeds is not None else (info.get("seeds") or sorted({k[2] for k in found})))
    rows = []
    for t in tasks:
        for p in paradigms:
            for s in seeds:
                d = found.get((t, p, s), run_dir(study_dir, t, p, s))
                if (d / "metrics.json").exists():
                    status = "finished"
                elif _notebook_failed(d / "train.ipynb"):
                    status = "failed"
                elif (d / "params.json").exists():
                    status = "unfinished"
                else:
                    status = "missing"
                rows.append({"task": t, "paradigm": p, "seed": s, "status": status, "run_dir": relative_to_repo(d)})
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


def run_table(run_dir: str | Path, metric: str | None = None) -> pd.DataFrame:
    """One run's metric per (kind, noise split) x condition (clean and the SNR grid)."""
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    metric = metric or m["primary_metric"]
    cells = pd.DataFrame(m["cells"])
    cells["condition"] = cells["snr"].map(lambda s: snr_label(snr_value(s)))
    t = cells.pivot_table(index=["kind", "noise_split"], columns="condition", values=metric, aggfunc="mean")
    cols = sorted(t.columns, key=lambda c: (c != "clean", float(c) if c != "clean" else 0))
    return t[cols]


def _notebook_seconds(path: Path) -> float:
    """The executed notebook's wall seconds (papermill metadata), NaN without one."""
    if path.exists():
        try:
            return float(json.loads(path.read_text())["metadata"]["papermill"]["duration"])
        except (KeyError, TypeError, ValueError):
            pass
    return math.nan


def run_times(study_dir: str | Path) -> pd.DataFrame:
    """Per finished run, what it cost, so that a study's cost can be told apart from other load on the machine.

    Columns: ``task``, ``paradigm``, ``seed``; ``train_seconds`` (metrics.json: training only; a shared stage
    counts once, in the run that made it); ``notebook_seconds`` (the executed ``train.ipynb``'s wall seconds from
    papermill's metadata: training + evaluation + start-up; NaN without one); ``run`` (``<task>/<paradigm>/seed<k>``);
    from ``history.json``: ``epochs`` (trained in this run), ``reused_epochs`` (taken from a cached shared stage),
    ``epoch_seconds_sum`` and ``epoch_seconds_mean`` over the epochs trained here (the mean NaN without any).
    The study's own wall time is :func:`study_wall_seconds` of :func:`study_info`, and the runner's record
    of each run's wall seconds :func:`study_run_seconds`.
    """
    rows = []
    for task, paradigm, seed, d in run_dirs(study_dir):
        if not (d / "metrics.json").exists():
            continue
        m = json.loads((d / "metrics.json").read_text())
        history = json.loads((d / "history.json").read_text()) if (d / "history.json").exists() else []
        own = [h for h in history if "reused" not in h]
        rows.append({"task": task, "paradigm": paradigm, "seed": seed, "train_seconds": m.get("train_seconds"),
                     "notebook_seconds": _notebook_seconds(d / "train.ipynb"), "run": run_name(task, paradigm, seed),
                     "epochs": len(own), "reused_epochs": len(history) - len(own),
                     "epoch_seconds_sum": sum(h.get("seconds", 0.0) for h in own),
                     "epoch_seconds_mean": statistics.mean(h.get("seconds", 0.0) for h in own) if own else math.nan})
    return pd.DataFrame(rows, columns=[*RUN_TIMES_TABLE, "run", "epochs", "reused_epochs", "epoch_seconds_sum",
                                       "epoch_seconds_mean"])
