"""The study grid runner: every (task, paradigm, seed) run as an executed notebook, in parallel.

Each run is ``notebooks/01_train.ipynb`` executed by papermill into its own run folder
(``runs/<study>/<task>/<paradigm>/seed<k>/train.ipynb``) with the run's settings as parameters.
Finished runs (``metrics.json`` present, same settings) are skipped (reported ``stale`` when the corpus
in their data_dir has changed since: kept, never retrained silently); unfinished ones are re-executed
and the trainer resumes from its checkpoint; a failing run is reported at the end and the others go
on (its executed notebook, with the error, stays in the run folder). Runs of the same task and seed
are queued so that the shared stages (``ca_clean`` from ``clean``, ``ae_pretrain`` from
``cascade``) are produced first; a file lock in the trainer prevents duplicate shared work anyway.
Each worker keeps one kernel and resets it between its notebooks (:class:`WarmKernel`; ``--fresh-kernels``
gives every run its own).
After the grid, ``notebooks/02_results.ipynb`` is executed into ``runs/<study>/results.ipynb`` and
``notebooks/03_demo.ipynb`` into ``runs/<study>/03_demo.ipynb`` (Figure 4 into ``results/``), and
``runs/<study>/study_info.json`` records the grid, the outcome of every run, the runs still missing and
every invocation that executed something (command, start, end, wall time, updated after each run so
that a killed invocation keeps its time); its ``wall_seconds`` is the study's total over invocations.

    python -m aelib.study --preset small --study default --tasks kws asr ser asc \\
        --paradigms clean noisy cascade joint iterative --seeds 0 1 2 --workers 2 \\
        [--data-dir DIR] [--run-root runs] [--set [SCOPE:]KEY=VALUE ...] [--results auto|always|never]
        [--fresh-kernels]

``--set`` takes any Config field (JSON values); a SCOPE of a task, a paradigm or ``task/paradigm``
limits it to those runs, e.g. ``--set asr:lr=5e-4 joint:joint_lambda=0.3``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .config import PARADIGMS, PRESETS, TASKS, Config, default_data_dir, make_config

REPO = Path(__file__).resolve().parent.parent
TRAIN_NOTEBOOK = REPO / "notebooks" / "01_train.ipynb"
RESULTS_NOTEBOOK = REPO / "notebooks" / "02_results.ipynb"
DEMO_NOTEBOOK = REPO / "notebooks" / "03_demo.ipynb"  # Figure 4 and the static SNR grid, from the study's runs
# Within one task and seed: clean makes ca_clean, cascade makes ae_pretrain; joint and iterative reuse them.
# noisy (short, needs nothing) goes last, so that the study ends on short runs: replaying the study at
# fb01f8c's run times on 2 workers, its last run ends 5456 s in, against 5497 s in the order before
# (clean, cascade, noisy, ...), where one worker stood idle for 92 s at the end.
PARADIGM_ORDER = ("clean", "cascade", "joint", "iterative", "noisereduce", "noisy")
# Notebook parameters that are not Config fields.
RUNTIME_PARAMETERS = ("threads", "progress")
FAILURES = ("failed", "conflict", "invalid")  # failed: the notebook raised; conflict: other settings in the folder


# ---- parameters <-> Config ---------------------------------------------------------------------
def config_from_parameters(task: str, paradigm: str, preset: str = "small", *, run_root: str = "",
                           test_snrs: Any = "", config_json: str = "", **knobs: Any) -> Config:
    """The Config of a 01_train notebook's parameters (also used by the grid runner to check runs).

    ``""`` and ``None`` mean "the preset's default" (config.py stays the one source of defaults);
    ``test_snrs`` is a comma-separated string or a sequence; ``config_json`` a JSON object of any
    other Config fields; ``run_root`` "" is ``<repository>/runs`` wherever the notebook runs.
    """
    extra = json.loads(config_json) if config_json else {}
    values = {k: v for k, v in knobs.items() if v is not None and v != "" and k not in RUNTIME_PARAMETERS}
    values.update(extra)
    if isinstance(test_snrs, str) and test_snrs.strip():
        values["test_snrs"] = tuple(float(s) for s in test_snrs.split(","))
    elif isinstance(test_snrs, (list, tuple)) and test_snrs:
        values["test_snrs"] = tuple(float(s) for s in test_snrs)
    if isinstance(values.get("test_snrs"), list):
        values["test_snrs"] = tuple(values["test_snrs"])
    values["run_root"] = run_root or str(REPO / "runs")
    return make_config(preset, task=task, paradigm=paradigm, **values)


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    """``["[SCOPE:]key=value", ...]`` -> ``{"[SCOPE:]key": value}`` with JSON-decoded values."""
    out: dict[str, Any] = {}
    for kv in items:
        if "=" not in kv:
            raise ValueError(f"--set expects [SCOPE:]KEY=VALUE, got {kv!r}")
        k, v = kv.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def overrides_for(overrides: dict[str, Any], task: str, paradigm: str) -> dict[str, Any]:
    """The overrides that apply to one run: unscoped keys, then task, paradigm, task/paradigm scopes."""
    out: dict[str, Any] = {}
    rank = {"": 0, task: 1, paradigm: 2, f"{task}/{paradigm}": 3}
    for key, value in sorted(overrides.items(), key=lambda kv: rank.get(kv[0].rpartition(":")[0], -1)):
        scope, _, name = key.rpartition(":")
        t, slash, p = scope.partition("/")
        if scope and not (scope in (*TASKS, *PARADIGMS) or (slash and t in TASKS and p in PARADIGMS)):
            raise ValueError(f"unknown --set scope {scope!r}: use a task, a paradigm or task/paradigm")
        if scope in rank:
            out[name] = value
    return out


# ---- corpus ------------------------------------------------------------------------------------
def ensure_corpus(preset: str, data_dir: str = "", tasks: Sequence[str] = TASKS, progress: bool = True) -> Path:
    """The corpus root for ``preset``; builds the embedded corpus when it is the default root and missing.

    An explicit ``data_dir`` (or the paper preset) is never built: its manifests must exist.
    """
    from .corpora.embedded import build_corpus, is_built

    default = Path(default_data_dir(preset)).expanduser()
    root = Path(data_dir).expanduser() if data_dir else default
    embedded = root.resolve() == default.resolve() and preset in ("smoke", "small")
    if embedded and not is_built(root, preset, 0):
        print(f"building the embedded {preset} corpus in {root} (once) ...", file=sys.stderr)
        return build_corpus(root, size=preset, seed=0, progress=progress)
    missing = [f"{t}.csv" for t in tasks if not (root / f"{t}.csv").exists()]
    if missing:
        raise FileNotFoundError(
            f"{root} has no {', '.join(missing)}: build the embedded corpus (python -m aelib.corpora build) or "
            "adapt a real corpus (python -m aelib.corpora adapt NAME SRC --out DIR) and pass --data-dir DIR")
    return root


# ---- one run -----------------------------------------------------------------------------------
# a run that has its metrics (made now, or found finished; "stale": found finished, but on another version of
# the corpus than the one in data_dir now: its results are kept and reported, never silently retrained)
OK_STATUSES = ("done", "skipped", "stale")


@dataclass
class RunOutcome:
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


def settings_diff(run_dir: Path, cfg: Config) -> list[str]:
    """Config keys where the run folder's params.json differs from ``cfg`` (volatile keys ignored)."""
    from .runs import settings_diff as diff

    params = run_dir / "params.json"
    if not params.exists():
        return []
    return diff(json.loads(params.read_text())["config"], cfg.to_dict())


