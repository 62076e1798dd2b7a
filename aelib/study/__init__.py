"""The study runner: every (task, paradigm, seed) run of a study as an executed notebook, in parallel.

Each run is ``notebooks/01_train.ipynb`` executed by papermill into its own run folder
(``runs/<study>/<task>/<paradigm>/seed<k>/train.ipynb``) with the run's whole Config as a parameter;
finished runs are skipped, unfinished ones resume, a failing run is reported and the others go on.
After the grid, the results and demo notebooks run on the study, and ``runs/<study>/study_info.json``
records the grid, every run's outcome and every invocation. ``python -m aelib.study --help``.

    runner    the grid orchestrator: queue order, skip/resume/conflict checks, results stage (run_study)
    params    the run notebook's parameters <-> a run's Config
    executor  papermill in long-lived worker processes with kept, reset kernels
    memory    peak resident memory of the runner's process tree
    report    run outcomes, the printed summary, study_info.json
    corpus    the corpus a study trains on, built once when it is the embedded default
"""
from __future__ import annotations

import importlib
from typing import Any

# The public names and the module that owns each. They load on first use (PEP 562): the notebook workers
# import aelib.study.executor, which loads this package first, and an eager import of runner (-> aelib.runs
# -> torch) would put ~690 MB of torch into every worker, which only executes notebooks (measured).
_OWNERS = {
    "run_study": "runner", "grid": "runner", "settings_diff": "runner", "PARADIGM_ORDER": "runner",
    "RESULTS_NOTEBOOK": "runner", "DEMO_NOTEBOOK": "runner",
    "config_from_parameters": "params", "overrides_for": "params", "notebook_parameters": "params",
    "run_parameters": "params", "TRAIN_NOTEBOOK": "params", "RUNTIME_PARAMETERS": "params",
    "NotebookWorker": "executor", "WarmKernel": "executor", "RESET_KERNEL": "executor", "WARM_ENGINE": "executor",
    "serve_notebooks": "executor", "notebook_error": "executor",
    "PeakMemory": "memory", "tree_rss_mb": "memory",
    "RunOutcome": "report", "StudyReport": "report", "OK_STATUSES": "report", "FAILURES": "report",
    "finished_runs": "report", "previous_invocations": "report", "command_line": "report",
    "ensure_corpus": "corpus",
    "main": "__main__",
}
__all__ = sorted(_OWNERS)


def __getattr__(name: str) -> Any:
    if name not in _OWNERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_OWNERS[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
