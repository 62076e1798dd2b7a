"""The results page, the README's headline block and the ablation tables are generated from run folders
(no training)."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from aelib import ablations, results
from aelib.errors import UserError
from aelib.results import sections

from .scripts import load_script
from .test_results import BASE, write_run

REPO = Path(__file__).resolve().parent.parent


def _report_module():
    return load_script("report")


@pytest.fixture
def root(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        for p in BASE:
            write_run(runs / "default", "kws", p, seed, kinds=("synthetic", "real"))
        # an ablation arm that scores like cascade (written as cascade, then moved to the iterative
        # folder a real ablation study uses): iterative should beat it by 0.10
        write_run(runs / "ablation-uniform", "kws", "cascade", seed)
    src, dst = runs / "ablation-uniform" / "kws" / "cascade", runs / "ablation-uniform" / "kws" / "iterative"
    src.rename(dst)
    for seed in (0, 1, 2):  # validation histories: the last phase's best score is the selection criterion
        for d, score in ((runs / "default" / "kws" / "iterative" / f"seed{seed}", 0.6),
                         (dst / f"seed{seed}", 0.5 + 0.01 * seed)):
            (d / "history.json").write_text(json.dumps(
                [{"phase": "ae_pretrain", "score": -0.9}, {"phase": "round2_ca", "score": score - 0.1},
                 {"phase": "round2_ca", "score": score}]))
    (runs / "default" / "study_info.json").write_text(json.dumps(
        {"preset": "smoke", "seeds": [0, 1, 2], "workers": 2, "tasks": ["kws"], "paradigms": list(BASE),
         "wall_seconds": 600.0, "status": "ok",
         "runs": [{"status": "done"}] * 15}))
    results.write_tables(runs / "default")
    return runs


def test_ablation_tables_pair_iterative_with_each_arm(root):
    written = ablations.write_ablation_tables(root)
    paired = pd.read_csv(written["paired"])
    arm = ablations.ABLATIONS["uniform"][2]
    row = paired[(paired["paradigm"] == arm) & (paired["level"] == "seed")].iloc[0]
    assert row["reference_better"] and row["mean_diff"] == pytest.approx(0.10, abs=1e-9)
    bands = pd.read_csv(written["bands"])
    assert set(bands["arm"]) == {"cascade", "iterative", arm}
    low = bands[bands["arm"] == "iterative"]["low (-10..0 dB)"].iloc[0]
    high = bands[bands["arm"] == "iterative"]["high (5..20 dB)"].iloc[0]
    assert high > low  # the fixture's scores rise with SNR
    val = pd.read_csv(written["validation"]).set_index("arm")
    assert val.loc["iterative", "val_score"] == pytest.approx(0.6) and val.loc[arm, "val_score"] == pytest.approx(0.51)
    assert val.loc[arm, "seeds"] == 3


def test_ablations_cli_keeps_committed_tables_while_predictions_are_missing(root, monkeypatch, capsys):
    """A clone has the committed tables but not the per-utterance predictions behind them, so
    `make ablations` must not rewrite the tables from it; once every run behind the tables has its
    predictions (whether or not a run executed: a rerun base study counts), or with --tables-only,
    it rewrites them."""
    from aelib.study import RunOutcome, StudyReport

    ablations.write_ablation_tables(root)
    paired = root / "ablations" / "paired.csv"
    paired.write_text("committed\n")
    monkeypatch.setattr(ablations, "run_ablations", lambda *a, **k: [StudyReport(
        "s", runs=[RunOutcome("kws", "iterative", 0, "d", "skipped")], results_status="not run")])
    preds = root / "ablation-uniform" / "kws" / "iterative" / "seed1" / "predictions.csv"
    kept = preds.read_bytes()
    preds.unlink()
    assert ablations.missing_predictions(root) == [preds.parent]
    assert ablations.main(["--run-root", str(root), "--quiet"]) == 0
    assert paired.read_text() == "committed\n" and "kept" in capsys.readouterr().out
    preds.write_bytes(kept)
    assert ablations.missing_predictions(root) == []
    assert ablations.main(["--run-root", str(root), "--quiet"]) == 0
    assert paired.read_text() != "committed\n"
    paired.write_text("committed\n")
    assert ablations.main(["--run-root", str(root), "--tables-only"]) == 0
    assert paired.read_text() != "committed\n"


def test_report_section_is_generated_and_check_detects_staleness(root, tmp_path, monkeypatch, capsys):
    ablations.write_ablation_tables(root)
    rep = _report_module()
    text = rep.results_page(root / "default", root / "ablations")
    assert "10.0 min" in text and "15 runs" in text
    assert "| kws | accuracy |" in text  # the competence table
    assert "`iterative` is better than `clean`" in text  # a generated finding
    assert "ablations, **kws**" in text
    head = rep.headline(root / "default", root / "ablations")
    assert "10.0 min" in head and "15 runs" in head and "(docs/results.md)" in head and "(docs/findings.md)" in head
    assert "| kws | accuracy ↑ |" in head  # the headline table: the clean CA and every paradigm's noisy-grid mean
    assert head.index("| target | goal | measured | met |") < head.index("| kws | accuracy ↑ |")  # targets first
    assert "- kws: `iterative` is" in head and "| target | goal | measured | met |" in text
    readme, page = tmp_path / "README.md", tmp_path / "docs" / "results.md"
    readme.write_text(f"# x\n\n{rep.BEGIN}\nold\n{rep.END}\n\ntail\n")
    args = ["report", "--study", str(root / "default"), "--ablations", str(root / "ablations"),
            "--readme", str(readme), "--page", str(page)]
    monkeypatch.setattr("sys.argv", args + ["--check"])
    assert rep.main() == 1 and not page.exists()  # --check writes nothing
    err = capsys.readouterr().err
    assert f"{readme} is stale" in err and f"{page} is stale" in err
    monkeypatch.setattr("sys.argv", args)
    assert rep.main() == 0 and readme.read_text().endswith("\ntail\n")
    assert "\nold\n" not in readme.read_text() and "| kws | accuracy |" in page.read_text()
    monkeypatch.setattr("sys.argv", args + ["--check"])
    assert rep.main() == 0
    page.write_text(page.read_text() + "edited by hand\n")  # a stale page alone fails, and is named
    assert rep.main() == 1
    err = capsys.readouterr().err
    assert f"{page} is stale" in err and f"{readme} is stale" not in err
    readme.write_text("# no markers\n")
    assert rep.main() == 2


def test_results_page_links_resolve_from_its_own_folder(root, tmp_path):
    """Figures and links on docs/results.md are relative to docs/, the README's to the repository root."""
    rep = _report_module()
    for name in ("kws_vs_snr.png", "figure4_kws.png"):
        (root / "default" / "results" / name).write_bytes(b"png")
    page = tmp_path / "docs" / "results.md"
    page.parent.mkdir()
    (tmp_path / "README.md").write_text("# x\n")
    text = rep.results_page(root / "default", root / "ablations", page=page, readme=tmp_path / "README.md")
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert any(link.endswith("kws_vs_snr.png") for link in links) and "[README](../README.md)" in text
    assert "figure4_kws.png" in text
    for link in links:
        if not link.startswith("http") and link != "findings.md":
            assert (page.parent / link).exists(), link


