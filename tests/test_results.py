"""Aggregation over run folders (aelib.results) on small synthetic studies written by hand: no training."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from aelib import results
from aelib.metrics import mean_ci
from tests.fake_study import BASE, N, SNRS, make_study, value, write_run


@pytest.fixture
def study(tmp_path):
    return make_study(tmp_path)


def test_collect_reads_every_cell_with_clean_as_inf(study):
    df = results.collect(study)
    assert len(df) == (3 * 5 * 2 + 3 * 2) * 5
    assert set(df["snr"]) == {math.inf, 0.0, 10.0}
    assert set(df["task"]) == {"kws", "asr"} and df["higher_is_better"].dtype == bool


def test_summary_by_snr_mean_and_ci_over_seeds(study):
    df = results.collect(study)
    long = results.summary_by_snr(df, "kws", noise_split="test_seen")
    row = long[(long["paradigm"] == "iterative") & (long["condition"] == "10")].iloc[0]
    seeds = [value("kws", "iterative", s, "test_seen", 10.0) for s in (0, 1, 2)]
    m, lo, hi = mean_ci(seeds)
    assert row["mean"] == pytest.approx(m) and row["ci"] == pytest.approx(hi - m) and row["n_seeds"] == 3
    # "all" pools seen and unseen (equal n): the mean of the two
    pooled = results.summary_by_snr(df, "kws")
    r = pooled[(pooled["paradigm"] == "clean") & (pooled["condition"] == "0")].iloc[0]
    assert r["mean"] == pytest.approx(np.mean([value("kws", "clean", s, sp, 0.0) for s in (0, 1, 2)
                                               for sp in ("test_seen", "test_unseen")]))
    avg = pooled[(pooled["paradigm"] == "clean") & (pooled["condition"] == "avg")].iloc[0]
    assert math.isnan(avg["snr"]) and avg["mean"] == pytest.approx(pooled.loc[
        (pooled["paradigm"] == "clean") & pooled["condition"].isin(["0", "10"]), "mean"].mean())


def test_table_by_snr_is_paper_shaped(study):
    t = results.table_by_snr(results.collect(study), "kws", digits=2)
    assert list(t.index) == ["clean", "noisy", "cascade", "joint", "iterative"]
    assert list(t.columns) == ["clean", "0", "10", "avg"]
    assert "±" in t.loc["iterative", "10"] and t.attrs["metric"] == "accuracy" and t.attrs["higher_is_better"]


def test_one_seed_gives_no_interval(tmp_path):
    write_run(tmp_path, "kws", "clean", 0)
    t = results.table_by_snr(results.collect(tmp_path), "kws")
    assert "±" not in t.loc["clean", "0"]
    long = results.summary_by_snr(results.collect(tmp_path), "kws")
    assert long["ci"].isna().all() and (long["n_seeds"] == 1).all()


def test_paired_vs_iterative_direction(study):
    df, utt = results.collect(study), results.per_utterance(study)
    p = results.paired_vs_iterative(df, utt)
    kws = p[(p["task"] == "kws") & (p["level"] == "seed")].set_index("paradigm")
    assert set(kws.index) == {"clean", "noisy", "cascade", "joint"}
    assert (kws["mean_diff"] > 0).all() and kws["reference_better"].all() and (kws["n"] == 3).all()
    # asr: WER, lower is better; iterative has the lower WER, so mean_diff < 0 and iterative is better
    asr = p[(p["task"] == "asr") & (p["level"] == "seed")].iloc[0]
    assert asr["paradigm"] == "clean" and asr["mean_diff"] < 0 and asr["reference_better"]
    utt_rows = p[(p["task"] == "kws") & (p["level"] == "utterance")].set_index("paradigm")
    assert (utt_rows["n"] == 3 * 2 * len(SNRS) * N).all()  # matched by (clip, split, snr, seed), noisy only
    assert utt_rows.loc["clean", "mean_diff"] > 0 and utt_rows.loc["clean", "p"] < 0.05
    # swapping the reference flips the sign
    q = results.paired_vs_iterative(df, reference="clean")
    r = q[(q["task"] == "kws") & (q["paradigm"] == "iterative")].iloc[0]
    assert r["mean_diff"] == pytest.approx(-kws.loc["clean", "mean_diff"]) and not r["reference_better"]


def test_seen_unseen_real_and_ae_tables(study):
    df = results.collect(study)
    su = results.seen_vs_unseen(df).set_index(["task", "paradigm"])
    assert su.loc[("kws", "joint"), "gap"] == pytest.approx(-0.1)
    assert su.loc[("asr", "clean"), "gap"] == pytest.approx(0.1)  # WER rises on unseen noise
    sr = results.synthetic_vs_real(df)
    assert set(sr["task"]) == {"kws"}  # asr runs have no real rows here
    r = sr.set_index("paradigm").loc["clean"]
    assert r["synthetic_clean"] - r["real_clean"] == pytest.approx(0.2)
    ae = results.ae_quality_table(df)
    assert set(ae["paradigm"]) == {"cascade", "joint", "iterative"}
    assert ae.set_index(["task", "paradigm"]).loc[("kws", "iterative"), "sisdr_delta"] == pytest.approx(3.7)
    assert len(results.ae_quality_table(df, by_snr=True)) == 2 * len(ae)


def test_ae_by_noise_type_is_the_improvement_per_type_over_seeds():
    rows = [{"task": "kws", "paradigm": p, "seed": seed, "kind": "synthetic", "noise_split": split, "noise_type": nt,
             "snr": 0.0, "clip": f"c{i}", "input_sisdr": 1.0,
             "sisdr": float("nan") if p == "noisy" else 1.0 + gain + seed + (i % 2)}
            for p in ("noisy", "cascade", "iterative") for seed in (0, 1, 2) for i in range(4)
            for split, nt, gain in (("test_seen", "fire", 8.0), ("test_unseen", "babble", 2.0), ("clean", "", 0.0))]
    t = results.ae_by_noise_type(pd.DataFrame(rows)).set_index("noise_type")
    assert list(t.columns[:3]) == ["task", "noise_split", "n"] and list(t.index) == ["fire", "babble"]
    assert "noisy" not in t and t.loc["babble", "n"] == 4  # no front-end, no column; the clean cell is not noise
    # per seed: gain + seed + 0.5 (half the clips +1); over seeds 0-2: gain + 1.5
    assert t.loc["fire", "cascade"] == pytest.approx(9.5) and t.loc["babble", "iterative"] == pytest.approx(3.5)
    assert t.loc["fire", "cascade_ci"] > 0
    one = results.ae_by_noise_type(pd.DataFrame(rows).query("seed == 0")).set_index("noise_type")
    assert one.loc["fire", "cascade"] == pytest.approx(8.5) and np.isnan(one.loc["fire", "cascade_ci"])  # one seed
    assert results.ae_by_noise_type(pd.DataFrame(rows).drop(columns="sisdr")).empty  # older predictions
    scores = pd.DataFrame(rows).assign(score=lambda d: (d["seed"] + d["clip"].str[1:].astype(int)) % 2)
    by = results.score_by_noise_type(scores).set_index("noise_type")  # every paradigm, the AE's or not
    assert list(by.columns[3::2]) == ["noisy", "cascade", "iterative"] and by.loc["fire", "noisy"] == 0.5
    assert results.score_by_noise_type(scores.assign(noise_type=float("nan"))).empty  # no noise types recorded


def test_importance_summary(study):
    s = results.importance_summary(study)
    assert len(s) == 2 * 3  # two rounds x three seeds (kws only)
    r1 = s[(s["round"] == 1) & (s["seed"] == 0)].iloc[0]
    assert r1["ess"] == pytest.approx(1.0) and r1["at_cap"] == 0.0 and r1["median"] == 1.0
    r2 = s[(s["round"] == 2) & (s["seed"] == 0)].iloc[0]
    w = np.array([0.5] * 6 + [5.0, 2.0])
    assert r2["at_cap"] == pytest.approx(1 / 8) and r2["ess"] == pytest.approx(w.sum() ** 2 / (8 * (w**2).sum()))
    assert r2["max"] == 5.0 and r2["mean"] == pytest.approx(w.mean())


def test_missing_failed_and_unfinished_runs_are_reported(tmp_path):
    study = tmp_path / "s"
    write_run(study, "kws", "clean", 0)
    (study / "kws" / "joint" / "seed0").mkdir(parents=True)
    (study / "kws" / "joint" / "seed0" / "params.json").write_text("{}")
    failed = study / "kws" / "iterative" / "seed0"
    failed.mkdir(parents=True)
    (failed / "train.ipynb").write_text(json.dumps({"cells": [], "metadata": {"papermill": {"exception": True}}}))
    (study / "kws" / "_shared" / "seed0").mkdir(parents=True)  # not a run
    (study / "study_info.json").write_text(json.dumps({"tasks": ["kws", "ser"], "paradigms": ["clean", "joint",
                                                       "iterative"], "seeds": [0]}))
    inv = results.inventory(study).set_index(["task", "paradigm"])["status"]
    assert inv[("kws", "clean")] == "finished" and inv[("kws", "joint")] == "unfinished"
    assert inv[("kws", "iterative")] == "failed" and inv[("ser", "clean")] == "missing" and len(inv) == 6
    df = results.collect(study)
    assert set(df["paradigm"]) == {"clean"}
    # every table still renders on a partial study; paired tests have nothing to pair
    written = results.write_tables(study)
    assert results.paired_vs_iterative(df).empty and results.importance_summary(study).empty
    for name in ("inventory", "by_snr_kws", "seen_vs_unseen", "importance_summary"):
        assert written[name].exists() and written[name].with_suffix(".md").exists()
    assert "missing" in (study / "results" / "inventory.md").read_text()
    assert results.collect(tmp_path / "empty").empty


def test_write_tables(study, tmp_path):
    out = tmp_path / "out"
    written = results.write_tables(study, out)
    md = (out / "by_snr_kws.md").read_text()
    assert md.startswith("| paradigm | clean | 0 | 10 | avg |") and "±" in md
    long = pd.read_csv(written["by_snr_kws"])
    assert {"paradigm", "condition", "mean", "ci", "n_seeds", "noise_split"} <= set(long.columns)
    assert "± " in (out / "seen_vs_unseen.md").read_text()
    assert list(pd.read_csv(written["run_times"]).columns) == results.RUN_TIMES_TABLE


def test_to_markdown_formats_ci_columns():
    df = pd.DataFrame({"task": ["kws"], "seen": [0.71234], "seen_ci": [0.0123], "unseen": [0.5], "unseen_ci": [np.nan]})
    md = results.to_markdown(df, digits=2)
    assert md.splitlines()[0] == "| task | seen | unseen |" and "0.71 ± 0.01" in md and "| 0.50 |" in md
    assert results.to_markdown(pd.DataFrame()) == "_(no data)_\n"


def test_compare_studies_flags_a_rerun_outside_the_interval(study, tmp_path):
    same = results.compare_studies(study, study)
    assert same["within_ci"].all() and (same["max_seed_diff"] == 0).all()
    assert len(same) == 7 and list(same["task"][:5]) == ["kws"] * 5 and same["seeds"].eq(3).all()
    rerun = tmp_path / "rerun"
    for seed in (0, 1, 2):
        write_run(rerun, "kws", "cascade", seed)
        d = write_run(rerun, "kws", "iterative", seed)
        m = json.loads((d / "metrics.json").read_text())
        for c in m["cells"]:
            c["accuracy"] += 0.2  # far outside the reference's interval
        (d / "metrics.json").write_text(json.dumps(m))
    t = results.compare_studies(study, rerun).set_index("paradigm")
    assert list(t.index) == ["cascade", "iterative"]  # only runs finished in both
    assert t.loc["cascade", "within_ci"] and t.loc["cascade", "max_seed_diff"] < 1e-12
    assert not t.loc["iterative", "within_ci"] and t.loc["iterative", "max_seed_diff"] == pytest.approx(0.2)
    assert t.loc["cascade", "p"] == 1.0 and t.loc["cascade", "reproduced"]  # bit-identical: nothing to test
    assert t.loc["iterative", "p"] < 0.05 / 2 and t.loc["iterative", "p_holm"] == pytest.approx(2 * t.loc["iterative", "p"])
    assert not t.loc["iterative", "reproduced"] and same["reproduced"].all()


def test_compare_studies_only_the_tasks_asked_for(study):
    """A rerun that changed one task on purpose is checked on the others only."""
    t = results.compare_studies(study, study, tasks=["asr"])
    assert set(t["task"]) == {"asr"} and len(t) == 2 and t["within_ci"].all()


def test_compare_studies_checks_a_one_seed_rerun_against_the_full_reference(study, tmp_path):
    write_run(tmp_path / "rerun", "kws", "cascade", 1)
    t = results.compare_studies(study, tmp_path / "rerun")
    full = results.compare_studies(study, study).set_index("paradigm").loc["cascade"]
    row = t.set_index("paradigm").loc["cascade"]
    assert row["seeds"] == 3 and row["ci95"] == pytest.approx(full["ci95"]) and row["reference"] == pytest.approx(
        full["reference"])  # the interval of all reference seeds, not of the one shared seed
    assert row["within_ci"] and row["max_seed_diff"] < 1e-12


def test_compare_studies_keeps_a_task_with_only_real_audio(tmp_path):
    for study in ("ref", "rerun"):
        for seed in (0, 1, 2):
            write_run(tmp_path / study, "asc", "clean", seed, kinds=("real",))  # asc: real scene recordings only
    t = results.compare_studies(tmp_path / "ref", tmp_path / "rerun")
    assert list(t["task"]) == ["asc"] and t["within_ci"].all() and t["seeds"].iloc[0] == 3
    assert dict(results.task_kinds(results.collect(tmp_path / "ref"))) == {"asc": "real"}


def test_paradigm_order_is_stable_for_ablation_arms():
    """Arms outside PARADIGMS sort by name, so regenerated tables (and the README) do not reshuffle."""
    assert results.stats._order({"zeta arm", "iterative", "alpha arm", "clean"}) == ["clean", "iterative", "alpha arm", "zeta arm"]


def test_tables_keep_a_task_with_only_real_recordings(study):
    """asc's scenes are real recordings only: its rows must not drop out of the tables filtered to synthetic."""
    from aelib.ablations import band_table

    df = results.collect(study)
    kws = df[df["task"] == "kws"]
    asc = kws[kws["kind"] == "synthetic"].assign(task="asc", kind="real")
    both = pd.concat([df, asc], ignore_index=True)
    su = results.seen_vs_unseen(both).set_index(["task", "paradigm"])
    assert su.loc[("asc", "joint"), "gap"] == pytest.approx(su.loc[("kws", "joint"), "gap"])
    ae = results.ae_quality_table(both).set_index(["task", "paradigm"])
    assert ae.loc[("asc", "iterative"), "sisdr_delta"] == pytest.approx(ae.loc[("kws", "iterative"), "sisdr_delta"])
    bands = band_table(both).set_index(["task", "arm"])
    assert bands.loc[("asc", "joint"), "all noisy"] == pytest.approx(bands.loc[("kws", "joint"), "all noisy"])
    # kws keeps its synthetic rows only: its real test speech does not leak into the synthetic tables
    assert len(results.of_task_kind(both)) == len(both) - (kws["kind"] == "real").sum()


