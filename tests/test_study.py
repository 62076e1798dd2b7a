"""The study grid runner: parameters, scoping, and one smoke study through papermill on the fake corpus.

The smoke study (2 tasks x 2 paradigms x 1 seed, 2 workers) runs once per module; one run gets an
invalid knob so that the failure path is exercised beside three good runs.
"""
import json
import subprocess
import sys
import time

import pytest

from aelib import study as S
from aelib.config import PARADIGMS, PRESETS, TASKS, make_config, parse_sets
from aelib.layout import REPO, relative_to_repo
from aelib.study.params import _split_parameters

from .fake_corpus import make_fake_corpus


# ---- fast unit tests -----------------------------------------------------------------------------
def test_grid_order_puts_shared_stage_producers_first():
    g = S.grid(["kws", "asr"], ["iterative", "joint", "noisy", "cascade", "clean"], [0, 1])
    assert g[:5] == [("kws", p, 0) for p in ("clean", "cascade", "joint", "iterative", "noisy")]
    assert g[5][0] == "asr" and g[10] == ("kws", "clean", 1) and len(g) == 20
    with pytest.raises(ValueError, match="paradigm"):
        S.grid(["kws"], ["bogus"], [0])


def test_scoped_overrides_most_specific_wins():
    o = parse_sets(["lr=0.001", "asr:lr=5e-4", "joint:joint_lambda=0.3", "asr/joint:lr=1e-4", "note=x y"])
    assert o["asr:lr"] == 5e-4 and o["note"] == "x y"
    assert S.overrides_for(o, "kws", "clean") == {"lr": 0.001, "note": "x y"}
    assert S.overrides_for(o, "asr", "clean")["lr"] == 5e-4
    assert S.overrides_for(o, "asr", "joint") == {"lr": 1e-4, "joint_lambda": 0.3, "note": "x y"}
    with pytest.raises(ValueError, match="scope"):
        S.overrides_for({"kwz:lr": 1}, "kws", "clean")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_sets(["lr"])


def test_config_from_parameters_keeps_preset_defaults():
    cfg = S.config_from_parameters(task="asr", paradigm="joint", preset="smoke", seed=2, rounds=None, importance="",
                                   data_dir="", test_snrs="-5, 5", config_json='{"lr": 0.0005}', threads=1)
    ref = make_config("smoke", task="asr", paradigm="joint", seed=2)
    assert cfg.rounds == ref.rounds and cfg.importance == ref.importance and cfg.data_dir == ref.data_dir
    assert cfg.test_snrs == (-5.0, 5.0) and cfg.lr == 0.0005
    assert cfg.run_dir == REPO / "runs" / "default" / "asr" / "joint" / "seed2"
    with pytest.raises(TypeError, match="unknown config keys"):
        S.config_from_parameters(task="kws", paradigm="clean", config_json='{"lrr": 1}')


def test_knobs_travel_as_notebook_parameters_or_config_json():
    """The notebook declares only what a person edits by hand; every other knob travels in config_json."""
    names = S.notebook_parameters()
    assert names == {"task", "paradigm", "preset", "seed", "study", "data_dir", "run_root", "config_json", "threads",
                     "progress"}
    p = _split_parameters({"rounds": 3, "test_snrs": [0, 5], "lr": 1e-5, "data_dir": "/corpus"}, names)
    assert p["data_dir"] == "/corpus" and json.loads(p["config_json"]) == {"rounds": 3, "test_snrs": [0, 5], "lr": 1e-5}
    assert _split_parameters({"seed": 1}, names) == {"seed": 1}  # nothing left for config_json


SETS = ["test_snrs=[0, 5.5]", "lr=0.002", "asr:lr=5e-4", "joint:joint_lambda=0.3", "asr/joint:lr=1e-4",
        "iterative:rounds=3", "iterative:importance=uniform", "kws:max_train_clips=0", "cascade:budget_matched=true",
        "ser:eval_pesq=false", 'extra={"note": "x y"}', "noisy:device=cpu"]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("sets", [[], SETS], ids=["preset", "overrides"])