def notebook_error(path: str | Path) -> str:
    """``ename: evalue`` of the first error output in an executed notebook ("" when none)."""
    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return ""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") != "PapermillExecutionError":
                return f"{out.get('ename')}: {out.get('evalue')}".strip()
    return ""


def _papermill_value(v: Any) -> Any:
    """A parameter as papermill's command line would pass it: lists and dicts as JSON text, the rest as is."""
    return json.dumps(v) if isinstance(v, (list, dict)) else v


# Run before each notebook in a kept kernel: the namespace, history and execution count of a new session,
# no open figures, warnings shown again, the job's folder as cwd. Modules stay imported: that is the point.
RESET_KERNEL = """\
get_ipython().reset(new_session=True)
import gc as _gc, os as _os, sys as _sys, warnings as _warnings
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
_warnings.onceregistry.clear()
_warnings._filters_mutated()
_os.chdir({cwd!r})
_gc.collect()
del _gc, _os, _sys, _warnings
"""


class WarmKernel:
    """One Jupyter kernel that a notebook worker keeps between its notebooks.

    Starting a kernel and importing torch, pandas, matplotlib, seaborn and aelib (and torch._dynamo, which
    the first optimizer imports) cost ~9 s of CPU per run, the same in every run of a study. A kept kernel
    pays them once per worker; :data:`RESET_KERNEL` gives each notebook a fresh namespace. Every run seeds
    its own random generators (:func:`aelib.train.seed_everything`), so a run's numbers do not depend on the
    run before it (tests/test_study.py compares a kept kernel's run with a fresh kernel's). A kernel whose
    notebook failed is shut down, never handed on; so is one started for other threads or another kernel.
    """

    def __init__(self) -> None:
        self.km: Any = None
        self.key: tuple[str, int] | None = None

    def manager(self, kernel_name: str, threads: int) -> Any:
        """The kept kernel manager for (kernel_name, threads); a new, not yet started one when it changed."""
        from jupyter_core.utils import run_sync

        if self.km is not None and (self.key != (kernel_name, threads) or not run_sync(self.km.is_alive)()):
            self.discard()
        if self.km is None:
            from jupyter_client.manager import AsyncKernelManager

            self.km, self.key = AsyncKernelManager(kernel_name=kernel_name), (kernel_name, threads)
        return self.km

    def discard(self) -> None:
        """Shut the kernel down (if one was started); the next notebook gets a new one."""
        from jupyter_core.utils import run_sync

        km, self.km, self.key = self.km, None, None
        if km is not None and km.has_kernel:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # already dead: nothing left to stop
                pass