def test_invocations_and_the_reproduction_table_reach_the_section(root):
    rep = _report_module()
    info_path = root / "default" / "study_info.json"
    info = json.loads(info_path.read_text())
    info["invocations"] = [{"command": "python -m aelib.study A", "wall_seconds": 480.0, "status": "interrupted"},
                           {"command": "python -m aelib.study B", "wall_seconds": 120.0, "status": "ok"}]
    info_path.write_text(json.dumps(info))
    (root / "default" / "reproduction.md").write_text("Reproduction of x by y: 1 of 1 inside")
    text = rep.results_page(root / "default", root / "ablations")
    assert "made in 2 invocations" in text and "`python -m aelib.study A`: 8.0 min, interrupted" in text
    assert "(summed over 2 invocations, listed on the results page)" in text  # a sum is not one from-scratch run's time
    assert "\n## Reproduction" in text and "1 of 1 inside" in text
    record = {"invocations": 1, "runs": rep.finished_runs(info), "wall_seconds": 300.0}
    (root / "default" / "reproduction.json").write_text(json.dumps(record))  # a from-scratch rerun of every run
    assert "listed on the results page; from scratch in one: 5.0 min, the budget row below)" in rep.results_page(
        root / "default", root / "ablations")
    (root / "default" / "reproduction.json").write_text(json.dumps({**record, "runs": record["runs"] - 1}))
    assert "from scratch in one" not in rep.results_page(root / "default", root / "ablations")  # not all the runs


def test_readme_results_section_matches_the_committed_runs(monkeypatch):
    """README and docs/results.md numbers are regenerated from runs/, never typed: a stale file fails here."""
    if not (REPO / "runs" / "default" / "study_info.json").exists():
        pytest.skip("no reference study committed")
    rep = _report_module()
    monkeypatch.chdir(REPO)
    monkeypatch.setattr("sys.argv", ["report", "--check"])
    assert rep.main() == 0, ("README.md or docs/results.md is stale: run `python scripts/report.py` "
                             "(make report) and commit")


