"""A small study of run folders written by hand (metrics.json, predictions.csv, params.json, importance.json):
deterministic scores for the results tables and figures, no training."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SNRS = (0.0, 10.0)
N = 10  # utterances per cell
METRIC = {"kws": ("accuracy", True), "asr": ("wer", False), "ser": ("uar", True), "asc": ("accuracy", True)}
BASE = {"clean": 0.50, "noisy": 0.55, "cascade": 0.60, "joint": 0.62, "iterative": 0.70}


def value(task, paradigm, seed, split, snr):
    """Deterministic cell scores: iterative best; unseen 0.1 worse; higher SNR better; seeds jitter."""
    v = BASE[paradigm] + 0.01 * seed + (0.0 if split != "test_unseen" else -0.1) + (0.0 if snr == "clean" else snr / 100)
    return 1 - v if task == "asr" else v  # asr reports WER: lower is better


def write_run(study, task, paradigm, seed, kinds=("synthetic",), importance=None):
    """A finished run folder with the scores of :func:`value` and one predictions.csv row per utterance."""
    d = study / task / paradigm / f"seed{seed}"
    d.mkdir(parents=True)
    metric, hib = METRIC[task]
    cells, preds = [], []
    for kind in kinds:
        for split, snr in [("clean", "clean")] + [(s, x) for s in ("test_seen", "test_unseen") for x in SNRS]:
            v = value(task, paradigm, seed, split, snr) - (0.2 if kind == "real" else 0.0)
            cell = {"kind": kind, "noise_split": split, "snr": snr, "n": N, metric: v}
            if paradigm in ("cascade", "joint", "iterative") and split != "clean":
                cell.update(sisdr=5.0 + BASE[paradigm], input_sisdr=2.0, sisdr_delta=3.0 + BASE[paradigm])
            cells.append(cell)
            k = int(round(v * N))  # the first k utterances are "correct" (or, for asr, have WER 1)
            for i in range(N):
                preds.append({"clip": f"{task}/c{i}.wav", "source": "v", "kind": kind, "noise_split": split,
                              "noise_type": "", "snr": snr, "ref": "a", "pred": "a", "score": float(i < k)})
    (d / "metrics.json").write_text(json.dumps({"task": task, "paradigm": paradigm, "seed": seed, "preset": "smoke",
                                                "primary_metric": metric, "higher_is_better": hib, "headline": {},
                                                "cells": cells, "train_seconds": 1.0}))
    pd.DataFrame(preds).to_csv(d / "predictions.csv", index=False)
    (d / "params.json").write_text(json.dumps({"config": {"importance": "ratio", "importance_w_max": 5.0}}))
    if importance is not None:
        (d / "importance.json").write_text(json.dumps(importance))
    return d


def make_study(root: Path) -> Path:
    """kws (synthetic and real test speech, five paradigms) and asr (clean, iterative), seeds 0-2."""
    s = root / "study"
    for seed in (0, 1, 2):
        for p in BASE:
            write_run(s, "kws", p, seed, kinds=("synthetic", "real"),
                      importance={"round1_ae": [1.0] * 8, "round2_ae": [0.5] * 6 + [5.0, 2.0]} if p == "iterative" else None)
        for p in ("clean", "iterative"):
            write_run(s, "asr", p, seed)
    return s