WARM_ENGINE = "aelib-warm-kernel"


def _register_warm_engine() -> None:
    """Register a papermill engine that executes a notebook in a :class:`WarmKernel` (engine kwargs
    ``warm``, ``kernel_cwd`` and ``threads``); papermill's own engine starts and stops a kernel per notebook."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import remove_args

    class ResetClient(PapermillNotebookClient):
        reset_code = ""

        def papermill_execute_cells(self) -> None:
            reply = self.wait_for_reply(self.kc.execute(self.reset_code, silent=True, store_history=False))
            content = (reply or {}).get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(f"could not reset the kept kernel: {content.get('ename')}: {content.get('evalue')}")
            super().papermill_execute_cells()

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, warm=None, kernel_cwd=".",
                                     threads=1, **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            client = ResetClient(nb_man, km=warm.manager(kernel_name, threads), timeout=execution_timeout,
                                 startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                                 log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.reset_code = RESET_KERNEL.format(cwd=str(kernel_cwd))
            try:
                return client.execute()
            finally:
                if client.kc is not None:  # the kernel lives on; this notebook's channels do not
                    client.kc.stop_channels()

    papermill_engines.register(WARM_ENGINE, WarmEngine)


def serve_notebooks(keep_kernel: bool = False) -> None:
    """The notebook worker's loop (``python -c "import aelib.study as s; s.serve_notebooks()"``).

    Reads one job per line (JSON) on stdin, executes it with papermill in this process and answers one
    JSON line on the stdout it started with. A long-lived worker saves Python's start and papermill's
    import (measured: 6.0 -> 4.3 s per run outside the notebook's cells); with ``keep_kernel`` it also
    keeps its kernel between notebooks (:class:`WarmKernel`), else each notebook gets a fresh kernel.
    While a job runs, fds 1 and 2 (this worker's and its kernel's output) go to the job's ``<output>.log``.
    """
    answers = os.fdopen(os.dup(1), "w")  # the answer channel; fd 1 itself never carries stray output to it
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    import papermill as pm

    warm = WarmKernel() if keep_kernel else None
    if warm is not None:
        _register_warm_engine()
    try:
        for line in sys.stdin:
            job = json.loads(line)
            output = Path(job["output"])
            output.parent.mkdir(parents=True, exist_ok=True)
            message = ""
            sys.stdout.flush()
            sys.stderr.flush()
            with open(output.with_suffix(".log"), "w") as log:
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # the kernel inherits them
                    os.environ[v] = str(job["threads"])
                engine = (dict(engine_name=WARM_ENGINE, warm=warm, kernel_cwd=job["cwd"], threads=int(job["threads"]))
                          if warm is not None else {})
                try:
                    pm.execute_notebook(job["input"], str(output), cwd=job["cwd"], kernel_name=job.get("kernel_name"),
                                        parameters={k: _papermill_value(v) for k, v in job["parameters"].items()},
                                        progress_bar=False, log_output=False, **engine)
                except Exception as exc:  # the notebook raised (its error is in the notebook) or the kernel died
                    message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                    print(message, flush=True)
                    if warm is not None:
                        warm.discard()  # whatever state a failed run left, the next run does not inherit it
                sys.stdout.flush()
                sys.stderr.flush()
            answers.write(json.dumps({"key": job["key"], "message": message}) + "\n")
            answers.flush()
    finally:
        if warm is not None:
            warm.discard()


class NotebookWorker:
    """A long-lived papermill process (:func:`serve_notebooks`) that executes notebooks one at a time.

    The grid runner gives each of its threads one worker: a run no longer pays a new Python and
    papermill's import (nor, with ``keep_kernel``, a kernel's start and imports: :class:`WarmKernel`), and
    a crash still only takes a kernel (or, at worst, this worker, which the next job replaces).
    """

    def __init__(self, keep_kernel: bool = False) -> None:
        self.proc: subprocess.Popen | None = None
        self.keep_kernel = keep_kernel

    def _start(self) -> subprocess.Popen:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)  # aelib, wherever run from
        env = {**os.environ, "PYTHONPATH": path}
        code = f"import aelib.study as s; s.serve_notebooks(keep_kernel={bool(self.keep_kernel)})"
        return subprocess.Popen([sys.executable, "-c", code],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Execute ``job`` (input, output, cwd, parameters, threads, kernel_name); ``error`` "" when it ran."""
        t0 = time.perf_counter()
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        answer: dict[str, Any] = {}
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            answer = json.loads(line) if line else {}
        except (OSError, ValueError):
            pass
        output = Path(job["output"])
        if not answer:  # the worker itself died: report it, and start a new one for the next job
            self.close()
            log = output.with_suffix(".log")
            tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
            answer = {"message": f"notebook worker died: {(tail or [''])[0]}"}
        error = notebook_error(output) if answer["message"] else ""
        seconds = round(time.perf_counter() - t0, 1)
        return {"key": job["key"], "error": error or answer["message"], "seconds": seconds}

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None