def test_the_committed_results_page_shows_existing_figures():
    """Every image and relative link of docs/results.md and of the README resolves from the file's folder."""
    for doc in (REPO / "docs" / "results.md", REPO / "README.md"):
        if not doc.exists():
            pytest.skip(f"no {doc.name}")
        for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text()):
            if not link.startswith(("http://", "https://")):
                assert (doc.parent / link).exists(), f"{doc.name}: {link}"


def test_readme_is_a_front_page():
    """The README stays a front page (the generated tables live on docs/results.md)."""
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 260, f"README.md has {len(lines)} lines; move detail to docs/"


def test_compare_studies_timing_table(tmp_path):
    """--timing: notebook seconds of the runs both studies made, per paradigm, with a total."""
    mod = load_script("compare_studies")
    run = lambda p, seed, s: {"task": "kws", "paradigm": p, "seed": seed, "status": "done", "seconds": s}  # noqa: E731
    ref, new = tmp_path / "ref.json", tmp_path / "new.json"
    ref.write_text(json.dumps({"runs": [run("clean", 0, 100), run("clean", 1, 120), run("joint", 0, 400)]}))
    new.write_text(json.dumps({"runs": [run("clean", 0, 90), run("joint", 0, 300),
                                        {**run("noisy", 0, 50), "status": "failed"}]}))
    t = mod.timing_table(mod.run_seconds(ref), mod.run_seconds(new)).set_index("paradigm")
    assert t.loc["clean", "seconds_reference"] == 100 and t.loc["clean", "runs"] == 1  # seed 1 only in the reference
    assert t.loc["joint", "change"] == "-25.0%" and "noisy" not in t.index
    assert t.loc["total", "seconds_reference"] == 500 and t.loc["total", "seconds_rerun"] == 390
    ref.write_text(json.dumps({"runs": [run("clean", 0, 100), {**run("clean", 0, 70), "task": "ser"}]}))
    new.write_text(json.dumps({"runs": [run("clean", 0, 90), {**run("clean", 0, 99), "task": "ser"}]}))
    t = mod.timing_table(mod.run_seconds(ref), mod.run_seconds(new), tasks=["kws"]).set_index("paradigm")
    assert t.loc["clean", "seconds_reference"] == 100 and t.loc["total", "runs"] == 1  # ser changed on purpose: left out


def test_compare_studies_writes_the_rerun_record_beside_its_page(tmp_path):
    """--out X.md also writes X.json (the rerun's cost and the verdict), which the budget target reads."""
    from aelib.results import reproduction_record
    from tests.fake_study import make_study

    mod = load_script("compare_studies")
    study = make_study(tmp_path)
    info = {"workers": 2, "wall_seconds": 600.0, "peak_rss_mb": 1000.0, "started": "2026-12-07T09:00:20+0000",
            "invocations": [{"command": "x"}], "runs": [{"status": "done"}] * 3}
    (study / "study_info.json").write_text(json.dumps(info))
    assert mod.main([str(study), str(study), "--out", str(study / "reproduction.md")]) == 0
    record = reproduction_record(study)
    assert (study / "reproduction.md").exists() and record["reproduced"] is True and record["smallest_p"] == 1.0
    assert record["invocations"] == 1 and record["wall_seconds"] == 600.0 and record["machine"]
    assert record["within_ci"] == record["means"] > 0


def test_compare_studies_timing_reads_run_times_for_skipped_runs(tmp_path):
    """A study made in several invocations: its last study_info records earlier runs as skipped (0 s), so their
    seconds come from results/run_times.csv; a reference of 0 s gives no ratio, not a ZeroDivisionError."""
    mod = load_script("compare_studies")
    study = tmp_path / "ref"
    (study / "results").mkdir(parents=True)
    (study / "study_info.json").write_text(json.dumps({"runs": [
        {"task": "kws", "paradigm": "clean", "seed": 0, "status": "skipped", "seconds": 0.0},
        {"task": "ser", "paradigm": "clean", "seed": 0, "status": "done", "seconds": 50.0}]}))
    (study / "results" / "run_times.csv").write_text(
        "task,paradigm,seed,train_seconds,notebook_seconds\nkws,clean,0,80,100\nser,clean,0,40,45\n")
    ref = mod.reference_seconds(study).set_index("task")["seconds"]
    assert ref["kws"] == 100 and ref["ser"] == 50  # the study_info's own record first
    rerun = pd.DataFrame([{"task": "kws", "paradigm": "clean", "seed": 0, "seconds": 90.0}])
    t = mod.timing_table(mod.reference_seconds(study), rerun).set_index("paradigm")
    assert t.loc["clean", "change"] == "-10.0%"
    zero = pd.DataFrame([{"task": "kws", "paradigm": "clean", "seed": 0, "seconds": 0.0}])
    assert mod.timing_table(zero, rerun).set_index("paradigm").loc["total", "change"] == "n/a"


