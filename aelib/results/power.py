"""The statistical power of a study: the smallest paradigm difference its seeds resolve, per task.

This module owns the answer to "how large a difference between two paradigms could this study have
seen?". The unit is the seed (a whole training run): each paradigm's score per seed is the mean of its
primary metric over the noisy grid (seen and unseen noise, every SNR), the quantity the paired tests of
:func:`aelib.results.stats.paired_vs_iterative` compare at ``level=seed``. From the spread of the paired
per-seed differences between every two paradigms of a task (pooled: their variances averaged), with ``n``
seeds and Student's t on ``n - 1`` degrees of freedom:

- ``resolved`` = t(0.975) * sd_diff / sqrt(n): a paired difference at least this large is significant at
  p < 0.05 (two-sided); smaller ones are not, whatever they are;
- ``mdd80`` = (t(0.975) + t(0.80)) * sd_diff / sqrt(n): a true difference this large is found at p < 0.05
  four times in five (80 % power);
- ``seed_sd``: the largest seed-to-seed sd of one paradigm's noisy-grid mean, the quantity whose goal the
  decisive study states (issue 23).

Utterance-level tests resolve far smaller differences, but they hold the trained models fixed: they say
whether *these* models differ, not whether the paradigms do.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from .stats import _order, noisy_seed_means


def seeds_needed(sd_diff: float, difference: float, power: float = 0.8, max_seeds: int = 100) -> int:
    """The fewest seeds whose paired test finds ``difference`` at p < 0.05 with ``power`` (0 if none <= max)."""
    from scipy import stats

    if not (sd_diff > 0 and difference > 0):
        return 0
    for n in range(2, max_seeds + 1):
        if (stats.t.ppf(0.975, n - 1) + stats.t.ppf(power, n - 1)) * sd_diff / math.sqrt(n) <= difference:
            return n
    return 0


def power_table(df: pd.DataFrame, kind: str = "synthetic", difference: float = 0.02) -> pd.DataFrame:
    """One row per task: seeds, pooled sd of paired seed differences, resolved and 80 %-power differences.

    ``df`` is :func:`aelib.results.read.collect`'s frame; ``difference`` is the gap for which
    ``seeds_for_difference`` says how many seeds the study would need (80 % power).
    """
    from scipy import stats

    rows = []
    for task, metric, _, means in noisy_seed_means(df, kind):
        per_seed = means.unstack("paradigm")
        paradigms = _order(per_seed.columns)
        variances = []
        for a, b in itertools.combinations(paradigms, 2):
            d = (per_seed[a] - per_seed[b]).dropna()
            if len(d) >= 2:
                variances.append(float(d.var(ddof=1)))
        n = int(per_seed.notna().all(axis=1).sum())
        sd_diff = math.sqrt(float(np.mean(variances))) if variances else math.nan
        ok = n >= 2 and math.isfinite(sd_diff)
        t975 = float(stats.t.ppf(0.975, n - 1)) if n >= 2 else math.nan
        t80 = float(stats.t.ppf(0.80, n - 1)) if n >= 2 else math.nan
        sds = per_seed.std(ddof=1)
        rows.append({
            "task": task, "metric": metric, "n_seeds": n, "n_paradigms": len(paradigms),
            "seed_sd_max": float(sds.max()), "seed_sd_worst": str(sds.idxmax()) if sds.notna().any() else "",
            "sd_diff": sd_diff,
            "resolved": t975 * sd_diff / math.sqrt(n) if ok else math.nan,
            "mdd80": (t975 + t80) * sd_diff / math.sqrt(n) if ok else math.nan,
            "difference": difference,
            "seeds_for_difference": seeds_needed(sd_diff, difference) if ok else 0,
        })
    return pd.DataFrame(rows)
