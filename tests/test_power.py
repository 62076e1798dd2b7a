"""The study's power (aelib.results.power) on frames written by hand: the formula, not a study."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aelib.results.power import power_table, seeds_needed


def _frame(values):
    """One noisy cell per (paradigm, seed): values[paradigm] = per-seed accuracy."""
    rows = [dict(task="kws", paradigm=p, seed=s, noise_split="test_seen", kind="synthetic", snr=0.0, n=10,
                 accuracy=v, primary_metric="accuracy", higher_is_better=True)
            for p, vs in values.items() for s, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_resolved_difference_is_the_t_threshold_of_the_pooled_paired_sd():
    vals = {"clean": [0.50, 0.52, 0.55], "noisy": [0.60, 0.61, 0.66], "iterative": [0.70, 0.69, 0.74]}
    row = power_table(_frame(vals)).iloc[0]
    diffs = [np.subtract(vals[a], vals[b]) for a, b in (("clean", "noisy"), ("clean", "iterative"),
                                                         ("noisy", "iterative"))]
    sd = math.sqrt(np.mean([np.var(d, ddof=1) for d in diffs]))
    assert row["sd_diff"] == pytest.approx(sd) and row["n_seeds"] == 3
    assert row["resolved"] == pytest.approx(stats.t.ppf(0.975, 2) * sd / math.sqrt(3))
    assert row["mdd80"] > row["resolved"]
    assert row["seed_sd_max"] == pytest.approx(np.std(vals["noisy"], ddof=1)) and row["seed_sd_worst"] == "noisy"
    # a paired t-test on a difference just above `resolved` (with this sd) is significant
    d = row["resolved"] * 1.01 + sd * np.array([-1.0, 0.0, 1.0])
    assert stats.ttest_1samp(d, 0.0).pvalue < 0.05


def test_seeds_needed_grows_as_the_difference_shrinks():
    assert seeds_needed(0.02, 0.04) < seeds_needed(0.02, 0.02) < seeds_needed(0.02, 0.01)
    assert seeds_needed(0.0, 0.02) == 0 and seeds_needed(1.0, 0.001, max_seeds=10) == 0
