"""What a study invocation came to: each run's outcome, the printed summary, and ``study_info.json``.

``<study>/study_info.json`` records the grid, the outcome of every run, the runs still missing and every
invocation that executed something (command, start, end, wall time, peak memory); the grid runner
(:mod:`aelib.study.runner`) fills it, :func:`previous_invocations` reads back the history it extends.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import atomic_write_json
from ..layout import relative_to_repo, run_name

# a run that has its metrics (made now, or found finished; "stale": found finished, but on another version of
# the corpus than the one in data_dir now: its results are kept and reported, never silently retrained)
OK_STATUSES = ("done", "skipped", "stale")
FAILURES = ("failed", "conflict", "invalid")  # failed: the notebook raised; conflict: other settings in the folder


@dataclass
class RunOutcome:
    """One run of the grid: where it lives and what became of it in this invocation."""

    task: str
    paradigm: str
    seed: int
    run_dir: str
    status: str  # done | skipped | stale | failed | conflict | invalid ("" while queued)
    seconds: float = 0.0
    error: str = ""

    @property
    def notebook(self) -> str:
        return str(Path(self.run_dir) / "train.ipynb")

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


def finished_runs(info: dict[str, Any]) -> int:
    """How many runs of a ``study_info.json`` have their metrics."""
    return sum(r.get("status") in OK_STATUSES for r in info.get("runs", []))


@dataclass
class StudyReport:
    """One invocation of a study (what :func:`aelib.study.runner.run_study` returns): every run's outcome and the
    results stage's."""

    study_dir: str
    runs: list[RunOutcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    results_status: str = "not run"  # done | skipped | failed | not run
    results_error: str = ""

    @property
    def failed(self) -> list[RunOutcome]:
        return [r for r in self.runs if r.status in FAILURES]

    @property
    def ok(self) -> bool:
        return not self.failed and self.results_status != "failed"

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.runs)
                  for s in ("done", "skipped", "stale", "failed", "conflict", "invalid")}
        lines = [f"study {self.study_dir}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
                 + f" in {self.wall_seconds:.0f} s; results and demo notebooks {self.results_status}"]
        stale = [r for r in self.runs if r.status == "stale"]
        if stale:
            lines.append(f"  STALE {len(stale)} finished run(s) were trained on another version of the corpus than the "
                         f"one in their data_dir now (e.g. {stale[0].run_dir}): their results are kept; delete them, "
                         "or use another --study, to train them on this one")
        for r in self.failed:
            lines.append(f"  FAILED {run_name(r.task, r.paradigm, r.seed)} ({r.status}): {r.error}")
            lines.append(f"         {r.notebook if r.status == 'failed' else r.run_dir}")
        if self.results_status == "failed":
            lines.append(f"  FAILED {self.results_error}")
            lines.append(f"         {Path(self.study_dir) / 'results.ipynb'}, {Path(self.study_dir) / '03_demo.ipynb'}")
        if self.failed:  # the verdict last, where a reader of the terminal looks
            ready = sum(r.ok for r in self.runs)
            lines.append(f"study FAILED: {len(self.failed)} of {len(self.runs)} runs have no results (above); "
                         f"{ready} do" + (", and the results and demo notebooks read only those"
                                          if self.results_status == "done" else ""))
        return "\n".join(lines)


def portable_info(info: dict[str, Any]) -> dict[str, Any]:
    """The copy of a study's info that ``study_info.json`` records: the corpus and every run's folder and
    notebook as :func:`aelib.layout.relative_to_repo` writes them (inside the repository relative to it,
    ``~/...`` under home), so that the committed file names no path of the machine that made it."""
    out = dict(info)
    if out.get("data_dir"):
        out["data_dir"] = relative_to_repo(out["data_dir"])
    if "runs" in out:
        out["runs"] = [{**r, **{k: relative_to_repo(r[k]) for k in ("run_dir", "notebook") if r.get(k)}}
                       for r in out["runs"]]
    return out


def write_info(study_dir: Path, info: dict[str, Any]) -> None:
    """Write ``<study>/study_info.json`` (atomically: a reader never sees half of it) with portable paths
    (:func:`portable_info`)."""
    atomic_write_json(study_dir / "study_info.json", portable_info(info))


def command_line(prog: str, argv: list[str] | None) -> str:
    """The command as typed (``argv`` None: this process's arguments), recorded with an invocation."""
    return " ".join([prog, *(sys.argv[1:] if argv is None else argv)])


def previous_invocations(study_dir: Path) -> list[dict[str, Any]]:
    """Earlier invocations of a study, from its study_info.json; one still marked running was killed.

    A study is often finished over several invocations (a crash, a stop by hand, a later seed): keeping
    each one's command and wall time makes the study's total cost a recorded figure, not a recollection.
    """
    path = study_dir / "study_info.json"
    try:
        old = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, json.JSONDecodeError):
        return []
    history = list(old.get("invocations") or [])
    if not history and old.get("started"):  # written before invocations were recorded
        history = [{k: old.get(k) for k in ("command", "started", "finished", "wall_seconds", "status")}]
    if old.get("peak_rss_mb") and history and not any(inv.get("peak_rss_mb") for inv in history):
        # written before each invocation kept its own peak: the study's peak was the last executing one's
        executed = [inv for inv in history if inv.get("runs_executed", 1)]
        (executed or history)[-1]["peak_rss_mb"] = old["peak_rss_mb"]
    for inv in history:
        if inv.get("status") == "running":
            inv["status"] = "interrupted"
    return history

