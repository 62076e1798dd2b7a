"""Evaluation across tasks: the AE of one task's run before another task's CA (the cross-task matrix).

Loads the finished runs of one paradigm and seed of a study (:func:`aelib.runs.load_run`) and
re-evaluates every task's test set through every task's AE with :func:`aelib.evaluate.evaluate`:
does an AE trained for one task help another? The matrix is a table of
:func:`aelib.results.write_tables` and a figure of :func:`aelib.plots.plot_cross_task`.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .config import TASKS
from .data import load_data
from .evaluate import evaluate
from .layout import run_dir
from .results.stats import NOISY, own_kind
from .runs import load_run


def cross_task_matrix(study_dir: str | Path, snrs: Sequence[float] = (0.0,), max_clips: int = 40,
                      paradigm: str = "iterative", seed: int = 0, kind: str = "synthetic",
                      include_no_ae: bool = True) -> pd.DataFrame:
    """Task B's test set through task A's AE, then B's CA (B's run of the same paradigm and seed).

    Returns a long table: ae_task (``none`` = B's CA on the unprocessed mixture), ca_task, metric
    (B's primary), value (mean over the noisy cells of ``kind`` at ``snrs``, both noise splits),
    sisdr_delta and n. Only runs with their models take part (``checkpoints/best.th``): committed summaries hold
    none, so after a study that retrained some tasks on a clone the matrix covers those tasks.
    """
    runs = {t: run_dir(study_dir, t, paradigm, seed) for t in TASKS}
    pipes = {t: load_run(d) for t, d in runs.items() if (d / "checkpoints" / "best.th").exists()}
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