def test_competence_names_the_worst_and_best_test_source(root):
    """The pooled clean-test score comes with its worst and best voice (lower is better for WER)."""
    for seed in (0, 1, 2):
        p = root / "default" / "kws" / "clean" / f"seed{seed}" / "metrics.json"
        m = json.loads(p.read_text())
        m["by_source"] = [{"kind": "synthetic", "source": s, "condition": "clean", "n": 20, "accuracy": v}
                          for s, v in (("slt", 0.2), ("espeak*", 0.8))]
        p.write_text(json.dumps(m))
    row = next(line for line in sections.competence(root / "default") if line.startswith("| kws"))
    assert "0.200 (`slt`) / 0.800 (`espeak*`)" in row
    src = results.collect_sources(root / "default").assign(task="asr")
    assert sections._extremes(src, "asr", "synthetic", higher_is_better=False) == "0.800 (`espeak*`) / 0.200 (`slt`)"


def test_ablation_voice_table_gives_each_arm_per_voice(root):
    """Each arm's noisy-grid score per voice, from the runs' by_source; an arm without it is absent."""
    arm = ablations.ABLATIONS["uniform"][2]
    for study, paradigm, bonus in (("default", "iterative", 0.1), ("ablation-uniform", "iterative", 0.0)):
        for seed in (0, 1, 2):
            p = root / study / "kws" / paradigm / f"seed{seed}" / "metrics.json"
            m = json.loads(p.read_text())
            m["by_source"] = [{"kind": "synthetic", "source": s, "condition": c, "n": 20,
                               "accuracy": v + bonus + 0.01 * seed + (0.3 if c == "clean" else 0.0)}
                              for s, v in (("slt", 0.1), ("espeak*", 0.5)) for c in ("clean", "noisy")]
            p.write_text(json.dumps(m))
    t = ablations.voice_table(root).set_index("source")
    assert list(t.columns[:3]) == ["task", "kind", "metric"] and "cascade" not in t  # no by_source: no column
    assert t.loc["espeak*", "iterative"] == pytest.approx(0.61) and t.loc["slt", arm] == pytest.approx(0.11)
    assert t.loc["slt", "seeds"] == 3
    md = (root / "ablations" / "voices.md")
    ablations.write_ablation_tables(root)
    assert "| kws | synthetic | espeak* | accuracy |" in md.read_text()


def test_the_committed_runs_match_the_preset_they_claim():
    """`make study` on a fresh clone skips the committed runs only if the preset still resolves to the
    settings each recorded; a changed default (even an asr one) puts every run of every task in conflict."""
    from aelib.config import make_config
    from aelib.study import settings_diff

    runs = sorted((REPO / "runs" / "default").glob("*/*/seed*/params.json"))
    if not runs:
        pytest.skip("no committed study")
    for params in runs:
        cfg = json.loads(params.read_text())["config"]
        resolved = make_config(cfg["preset"], task=cfg["task"], paradigm=cfg["paradigm"], seed=cfg["seed"],
                               study=cfg["study"], data_dir=cfg["data_dir"], run_root=cfg["run_root"])
        assert settings_diff(params.parent, resolved) == [], params.parent


def test_each_ablation_resolves_to_its_settings_on_the_small_preset():
    """What each arm changes, concretely, per task: equal budgets keep iterative's epochs; `longer` gives the
    rounds as many CA epochs on enhanced audio as the cascade's CA has (ca_epochs // ca_epochs_per_round)."""
    from aelib.config import make_config

    for task in ("kws", "asr", "ser", "asc"):
        cfg = make_config("small", task=task, paradigm="iterative")
        assert ablations.resolve("matched", "small", task) == ("cascade", {"budget_matched": True})
        assert ablations.resolve("uniform", "small", task) == ("iterative", {"importance": "uniform"})
        paradigm, over = ablations.resolve("rounds1", "small", task)
        assert over["rounds"] == 1 and over["ca_epochs_per_round"] == cfg.ca_epochs_per_round * cfg.rounds
        paradigm, over = ablations.resolve("longer", "small", task)
        assert paradigm == "iterative" and over["rounds"] * cfg.ca_epochs_per_round <= cfg.ca_epochs
        assert (over["rounds"] + 1) * cfg.ca_epochs_per_round > cfg.ca_epochs and over["rounds"] >= cfg.rounds
    assert ablations.resolve("longer", "small", "kws")[1] == {"rounds": 8}  # 16 CA epochs, 2 per round