def _execute_notebook(job: dict[str, Any]) -> dict[str, Any]:
    """Execute one notebook in a worker of its own (the results and demo notebooks: one-off jobs)."""
    worker = NotebookWorker()
    try:
        return worker.run(job)
    finally:
        worker.close()


# ---- memory --------------------------------------------------------------------------------------
def tree_rss_mb(root_pid: int | None = None) -> float:
    """Resident memory (MB) of a process and all its descendants, from /proc (0.0 where there is none)."""
    root_pid = os.getpid() if root_pid is None else root_pid
    parent: dict[int, int] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == pid and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total / 2**20


class PeakMemory:
    """Samples :func:`tree_rss_mb` of this process tree every ``interval`` s in a thread; ``peak_mb``."""

    def __init__(self, interval: float = 2.0) -> None:
        import threading

        self.interval, self.peak_mb = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


# ---- the grid ----------------------------------------------------------------------------------
@dataclass
class StudyReport:
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
            lines.append(f"  FAILED {r.task}/{r.paradigm}/seed{r.seed} ({r.status}): {r.error}")
            lines.append(f"         {r.notebook if r.status == 'failed' else r.run_dir}")
        if self.results_status == "failed":
            lines.append(f"  FAILED {self.results_error}")
            lines.append(f"         {Path(self.study_dir) / 'results.ipynb'}, {Path(self.study_dir) / '03_demo.ipynb'}")
        return "\n".join(lines)


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


def _write_info(study_dir: Path, info: dict[str, Any]) -> None:
    from .runs import atomic_write_json

    atomic_write_json(study_dir / "study_info.json", info)


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


