"""The study grid runner: every (task, paradigm, seed) run as an executed notebook, in parallel.

    python -m aelib.study --preset small --study default --tasks kws asr ser asc \\
        --paradigms clean noisy cascade joint iterative --seeds 0 1 2 --workers 2 \\
        [--data-dir DIR] [--run-root runs] [--set [SCOPE:]KEY=VALUE ...] [--results auto|always|never]
        [--fresh-kernels]

``--set`` takes any Config field (JSON values); a SCOPE of a task, a paradigm or ``task/paradigm``
limits it to those runs, e.g. ``--set asr:lr=5e-4 joint:joint_lambda=0.3``.
"""
from __future__ import annotations

import argparse
import sys

from ..config import PARADIGMS, PRESETS, SEEDS, TASKS, parse_sets
from ..errors import guard
from ..corpora.embedded import BuildError
from ..corpora.sources import SourceError
from .runner import run_study
from .report import command_line


@guard
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aelib.study", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small", choices=PRESETS, help="(default: small)")
    p.add_argument("--study", default="default", help="runs/<study>/... (default: default)")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--paradigms", nargs="+", default=list(PARADIGMS), choices=PARADIGMS)
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="(default: %(default)s)")
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
