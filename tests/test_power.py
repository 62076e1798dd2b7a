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


def test_target_table_measures_each_target_on_a_study(tmp_path):
    from aelib import results
    from aelib.results.targets import TARGETS, question_lines, target_markdown, target_table
    from tests.fake_study import BASE, make_study

    df = results.collect(make_study(tmp_path))
    t = target_table(df).set_index("target")
    assert len(t) == len(TARGETS)
    kws = t.loc[TARGETS[0].name]  # clean CA, clean audio, synthetic: BASE["clean"] + 0.01 * seed, seeds 0-2
    assert kws["value"] == pytest.approx(BASE["clean"] + 0.01) and kws["met"] is False
    real = t.loc[TARGETS[1].name]  # the real rows are 0.2 lower
    assert real["value"] == pytest.approx(BASE["clean"] + 0.01 - 0.2)
    seen = t.loc[TARGETS[6].name]  # cascade's SI-SDR gain: 3 + BASE["cascade"], kws only here
    assert seen["value"] == pytest.approx(3.0 + BASE["cascade"]) and "kws +3.6" in seen["detail"]
    assert math.isnan(t.loc[TARGETS[4].name, "value"]) and t.loc[TARGETS[4].name, "met"] is None  # no ser runs
    # seeds jitter by 0.01 each in every paradigm: paired differences have no spread, seed sd is 0.01
    stab = t.loc[TARGETS[8].name]
    assert stab["value"] == pytest.approx(0.01) and stab["met"] and "kws 0.010" in stab["detail"]
    assert t.loc[TARGETS[9].name, "value"] == pytest.approx(0.0)  # no spread in the paired differences
    md = target_markdown(df)
    assert md[0].startswith("| target | goal | measured | met |") and len(md) == len(TARGETS) + 2
    lines = question_lines(df)
    assert lines[0].startswith("- kws: `iterative` is better than `noisy`")


def test_the_budget_row_is_a_from_scratch_rerun_in_one_invocation(tmp_path):
    """The budget target reads a rerun's record (reproduction.json): minutes of one invocation, else unmeasured."""
    from aelib import results
    from aelib.results.targets import TARGETS, target_table
    from tests.fake_study import make_study

    df = results.collect(make_study(tmp_path))
    n_runs = len(df[["task", "paradigm", "seed"]].drop_duplicates())
    name = next(t.name for t in TARGETS if t.kind == "budget")
    record = {"wall_seconds": 4879.9, "invocations": 1, "runs": n_runs, "peak_rss_mb": 5202.0, "machine": "AMD EPYC",
              "started": "2026-12-07T09:00:20+0000"}
    row = target_table(df, scratch=record).set_index("target").loc[name]
    assert row["value"] == pytest.approx(81.33, abs=0.01) and row["met"] is True
    assert row["detail"] == f"{n_runs} runs, peak 5.1 GB, AMD EPYC, 2026-12-07"
    assert target_table(df, scratch={**record, "wall_seconds": 5500}).set_index("target").loc[name, "met"] is False
    # a sum over invocations is not a from-scratch time, nor is a rerun of some of the runs
    for unmeasured in (None, {}, {**record, "invocations": 4}, {**record, "runs": n_runs - 1}):
        row = target_table(df, scratch=unmeasured).set_index("target").loc[name]
        assert math.isnan(row["value"]) and row["met"] is None


def test_the_command_line_reports_targets_question_and_power(tmp_path, capsys):
    from aelib.results.__main__ import main
    from tests.fake_study import make_study

    study = make_study(tmp_path)
    assert main([str(study), "--difference", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "| target | goal | measured | met |" in out and "- kws: `iterative` is " in out
    row = next(line for line in out.splitlines() if line.startswith("| kws | accuracy |"))
    assert row.split("|")[3].strip() == "3"  # n_seeds of the fake study
    with pytest.raises(Exception, match="no such study folder"):
        main([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="no finished runs"):
        main([str(tmp_path / "empty")])