def _results_stale(study_dir: Path) -> bool:
    out = study_dir / "results.ipynb"
    if not out.exists():
        return True
    newest = max((p.stat().st_mtime for p in study_dir.glob("*/*/seed*/metrics.json")), default=0.0)
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
        overrides: ``{"[SCOPE:]key": value}`` Config overrides (see :func:`overrides_for`).
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
        keep_kernels: each worker runs its notebooks in one kept kernel, reset between them (:class:`WarmKernel`;
            saves a kernel's start and imports per run); False gives every notebook a fresh kernel.

    Returns:
        A :class:`StudyReport`; ``report.ok`` is False when a run, the results or the demo notebook failed.
    """
    from tqdm.auto import tqdm

    if results not in ("auto", "always", "never"):
        raise ValueError(f"results must be auto, always or never, got {results!r}")
    t0 = time.perf_counter()
    jobs_grid = grid(tasks, paradigms, seeds)
    run_root_abs = Path(run_root).expanduser().resolve()
    study_dir = run_root_abs / study
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

    from .runs import corpus_changed

    report = StudyReport(str(study_dir))
    jobs: list[dict[str, Any]] = []
    for task, paradigm, seed in jobs_grid:
        params: dict[str, Any] = {"task": task, "paradigm": paradigm, "preset": preset, "seed": int(seed),
                                  "study": study, "data_dir": data_dir_abs, "run_root": str(run_root_abs)}
        outcome = RunOutcome(task, paradigm, int(seed), str(study_dir / task / paradigm / f"seed{seed}"), "")
        try:
            params.update(_split_parameters(overrides_for(overrides, task, paradigm), train_notebook))
            cfg = config_from_parameters(**params)
            diff = settings_diff(cfg.run_dir, cfg)
        except Exception as exc:  # a bad override: nothing to execute for this run
            outcome.status, outcome.error = "invalid", f"{type(exc).__name__}: {exc}"
            report.runs.append(outcome)
            continue
        finished = (cfg.run_dir / "metrics.json").exists()
        changed = corpus_changed(cfg)  # the corpus in data_dir is not the one the run folder was made on
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
        _write_info(study_dir, info)
    bar = tqdm(total=len(report.runs), desc=f"study {study}", disable=not progress, unit="run")
    bar.update(len(report.runs) - len(jobs))
    memory = PeakMemory()
    if jobs:
        import threading

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
                    bar.set_postfix(last=f"{r.task}/{r.paradigm}/seed{r.seed}", failed=len(report.failed))
                    invocation["wall_seconds"] = round(time.perf_counter() - t0, 1)  # so far: kept if killed
                    _write_info(study_dir, info)
        finally:
            for w in pool_workers:
                w.close()
    bar.close()

    ran = bool(jobs)
    # the cross-task matrix and Figure 4 load the runs' checkpoints, which a clone of committed summaries lacks
    has_checkpoints = any(study_dir.glob("*/*/seed*/checkpoints/best.th"))
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
                missing=[f"{r.task}/{r.paradigm}/seed{r.seed}" for r in report.runs
                         if not (Path(r.run_dir) / "metrics.json").exists()],
                peak_rss_mb=max(peaks) if peaks else None,  # the study's peak: the largest of its invocations
                results_notebook=report.results_status,
                runs=[{**dataclasses.asdict(r), "notebook": r.notebook} for r in report.runs])
    if jobs or report.results_status in ("done", "failed"):
        _write_info(study_dir, info)
    return report


def notebook_parameters(path: str | Path = TRAIN_NOTEBOOK) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (read without importing papermill)."""
    nb = json.loads(Path(path).read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            return {m.group(1) for m in re.finditer(r"^(\w+)\s*(?::[^=]*)?=", src, flags=re.M)}
    raise ValueError(f"{path} has no cell tagged 'parameters'")


def _split_parameters(knobs: dict[str, Any], notebook: str | Path) -> dict[str, Any]:
    """Knobs that are notebook parameters pass as themselves (readable in the executed notebook); the
    rest travel in ``config_json``."""
    names = notebook_parameters(notebook)
    direct = {k: v for k, v in knobs.items() if k in names and k != "config_json"}
    rest = {k: v for k, v in knobs.items() if k not in direct}
    if "test_snrs" in direct and isinstance(direct["test_snrs"], (list, tuple)):
        direct["test_snrs"] = ",".join(str(float(s)) for s in direct["test_snrs"])
    if rest:
        direct["config_json"] = json.dumps(rest)
    return direct


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m aelib.study", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small", choices=PRESETS, help="(default: small)")
    p.add_argument("--study", default="default", help="runs/<study>/... (default: default)")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--paradigms", nargs="+", default=list(PARADIGMS), choices=PARADIGMS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=2, help="parallel notebook executions (default: 2)")
    p.add_argument("--threads", type=int, default=None, help="threads per run (default: cores // workers)")
    p.add_argument("--data-dir", default="", help="corpus root (default: the preset's embedded corpus, built if missing)")
    p.add_argument("--run-root", default="runs")
    p.add_argument("--set", nargs="*", default=[], metavar="[SCOPE:]KEY=VALUE",
                   help="Config overrides (JSON values); SCOPE = task, paradigm or task/paradigm")
    p.add_argument("--results", default="auto", choices=("auto", "always", "never"),
                   help="execute the results and demo notebooks: auto = when something changed (default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--fresh-kernels", action="store_true",
                   help="a fresh kernel for every run (default: each worker keeps one kernel, reset between runs)")
    a = p.parse_args(argv)
    from .corpora.embedded import BuildError
    from .corpora.sources import SourceError

    try:
        report = run_study(a.preset, a.study, a.tasks, a.paradigms, a.seeds, a.workers, a.data_dir, a.run_root,
                           parse_sets(a.set), results=a.results, progress=not a.quiet, threads=a.threads,
                           keep_kernels=not a.fresh_kernels,
                           command=command_line("python -m aelib.study", argv))
    except (FileNotFoundError, ValueError, BuildError, SourceError) as exc:  # before any run started
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