def test_by_source_table_splits_voices_and_skips_runs_without_it(tmp_path):
    """Each voice gets its own row: the clean CA's clean score and each paradigm's noisy mean over seeds."""
    for seed in (0, 1, 2):
        for p in ("clean", "iterative"):
            d = write_run(tmp_path, "kws", p, seed)
            m = json.loads((d / "metrics.json").read_text())
            m["by_source"] = [{"kind": "synthetic", "source": s, "condition": c, "n": 20,
                               "accuracy": base + (0.1 if c == "clean" else 0.0) + (0.2 if p == "iterative" else 0.0)
                               + 0.01 * seed}
                              for s, base in (("slt", 0.2), ("espeak-x", 0.6)) for c in ("clean", "noisy")]
            (d / "metrics.json").write_text(json.dumps(m))
    write_run(tmp_path, "asr", "clean", 0)  # written before by_source existed: no rows, no error
    t = results.by_source_table(results.collect_sources(tmp_path)).set_index("source")
    assert list(t["task"]) == ["kws", "kws"] and set(t.index) == {"slt", "espeak-x"}
    assert t.loc["slt", "clean_audio"] == pytest.approx(0.31) and t.loc["slt", "n_clips"] == 20
    assert t.loc["espeak-x", "iterative"] == pytest.approx(0.81)
    assert t.loc["espeak-x", "clean"] == pytest.approx(0.61) and t.loc["espeak-x", "clean_ci"] > 0
    assert results.by_source_table(results.collect_sources(tmp_path / "none")).empty


