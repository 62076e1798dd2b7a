"""The grid orchestrator: every (task, paradigm, seed) run of a study, queued, executed, recorded.

For each run it resolves the Config (:mod:`aelib.study.params`) and checks the run folder: a finished
run with the same settings is skipped (``stale`` when the corpus in its data_dir changed since: kept,
never retrained silently), other settings are a ``conflict``, an unfinished run is executed again and the
trainer resumes from its checkpoint. The runs to execute go to notebook workers
(:mod:`aelib.study.executor`), one per thread; a failing run is reported at the end and the others go
on. Then the results and demo notebooks, and ``study_info.json`` (:mod:`aelib.study.report`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Sequence

from tqdm.auto import tqdm

from .. import layout
from ..config import PARADIGMS, TASKS, Config
from ..errors import UserError
from ..files import atomic_write_text
from ..runs import corpus_changed, has_trained
from ..runs import settings_diff as config_diff
from .corpus import ensure_corpus
from .executor import NotebookWorker, _execute_notebook
from .memory import PeakMemory
from .params import TRAIN_NOTEBOOK, run_parameters
from .report import RunOutcome, StudyReport, previous_invocations, write_info

RESULTS_NOTEBOOK = layout.REPO / "notebooks" / "02_results.ipynb"
DEMO_NOTEBOOK = layout.REPO / "notebooks" / "03_demo.ipynb"  # Figure 4 and the static SNR grid, from the study's runs
# Within one task and seed: clean makes ca_clean, cascade makes ae_pretrain; joint and iterative reuse them.
# noisy (short, needs nothing) goes last, so that the study ends on short runs and no worker stands idle
# at the end while the other finishes a long one (the replay of a study's run times: docs/tuning.md).
PARADIGM_ORDER = ("clean", "cascade", "joint", "iterative", "noisereduce", "noisy")


def grid(tasks: Sequence[str], paradigms: Sequence[str], seeds: Sequence[int]) -> list[tuple[str, str, int]]:
    """Seed-major (a whole seed finishes first), shared-stage producers first within a task."""
    for p in paradigms:
        if p not in PARADIGMS:
            raise ValueError(f"unknown paradigm {p!r}; choose from {PARADIGMS}")
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; choose from {TASKS}")
    order = sorted(dict.fromkeys(paradigms), key=PARADIGM_ORDER.index)
    return [(t, p, s) for s in dict.fromkeys(seeds) for t in dict.fromkeys(tasks) for p in order]


def settings_diff(run_dir: Path, cfg: Config) -> list[str]:
    """Config keys where the run folder's params.json differs from ``cfg`` (volatile keys ignored)."""
    params = run_dir / "params.json"
    if not params.exists():
        return []
    return config_diff(json.loads(params.read_text())["config"], cfg.to_dict())


def _run_dirs(study_dir: Path) -> list[Path]:
    return [d for _, d in layout.find_run_dirs(study_dir, TASKS, PARADIGMS)]


def _results_stale(study_dir: Path) -> bool:
    out = study_dir / "results.ipynb"
    if not out.exists():
        return True
    metrics = [d / "metrics.json" for d in _run_dirs(study_dir)]
    newest = max((m.stat().st_mtime for m in metrics if m.exists()), default=0.0)
    return newest > out.stat().st_mtime