def test_the_notebook_resolves_the_config_the_runner_checked(preset, sets, tmp_path):
    """For every run of a grid, the Config that 01_train rebuilds from its parameters (the hand-edited ones
    and config_json, as papermill passes them) equals, field for field, the one the runner checked against
    the run folder, which is the preset plus the run's --set overrides."""
    overrides = parse_sets(sets)
    for task in TASKS:
        for paradigm in PARADIGMS:
            for seed, data_dir, run_root in ((0, "", str(tmp_path)), (2, str(tmp_path / "corpus"), "")):
                params, cfg = S.run_parameters(task, paradigm, seed, preset=preset, study="s", data_dir=data_dir,
                                               run_root=run_root, overrides=overrides)
                mine = S.overrides_for(overrides, task, paradigm)
                if "test_snrs" in mine:
                    mine["test_snrs"] = tuple(mine["test_snrs"])
                expected = make_config(preset, task=task, paradigm=paradigm, seed=seed, study="s",
                                       data_dir=data_dir or None, run_root=run_root or str(REPO / "runs"), **mine)
                assert cfg == expected, (task, paradigm)
                sent = json.loads(json.dumps(params))  # what the job carries to the worker
                assert set(sent) <= S.notebook_parameters()
                in_notebook = S.config_from_parameters(**sent)
                assert in_notebook == cfg and in_notebook.to_dict() == cfg.to_dict(), (task, paradigm)
                assert json.loads(sent["config_json"])["test_snrs"] == list(cfg.test_snrs)


def test_a_notebook_worker_does_not_import_torch():
    """A worker (aelib.study.executor) only drives papermill: its kernels import torch, it does not (the
    package loads its modules on first use; torch would cost each worker ~690 MB)."""
    code = "import sys, aelib.study.executor; assert 'torch' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ---- the smoke study -----------------------------------------------------------------------------
