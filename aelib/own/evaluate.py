"""The SNR-grid evaluation of front-ends before the user's model: per-utterance rows, tables, paired tests.

:func:`evaluate` mixes every test clip with a test noise file (never heard in training) at every SNR of
the grid, with the same mixtures for every arm, and scores each arm (a front-end and the downstream
model it is paired with; ``none`` is the model alone) by the model's per-sample error, on the clean clips
too. One row per (arm, clip, SNR): a clip that fails is a row with its error, not a dropped clip.
:func:`summary` is the arm x SNR table of mean errors; :func:`paired` the paired test of two arms on the
same utterances (:func:`aelib.metrics.paired_test`: t-test and Wilcoxon signed-rank).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from ..metrics import paired_test
from .data import ClipSet, NoiseSet, mixtures

DEFAULT_SNRS = (-5.0, 0.0, 5.0, 10.0, 20.0)


@torch.no_grad()
def _apply(frontend, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
    if frontend is None:
        return list(waves)
    frontend.eval()
    return [frontend(torch.from_numpy(np.asarray(w, np.float32))[None])[0].numpy() for w in waves]


def evaluate(arms: dict[str, tuple[Any, Any]], test: ClipSet, noise_test: NoiseSet,
             snrs: Sequence[float] = DEFAULT_SNRS, seed: int = 0, clean: bool = True) -> pd.DataFrame:
    """Rows ``arm, clip, name, noise, snr, error`` (snr NaN for the clean clip); see the module docstring.

    ``arms``: name -> (front-end or None, the Downstream / BlackBox it feeds), e.g. :func:`aelib.own.fit.arms`.
    """
    if len(test) == 0:
        raise ValueError("the test clips are empty")
    mix = mixtures(test, noise_test, snrs, seed=seed, grid=True)
    rows = []
    for arm, (frontend, downstream) in arms.items():
        conditions = [("clean", float("nan"), [w for w in test.waves], list(range(len(test))))] if clean else []
        conditions.append(("noisy", None, [m["noisy"] for m in mix], [m["clip"] for m in mix]))
        for what, snr, waves, clips in conditions:
            errors = downstream.errors(_apply(frontend, waves), [test.targets[i] for i in clips])
            for j, (i, e) in enumerate(zip(clips, errors)):
                rows.append({"arm": arm, "clip": i, "name": test.names[i],
                             "noise": "" if what == "clean" else mix[j]["noise"],
                             "snr": snr if what == "clean" else mix[j]["snr"], "error": float(e)})
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean error per arm (rows) and SNR (columns; ``clean`` first), plus the mean over the noisy grid."""
    r = rows.assign(condition=rows["snr"].map(lambda s: "clean" if np.isnan(s) else f"{s:g} dB"))
    table = r.pivot_table(index="arm", columns="condition", values="error", aggfunc="mean", sort=False)
    table["noisy mean"] = r[~r["snr"].isna()].groupby("arm")["error"].mean()
    order = list(dict.fromkeys(rows["arm"]))
    return table.reindex(order)


def paired(rows: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """Paired test of arm ``a`` against arm ``b`` on the noisy grid's utterances (``mean_diff`` = a - b)."""
    noisy = rows[~rows["snr"].isna()]
    key = ["clip", "noise", "snr"]
    both = noisy[noisy["arm"] == a].merge(noisy[noisy["arm"] == b], on=key, suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError(f"arms {a!r} and {b!r} share no utterance")
    return paired_test(both["error_a"].to_numpy(), both["error_b"].to_numpy())