def test_by_snr_table_of_a_task_with_only_real_recordings(tmp_path):
    """asc has no synthetic cells: its by-SNR table and figure use its real scene recordings, not nothing."""
    for seed in (0, 1):
        write_run(tmp_path, "asc", "clean", seed, kinds=("real",))
    long = results.summary_by_snr(results.collect(tmp_path), "asc")
    clean = long[long["condition"] == "clean"].iloc[0]
    assert long.attrs["kind"] == "real" and clean["n_seeds"] == 2
    assert clean["mean"] == pytest.approx(BASE["clean"] + 0.005 - 0.2)  # seeds 0 and 1, real = 0.2 below
    assert list(results.table_by_snr(results.collect(tmp_path), "asc").index) == ["clean"]


def test_run_times_reads_training_notebook_and_epoch_seconds(tmp_path):
    """The one reader of per-run timings: metrics.json, the executed notebook, history.json (own and reused epochs)."""
    d = write_run(tmp_path, "kws", "iterative", 0)
    (d / "history.json").write_text(json.dumps([{"epoch": 1, "seconds": 1.0}, {"epoch": 2, "seconds": 2.0},
                                                {"epoch": 1, "seconds": 5.0, "reused": "x.th"}]))
    (d / "train.ipynb").write_text(json.dumps({"cells": [], "metadata": {"papermill": {"duration": 12.5}}}))
    write_run(tmp_path, "kws", "clean", 0)  # no history, no notebook
    (tmp_path / "kws" / "joint" / "seed0").mkdir(parents=True)  # unfinished: no row
    t = results.run_times(tmp_path).set_index("run")
    assert list(t.index) == ["kws/clean/seed0", "kws/iterative/seed0"]
    it = t.loc["kws/iterative/seed0"]
    assert it["train_seconds"] == 1.0 and it["notebook_seconds"] == 12.5
    assert (it["epochs"], it["reused_epochs"], it["epoch_seconds_sum"], it["epoch_seconds_mean"]) == (2, 1, 3.0, 1.5)
    cl = t.loc["kws/clean/seed0"]
    assert math.isnan(cl["notebook_seconds"]) and cl["epochs"] == 0 and math.isnan(cl["epoch_seconds_mean"])
    assert results.study_wall_seconds({"wall_seconds": 12.5}) == 12.5 and results.study_wall_seconds({}) is None
    assert results.study_wall_seconds({"started": 10, "finished": 25.5}) == 15.5