OVERRIDES = {"test_snrs": [0.0]}
# ser/cascade reads a corpus folder that is not there: a valid Config, so the runner starts it, and the run
# fails in its notebook (a value that Config refuses never starts: it is an ``invalid`` run)
BOGUS = {"ser/cascade:data_dir": "bogus-corpus"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    data = make_fake_corpus(tmp / "fake")
    t0 = time.perf_counter()
    overrides = {**OVERRIDES, **{k: str(tmp / v) for k, v in BOGUS.items()}}
    report = S.run_study("smoke", "t", ["kws", "ser"], ["clean", "cascade"], [0], workers=2, data_dir=str(data),
                         run_root=str(tmp / "runs"), overrides=overrides, progress=False,
                         results_parameters={"cross_task_paradigm": "cascade", "cross_task_max_clips": 3})
    print(f"smoke study: {time.perf_counter() - t0:.1f} s")
    return report, tmp, data


def test_runs_write_their_files_and_notebooks(smoke):
    report, tmp, _ = smoke
    ok = [r for r in report.runs if r.ok]
    assert {(r.task, r.paradigm) for r in ok} == {("kws", "clean"), ("kws", "cascade"), ("ser", "clean")}
    for r in ok:
        d = tmp / "runs" / "t" / r.task / r.paradigm / "seed0"
        assert r.status == "done" and str(d) == r.run_dir
        for f in ("params.json", "history.json", "metrics.json", "predictions.csv", "checkpoints/best.th",
                  "train.ipynb", "train.log"):
            assert (d / f).exists(), f
        nb = json.loads((d / "train.ipynb").read_text())
        params = nb["metadata"]["papermill"]["parameters"]
        assert params["task"] == r.task and params["threads"] >= 1
        assert json.loads(params["config_json"])["test_snrs"] == [0.0]
        config = json.loads((d / "params.json").read_text())["config"]
        assert config["test_snrs"] == [0.0]
        recorded = S.config_from_parameters(**params).to_dict()  # the notebook's Config is its parameters'
        paths = ("data_dir", "run_root")  # params.json records them portably (relative_to_repo)
        assert {k: v for k, v in config.items() if k not in paths} == {k: v for k, v in recorded.items() if k not in paths}
        assert all(config[k] == relative_to_repo(recorded[k]) for k in paths)
        assert any("NBVAL_CHECK_OUTPUT" in "".join(c["source"]) and c.get("outputs") for c in nb["cells"])


def test_failing_run_is_reported_and_keeps_its_notebook(smoke):
    report, tmp, _ = smoke
    assert not report.ok
    [bad] = report.failed
    assert (bad.task, bad.paradigm, bad.status) == ("ser", "cascade", "failed") and "bogus" in bad.error
    nb = json.loads((tmp / "runs" / "t" / "ser" / "cascade" / "seed0" / "train.ipynb").read_text())
    assert nb["metadata"]["papermill"]["exception"]
    assert "FAILED ser/cascade/seed0" in report.summary() and bad.notebook in report.summary()
    info = json.loads((tmp / "runs" / "t" / "study_info.json").read_text())
    assert info["status"] == "failed" and info["wall_seconds"] > 0 and len(info["runs"]) == 4
    assert info["peak_rss_mb"] > 100  # the runs' processes (kernels with torch) are counted


def test_results_notebook_tables_and_figures(smoke):
    report, tmp, _ = smoke
    study_dir = tmp / "runs" / "t"
    out = study_dir / "results"
    assert report.results_status == "done" and (study_dir / "results.ipynb").exists()
    demo = json.loads((study_dir / "03_demo.ipynb").read_text())  # the demo ran on the study's runs
    assert not demo["metadata"]["papermill"].get("exception")
    assert "Figure 4 written" in json.dumps(demo["cells"])  # none here: the study has no asc/asr runs
    for f in ("by_snr_kws.md", "by_snr_ser.csv", "seen_vs_unseen.md", "synthetic_vs_real.md", "ae_quality.md",
              "inventory.md", "paired_vs_iterative.csv", "importance_summary.csv", "cross_task.csv",
              "kws_vs_snr.png", "ser_vs_snr.png", "cross_task.png"):
        assert (out / f).exists(), f
    assert "| ser | cascade | 0 | failed |" in (out / "inventory.md").read_text()
    cross = (out / "cross_task.csv").read_text()
    assert "none,kws" in cross and "kws,kws" in cross  # only kws has a finished cascade run


def test_rerun_skips_finished_runs_and_rewrites_nothing(smoke):
    report, tmp, data = smoke
    study_dir = tmp / "runs" / "t"
    files = [p for p in study_dir.rglob("*") if p.is_file() and "_shared" not in p.parts and p.name != "study_info.json"]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    info_before = (study_dir / "study_info.json").read_text()
    t0 = time.perf_counter()
    rc = S.main(["--preset", "smoke", "--study", "t", "--tasks", "kws", "ser", "--paradigms", "clean", "--seeds", "0",
                 "--data-dir", str(data), "--run-root", str(tmp / "runs"), "--set", "test_snrs=[0.0]", "--quiet"])
    assert rc == 0 and time.perf_counter() - t0 < 30
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    # an invocation that executed nothing leaves study_info.json as it was (a README made from it stays current)
    assert (study_dir / "study_info.json").read_text() == info_before
    info = json.loads(info_before)
    [first] = info["invocations"]  # the fixture's invocation, with its time and command
    assert first["status"] == "failed" and first["runs_executed"] == 4 and first["wall_seconds"] > 0
    assert info["wall_seconds"] == first["wall_seconds"] and info["missing"] == ["ser/cascade/seed0"]
    assert info["peak_rss_mb"] == first["peak_rss_mb"] > 100  # the study's peak is its invocations' largest


def test_a_run_in_a_kept_kernel_equals_the_run_in_a_fresh_kernel(smoke, tmp_path):
    """The smoke study's workers keep their kernels, so ser/clean (the third job, after kws/clean and
    kws/cascade) ran in a kernel that had run another notebook. In a fresh kernel it gives the same numbers."""
    report, tmp, data = smoke
    fresh = S.run_study("smoke", "t", ["ser"], ["clean"], [0], workers=1, data_dir=str(data),
                        run_root=str(tmp_path / "runs"), overrides=OVERRIDES, progress=False, results="never",
                        keep_kernels=False)
    assert fresh.ok
    kept, new = (json.loads((root / "t" / "ser" / "clean" / "seed0" / "metrics.json").read_text())
                 for root in (tmp / "runs", tmp_path / "runs"))
    assert json.loads((tmp / "runs" / "t" / "study_info.json").read_text())["keep_kernels"] is True
    assert kept["headline"] == new["headline"] and kept["cells"] == new["cells"]


def test_the_study_peak_memory_survives_a_later_lighter_invocation(tmp_path):
    """A second invocation that reruns one task must not replace the study's peak by its own smaller one."""
    (tmp_path / "study_info.json").write_text(json.dumps(
        {"peak_rss_mb": 4600.0, "invocations": [{"command": "a", "wall_seconds": 60.0, "status": "ok", "runs_executed": 72},
                                                {"command": "b", "wall_seconds": 1.0, "status": "ok", "runs_executed": 0}]}))
    first, second = S.previous_invocations(tmp_path)  # written before invocations kept their own peak
    assert first["peak_rss_mb"] == 4600.0 and "peak_rss_mb" not in second


def test_a_killed_invocation_is_marked_interrupted(tmp_path):
    (tmp_path / "study_info.json").write_text(json.dumps(
        {"invocations": [{"command": "a", "started": "t0", "wall_seconds": 60.0, "status": "ok"},
                         {"command": "b", "started": "t1", "wall_seconds": 30.0, "status": "running"}]}))
    assert [i["status"] for i in S.previous_invocations(tmp_path)] == ["ok", "interrupted"]
    (tmp_path / "study_info.json").write_text(json.dumps({"started": "t0", "wall_seconds": 5.0, "status": "ok"}))
    assert S.previous_invocations(tmp_path) == [
        {"command": None, "started": "t0", "finished": None, "wall_seconds": 5.0, "status": "ok"}]
    assert S.previous_invocations(tmp_path / "nowhere") == []


def test_other_settings_on_a_finished_run_are_a_conflict(smoke, capsys):
    _, tmp, data = smoke
    rc = S.main(["--preset", "smoke", "--study", "t", "--tasks", "kws", "--paradigms", "clean", "--seeds", "0",
                 "--data-dir", str(data), "--run-root", str(tmp / "runs"), "--set", "test_snrs=[0.0]", "lr=0.5",
                 "--quiet", "--results", "never"])
    assert rc == 1
    out = capsys.readouterr().out
    assert "conflict" in out and "lr" in out and "kws/clean/seed0" in out


def test_peak_memory_of_the_process_tree_is_sampled():
    import subprocess
    import sys
    import time as _time

    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(200 * 2**20); time.sleep(3)"])
    try:
        with S.PeakMemory(0.1) as mem:
            _time.sleep(1.5)
        assert mem.peak_mb > 200, "the child's 200 MB must count: runs are child processes of the runner"
    finally:
        child.kill()


def test_a_clone_of_committed_summaries_trains_nothing_and_keeps_its_tables(smoke):
    """A fresh clone has metrics.json files but no checkpoints, with arbitrary checkout mtimes: `make study`
    must skip every run and leave the committed results alone (the cross-task matrix needs checkpoints)."""
    import os
    import shutil

    _, tmp, data = smoke
    clone = tmp / "clone"
    shutil.copytree(tmp / "runs" / "t", clone / "t", ignore=shutil.ignore_patterns("checkpoints"))
    later = time.time() + 60
    for m in (clone / "t").glob("*/*/seed*/metrics.json"):
        os.utime(m, (later, later))  # newer than results.ipynb, as a checkout may leave them
    before = (clone / "t" / "results" / "by_snr_kws.md").read_text()
    info_before = (clone / "t" / "study_info.json").read_text()
    rc = S.main(["--preset", "smoke", "--study", "t", "--tasks", "kws", "--paradigms", "clean", "cascade", "--seeds", "0",
                 "--data-dir", str(data), "--run-root", str(clone), "--set", "test_snrs=[0.0]", "--quiet"])
    assert rc == 0 and (clone / "t" / "study_info.json").read_text() == info_before  # nothing executed
    assert (clone / "t" / "results" / "by_snr_kws.md").read_text() == before


def test_a_finished_run_on_a_changed_corpus_is_reported_stale(smoke, capsys, monkeypatch):
    """Its results are kept and counted, and the summary says what to do; nothing is retrained."""
    import aelib.runs

    _, tmp, data = smoke
    monkeypatch.setattr(aelib.runs, "corpus_fingerprint", lambda cfg, task: "another-corpus")
    rc = S.main(["--preset", "smoke", "--study", "t", "--tasks", "kws", "--paradigms", "clean", "--seeds", "0",
                 "--data-dir", str(data), "--run-root", str(tmp / "runs"), "--set", "test_snrs=[0.0]",
                 "--quiet", "--results", "never"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "1 stale" in out and "STALE 1 finished run(s)" in out and "kws/clean/seed0" in out


# ---- the notebook worker ---------------------------------------------------------------------------
def _notebook(path, source):
    import nbformat

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                            "display_name": "Python 3"},
                                            "language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell("n = 0\nsnrs = ''\nflag = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, str(path))
    return str(path)


@pytest.mark.parametrize("keep_kernel", [False, True])
def test_notebook_worker_runs_jobs_in_turn_and_survives_its_own_death(tmp_path, keep_kernel):
    """One worker executes several notebooks (parameters typed as papermill's command line types them,
    threads in the kernel's environment); a kernel that kills the worker is reported, and the next job
    gets a new worker. A kept kernel starts each notebook in the job's folder with nothing of the one before."""
    ok = _notebook(tmp_path / "ok.ipynb", "import os, pathlib\nleft = sorted(k for k in ('seen', 'np') if k in dir())\n"
                                          "seen = 1\npathlib.Path('out.txt').write_text("
                                          "repr((n, snrs, flag, os.environ['OMP_NUM_THREADS'], left)))")
    bad = _notebook(tmp_path / "bad.ipynb", "import numpy as np\nseen = 2\nraise ValueError('bogus value')")
    killer = _notebook(tmp_path / "killer.ipynb", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    worker = S.NotebookWorker(keep_kernel=keep_kernel)

    def job(key, nb, **params):
        out = tmp_path / f"run{key}"
        out.mkdir()
        return {"key": key, "input": nb, "output": str(out / "train.ipynb"), "cwd": str(out), "threads": 3,
                "parameters": params, "kernel_name": None}

    try:
        first = worker.run(job(1, ok, n=2, snrs=[1.0, 2.0], flag=True))
        pid = worker.proc.pid
        assert first["error"] == "" and first["key"] == 1
        assert (tmp_path / "run1" / "out.txt").read_text() == "(2, '[1.0, 2.0]', True, '3', [])"
        second = worker.run(job(5, ok, n=3))  # relative paths land in this job's folder, in a clean namespace
        assert (tmp_path / "run5" / "out.txt").read_text() == "(3, '', False, '3', [])"
        counts = [c.get("execution_count") for c in json.loads((tmp_path / "run5" / "train.ipynb").read_text())["cells"]]
        assert counts == [1, 2, 3]  # parameters, papermill's injected parameters, the code: numbered afresh
        failed = worker.run(job(2, bad))
        assert "ValueError: bogus value" in failed["error"] and worker.proc.pid == pid
        died = worker.run(job(3, killer))
        assert "worker died" in died["error"] and worker.proc is None
        again = worker.run(job(4, ok, n=5))
        assert again["error"] == "" and worker.proc.pid != pid
        assert (tmp_path / "run4" / "out.txt").read_text() == "(5, '', False, '3', [])"
        assert (tmp_path / "run4" / "train.log").exists()
    finally:
        worker.close()