def run_study(preset: str = "small", study: str = "default", tasks: Sequence[str] = TASKS,
              paradigms: Sequence[str] = PARADIGMS, seeds: Sequence[int] = (0, 1, 2), workers: int = 2,
              data_dir: str = "", run_root: str = "runs", overrides: dict[str, Any] | None = None,
              results: str = "auto", results_parameters: dict[str, Any] | None = None, progress: bool = True,
              command: str = "",
              kernel_name: str | None = None, train_notebook: str | Path = TRAIN_NOTEBOOK,
              results_notebook: str | Path = RESULTS_NOTEBOOK, threads: int | None = None,
              demo_notebook: str | Path | None = DEMO_NOTEBOOK, keep_kernels: bool = True) -> StudyReport:
    """Run the grid (skipping finished runs), then the results and demo notebooks; see the module docstring.

    Args:
        overrides: ``{"[SCOPE:]key": value}`` Config overrides (see :func:`aelib.study.params.overrides_for`).
        results: ``auto`` re-executes the results notebook when a run was executed, or when a metrics.json
            is newer than ``results.ipynb`` and the runs have their checkpoints (committed summaries alone
            cannot feed the cross-task matrix: their tables stay as committed); ``always`` / ``never``.
        results_parameters: extra parameters of the results notebook (e.g. ``cross_task_max_clips``).
        demo_notebook: executed after the results notebook into ``<study>/03_demo.ipynb`` (it writes
            Figure 4 to ``<study>/results/``) when some run has its checkpoint (committed summaries alone
            have none); None skips it. A failure counts as the results stage's.
        command: the command line, recorded with this invocation in study_info.json.
        threads: torch/OpenMP threads per run; default cores // workers. Set 1 when the machine is shared:
            oversubscribed OpenMP threads spin and can be many times slower (measured 4x).
        keep_kernels: each worker runs its notebooks in one kept kernel, reset between them
            (:class:`aelib.study.executor.WarmKernel`; saves a kernel's start and imports per run); False gives
            every notebook a fresh kernel.

    Returns:
        A :class:`StudyReport`; ``report.ok`` is False when a run, the results or the demo notebook failed.
    """
    if results not in ("auto", "always", "never"):
        raise ValueError(f"results must be auto, always or never, got {results!r}")
    t0 = time.perf_counter()
    jobs_grid = grid(tasks, paradigms, seeds)
    run_root_abs = Path(run_root).expanduser().resolve()
    study_dir = layout.study_dir(run_root_abs, study)
    overrides = dict(overrides or {})
    root = ensure_corpus(preset, data_dir, tasks=sorted(set(tasks)), progress=progress)
    study_dir.mkdir(parents=True, exist_ok=True)
    data_dir_abs = str(Path(data_dir).expanduser().resolve()) if data_dir else ""  # "" keeps the preset default
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = max(1, int(workers))
    threads = max(1, int(threads) if threads else cores // workers)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    history = previous_invocations(study_dir)
    invocation = {"command": command, "started": started, "status": "running"}
    info = {"study": study, "preset": preset, "tasks": list(dict.fromkeys(tasks)),
            "paradigms": list(dict.fromkeys(paradigms)), "seeds": list(dict.fromkeys(seeds)), "workers": workers,
            "threads_per_worker": threads, "keep_kernels": bool(keep_kernels), "data_dir": str(root),
            "overrides": overrides, "status": "running",
            "started": started, "invocations": [*history, invocation]}

    report = StudyReport(str(study_dir))
    jobs: list[dict[str, Any]] = []
    for task, paradigm, seed in jobs_grid:
        outcome = RunOutcome(task, paradigm, int(seed), str(layout.run_dir(study_dir, task, paradigm, seed)), "")
        try:
            params, cfg = run_parameters(task, paradigm, seed, preset=preset, study=study, data_dir=data_dir_abs,
                                         run_root=str(run_root_abs), overrides=overrides, notebook=train_notebook)
            begun = (cfg.run_dir / "metrics.json").exists() or has_trained(cfg.run_dir)
            diff = settings_diff(cfg.run_dir, cfg) if begun else []  # params.json alone: it may start over
        except UserError as exc:  # a value Config refuses: nothing to execute for this run
            outcome.status, outcome.error = "invalid", f"{type(exc).__name__}: {exc}"
            report.runs.append(outcome)
            continue
        finished = (cfg.run_dir / "metrics.json").exists()
        changed = begun and corpus_changed(cfg)  # the corpus in data_dir is not the one the run was made on
        if diff or (changed and not finished):
            outcome.status = "conflict"
            what = f"other settings ({', '.join(diff)})" if diff else "another version of the corpus"
            outcome.error = (f"the {'finished' if finished else 'unfinished'} run there has {what}; "
                             "use another --study or delete the folder")
        elif finished:
            outcome.status = "stale" if changed else "skipped"
        else:
            params.update(threads=threads, progress=progress)
            jobs.append({"key": len(report.runs), "input": str(train_notebook), "parameters": params,
                         "output": str(cfg.run_dir / "train.ipynb"), "cwd": str(cfg.run_dir), "threads": threads,
                         "kernel_name": kernel_name})
        report.runs.append(outcome)

    if jobs:  # an invocation that executes nothing leaves study_info.json (and the README made from it) as it is
        write_info(study_dir, info)
    bar = tqdm(total=len(report.runs), desc=f"study {study}", disable=not progress, unit="run")
    bar.update(len(report.runs) - len(jobs))
    memory = PeakMemory()
    if jobs:
        local, pool_workers = threading.local(), []

        def execute(job: dict[str, Any]) -> dict[str, Any]:  # one long-lived papermill worker per thread
            if not hasattr(local, "worker"):
                local.worker = NotebookWorker(keep_kernel=keep_kernels)
                pool_workers.append(local.worker)
            return local.worker.run(job)

        try:
            with memory, ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                futures = [pool.submit(execute, job) for job in jobs]
                for fut in as_completed(futures):
                    res = fut.result()
                    r = report.runs[res["key"]]
                    r.seconds = res["seconds"]
                    finished = (Path(r.run_dir) / "metrics.json").exists()
                    r.status = "done" if finished and not res["error"] else "failed"
                    r.error = res["error"] or ("" if finished else "the notebook finished without writing metrics.json")
                    bar.update(1)
                    bar.set_postfix(last=layout.run_name(r.task, r.paradigm, r.seed), failed=len(report.failed))
                    invocation["wall_seconds"] = round(time.perf_counter() - t0, 1)  # so far: kept if killed
                    write_info(study_dir, info)
        finally:
            for w in pool_workers:
                w.close()
    bar.close()

    ran = bool(jobs)
    # the cross-task matrix and Figure 4 load the runs' checkpoints, which a clone of committed summaries lacks
    has_checkpoints = any((d / "checkpoints" / "best.th").exists() for d in _run_dirs(study_dir))
    if results == "always" or (results == "auto" and (ran or (has_checkpoints and _results_stale(study_dir)))):
        res = _execute_notebook({"key": -1, "input": str(results_notebook), "output": str(study_dir / "results.ipynb"),
                                 "parameters": {"study_dir": str(study_dir), **(results_parameters or {})},
                                 "cwd": str(study_dir), "threads": cores, "kernel_name": kernel_name})
        errors = [f"results notebook: {res['error']}"] if res["error"] else []
        if demo_notebook and has_checkpoints:
            demo = _execute_notebook({"key": -2, "input": str(demo_notebook), "output": str(study_dir / "03_demo.ipynb"),
                                      "parameters": {"study_dir": str(study_dir)}, "cwd": str(study_dir),
                                      "threads": cores, "kernel_name": kernel_name})
            if demo["error"]:
                errors.append(f"03_demo: {demo['error']}")
        for nb in (study_dir / "results.ipynb", study_dir / "03_demo.ipynb"):  # committed: no machine's paths
            if nb.exists():
                atomic_write_text(nb, layout.portable_text(nb.read_text()))
        report.results_status = "failed" if errors else "done"
        report.results_error = "; ".join(errors)
    elif results == "auto":
        report.results_status = "skipped"
    report.wall_seconds = round(time.perf_counter() - t0, 1)
    finished_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    invocation.update(finished=finished_at, wall_seconds=report.wall_seconds, runs_executed=len(jobs),
                      status="ok" if report.ok else "failed",
                      peak_rss_mb=round(memory.peak_mb, 1) if jobs else None)
    total = sum(float(inv.get("wall_seconds") or 0.0) for inv in info["invocations"])
    peaks = [float(inv["peak_rss_mb"]) for inv in info["invocations"] if inv.get("peak_rss_mb")]
    info.update(status="ok" if report.ok else "failed", finished=finished_at,
                wall_seconds=round(total, 1), wall_seconds_this_invocation=report.wall_seconds,
                missing=[layout.run_name(r.task, r.paradigm, r.seed) for r in report.runs
                         if not (Path(r.run_dir) / "metrics.json").exists()],
                peak_rss_mb=max(peaks) if peaks else None,  # the study's peak: the largest of its invocations
                results_notebook=report.results_status,
                runs=[{**dataclasses.asdict(r), "notebook": r.notebook} for r in report.runs])
    if jobs or report.results_status in ("done", "failed"):
        write_info(study_dir, info)
    return report
