"""The notebook executor: papermill in long-lived worker processes, each with a kept, reset kernel.

:class:`NotebookWorker` (in the runner) feeds jobs to :func:`serve_notebooks` (in a worker process),
which executes them with papermill, by default in a fresh kernel per notebook, with ``keep_kernel`` in
one :class:`WarmKernel` reset by :data:`RESET_KERNEL` before each notebook (papermill engine
:data:`WARM_ENGINE`). A worker imports papermill and Jupyter, never torch: only its kernels do.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..layout import REPO


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
    its own random generators (:func:`aelib.device.seed_everything`), so a run's numbers do not depend on the
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
    """The notebook worker's loop: :class:`NotebookWorker` starts a process that runs it.

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
        code = ("from aelib.study.executor import serve_notebooks; "
                f"serve_notebooks(keep_kernel={bool(self.keep_kernel)})")
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

