"""A study killed with SIGKILL mid-grid loses nothing: the rerun skips what had finished, resumes what had
not from its checkpoint, and every run's metrics equal those of the same grid run without interruption.

The kill takes the whole process tree at once (runner, notebook worker, kernel), as a crash or the OOM
killer would. (Killing the runner alone leaves its kernel to ipykernel's parent poller, which ends it within
a second; every file is written atomically, so what it leaves is whole either way.)"""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from aelib import study as S
from aelib.layout import REPO

from .fake_corpus import make_fake_corpus

GRID = ("kws", ["clean", "cascade", "noisy"])  # clean makes ca_clean, cascade ae_pretrain: both stages cached
SNRS = [-5.0, 0.0, 5.0, 10.0, 20.0]  # enough evaluation that the kill lands between checkpoint and metrics
SETS = [f"test_snrs={json.dumps(SNRS)}"]


def _command(data: Path, root: Path) -> list[str]:
    return [sys.executable, "-m", "aelib.study", "--preset", "smoke", "--study", "k", "--tasks", GRID[0],
            "--paradigms", *GRID[1], "--seeds", "0", "--workers", "1", "--threads", "1", "--data-dir", str(data),
            "--run-root", str(root), "--set", *SETS, "--results", "never", "--quiet"]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 600.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, f"the study ended (rc {proc.returncode}) before {path} appeared"
        assert time.monotonic() - t0 < timeout, f"{path} did not appear in {timeout:.0f} s"
        time.sleep(0.01)


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (the kernel runs in a session of its own)."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)


def _result(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text())
    m.pop("train_seconds")  # wall time, the one volatile field
    return m


def test_sigkill_mid_grid_then_rerun_loses_and_recomputes_nothing(tmp_path):
    data = make_fake_corpus(tmp_path / "fake")
    killed_root, whole_root = tmp_path / "killed", tmp_path / "whole"
    runs = {p: killed_root / "k" / GRID[0] / p / "seed0" for p in GRID[1]}

    # SIGKILL everything once the second run has its checkpoint, before its evaluation ends: the first has finished
    proc = subprocess.Popen(_command(data, killed_root), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for(runs["cascade"] / "checkpoints" / "checkpoint.th", proc)
    finally:
        _kill_tree(proc.pid)
        proc.wait()
    assert (runs["clean"] / "metrics.json").exists() and not (runs["cascade"] / "metrics.json").exists()
    assert not (runs["noisy"] / "params.json").exists()
    first = (runs["clean"] / "metrics.json").stat().st_mtime_ns
    info = json.loads((killed_root / "k" / "study_info.json").read_text())
    assert info["invocations"][-1]["status"] == "running"  # what a kill leaves: the rerun reads it as interrupted

    rerun = S.run_study("smoke", "k", [GRID[0]], GRID[1], [0], workers=1, threads=1, data_dir=str(data),
                        run_root=str(killed_root), overrides={"test_snrs": SNRS}, results="never", progress=False)
    assert rerun.ok, rerun.summary()
    assert {r.paradigm: r.status for r in rerun.runs} == {"clean": "skipped", "cascade": "done", "noisy": "done"}
    assert (runs["clean"] / "metrics.json").stat().st_mtime_ns == first  # not recomputed, not rewritten
    statuses = [i["status"] for i in json.loads((killed_root / "k" / "study_info.json").read_text())["invocations"]]
    assert statuses == ["interrupted", "ok"]

    whole = S.run_study("smoke", "k", [GRID[0]], GRID[1], [0], workers=1, threads=1, data_dir=str(data),
                        run_root=str(whole_root), overrides={"test_snrs": SNRS}, results="never", progress=False)
    assert whole.ok, whole.summary()
    for p, run_dir in runs.items():
        assert _result(run_dir) == _result(whole_root / "k" / GRID[0] / p / "seed0"), p