def test_pooled_seeds_pool_two_roots_and_reach_the_report(tmp_path):
    """`make power`'s pooling: seeds 0-2 of one root and 3-5 of another, every arm paired by seed; an arm
    missing from some seeds is left out; the same seed in both roots is refused; the report quotes the verdicts."""
    pooled, rep = load_script("pooled_seeds"), _report_module()
    first, second = tmp_path / "runs", tmp_path / "runs" / "power"
    for root, seeds in ((first, (0, 1, 2)), (second, (3, 4, 5))):
        for seed in seeds:
            for p in BASE:
                write_run(root / "default", "kws", p, seed)
            write_run(root / "ablation-uniform", "kws", "cascade", seed)  # an arm scoring like cascade
        (root / "ablation-uniform" / "kws" / "cascade").rename(root / "ablation-uniform" / "kws" / "iterative")
    for seed in (0, 1, 2):  # an arm of the first root only: not on every seed, left out
        write_run(first / "ablation-matched", "kws", "cascade", seed)
    write_run(first / "default", "kws", "clean", 9)  # a seed without iterative: not pooled
    cells, per_root = ablations.pool_seeds([first, second], ["kws"], ["uniform", "matched"])
    assert sorted(cells["seed"].unique()) == [0, 1, 2, 3, 4, 5]
    assert set(cells["paradigm"]) == set(BASE) | {"iterative, uniform weights"}
    text = pooled.markdown([first, second], cells, per_root, "cmd")
    assert "| p, seeds 0,1,2 | p, seeds 3,4,5 | p, all seeds |" in text
    assert "| kws | iterative, uniform weights | 6 | 0.725 | 0.625 | +0.100 |" in text
    assert "| kws | 6 | 6 |" in text  # the power row: six seeds, six arms
    verdict = ablations.pooled_verdict(cells)  # no matched arm here: the uniform one alone, which iterative beats
    assert verdict == "`iterative` beats its own rounds with uniform weights on 1 of 1 tasks (kws)", verdict
    assert ablations.pooled_verdict(cells[cells["paradigm"] != "iterative, uniform weights"]) == ""
    defaults = ablations.pool_seeds([first, second])[0]  # tasks and arms: what the last root holds
    assert defaults.equals(ablations.pool_seeds([first, second], ["kws"], ["uniform"])[0])
    out = second / "pooled.md"
    out.write_text(text)
    again = rep.pooled_cells(out, first / "default")  # pooled again from the runs, not read from out
    lines = rep.pooled_question(tmp_path, out, again)
    assert lines[0].startswith("With three more seeds") and "](runs/power/pooled.md)): **`iterative` beats" in lines[0]
    assert "seeds 3-5 of kws, pooled" in lines[0]  # the tasks named from the pooled runs
    assert any(ln.startswith("- kws: `iterative` is better than `noisy`") for ln in lines)
    assert lines[2:-1] == text.split("The paper's question on all seeds:\n\n", 1)[1].rstrip("\n").splitlines()
    assert rep.pooled_cells(second / "absent.md", first / "default") is None
    assert rep.pooled_question(tmp_path, second / "absent.md", None) == []
    from aelib.results import collect
    from aelib.results.targets import target_table
    table = target_table(collect(first / "default"), again).set_index("target")
    power, stability = table.iloc[-2], table.iloc[-3]
    assert power["detail"].startswith("3 seeds: kws ") and "; `make power`, 6 seeds: kws " in power["detail"]
    assert stability["detail"].startswith("kws ") and "; `make power`, 6 seeds: kws 0." in stability["detail"]
    said = rep.answer(first / "default", out)  # the README's answer, under its first paragraph
    assert said.startswith("**The answer so far** (the reference study and `make power`'s seeds pooled, on kws;")
    assert f"{verdict} (p < 0.05; the smallest paired difference resolved, 6 seeds: kws 0." in said
    assert re.search(r"Of the study's \d+ goals .* it meets 0;", said)
    assert "(docs/levers.md#what-the-unmet-goals-would-cost)" in said
    assert rep.answer(first / "default", second / "absent.md").startswith("The paper's question, answered")
    write_run(second / "default", "kws", "iterative", 0)
    with pytest.raises(UserError, match="must hold other seeds"):
        ablations.pool_seeds([first, second], ["kws"], ["uniform"])
