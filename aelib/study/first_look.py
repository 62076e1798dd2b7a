"""The first look: the few runs the demo and Figure 4 need, trained here, and compared with the committed study.

    python -m aelib.study.first_look [--reference runs/default] [--study first-look] [--workers 2]

A clone holds the committed study's summaries (``runs/default/``: metrics and predictions, no checkpoints),
so nothing there can be listened to. This trains asr and asc (the two tasks of Figure 4) with ``clean``,
``cascade`` and ``iterative`` at seed 0, with the reference's preset and settings, into
``runs/first-look/`` (finished runs are skipped: a second call takes seconds), executes the results and demo
notebooks for them (Figure 4 from models trained here), and prints each run's numbers beside the committed
run of the same settings and seed, saying which comparison it is: bit-identical is expected only on the CPU
model and thread count that made the reference; elsewhere a rerun agrees within the run-to-run noise,
shown as the reference's seed-to-seed sd. When the reference's runs have their checkpoints (the study was
trained here), they are the demo's runs: nothing is trained.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from ..config import SEEDS
from ..device import cpu_model
from ..errors import guard
from ..layout import REPO, relative_to_repo, run_dir
from .report import command_line
from .runner import run_study

TASKS = ("asr", "asc")  # Figure 4's tasks
PARADIGMS = ("clean", "cascade", "iterative")  # iterative and cascade for Figure 4; clean makes their CA
SEED = 0
SPLITS = ("clean", "test_seen", "test_unseen")
# settings that may differ between the first look and the reference without changing a result
NOT_SETTINGS = ("study", "run_root", "data_dir", "device", "num_workers", "extra")


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _trained(study: Path) -> bool:
    return all((run_dir(study, t, p, SEED) / "checkpoints" / "best.th").exists() for t in TASKS for p in PARADIGMS)


def compare(here: Path, reference: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per (task, paradigm, split) of the first look beside the reference; and notes on what is compared."""
    rows, notes = [], []
    for task in TASKS:
        for paradigm in PARADIGMS:
            mine = _read(run_dir(here, task, paradigm, SEED) / "metrics.json")
            ref = _read(run_dir(reference, task, paradigm, SEED) / "metrics.json")
            if mine is None:
                notes.append(f"{task}/{paradigm}: no finished run here")
                continue
            if ref is None:
                notes.append(f"{task}/{paradigm}: no seed-{SEED} run in {relative_to_repo(reference)} to compare with")
                continue
            cfg_here = json.loads((run_dir(here, task, paradigm, SEED) / "params.json").read_text())["config"]
            cfg_ref = json.loads((run_dir(reference, task, paradigm, SEED) / "params.json").read_text())["config"]
            from ..runs import settings_diff  # torch; only once the runs exist

            diff = [k for k in settings_diff(cfg_ref, cfg_here) if k not in NOT_SETTINGS]
            seeds = [m for m in (_read(run_dir(reference, task, paradigm, s) / "metrics.json") for s in SEEDS) if m]
            pm = mine["primary_metric"]
            same = {k: v for k, v in mine.items() if k != "train_seconds"} == \
                   {k: v for k, v in ref.items() if k != "train_seconds"}
            for split in SPLITS:
                key = f"{split}_{pm}"
                values = [m["headline"][key] for m in seeds if key in m["headline"]]
                sd = statistics.stdev(values) if len(values) > 1 else float("nan")
                delta = mine["headline"][key] - ref["headline"][key]
                rows.append({"run": f"{task}/{paradigm}", "metric": key, "here": mine["headline"][key],
                             "reference": ref["headline"][key], "delta": delta, "seed_sd": sd,
                             "verdict": ("settings differ: " + ", ".join(diff)) if diff else
                             "identical" if same else f"{abs(delta) / sd:.1f} sd" if sd > 0 else "differs"})
    return rows, notes


def report(here: Path, reference: Path) -> str:
    """The text the first look ends with: the comparison, what it can show on this CPU, where everything is."""
    rows, notes = compare(here, reference)
    ref_params = _read(run_dir(reference, TASKS[0], PARADIGMS[0], SEED) / "params.json") or {}
    ref_cpu = ref_params.get("versions", {}).get("cpu", "not recorded")
    info = _read(here / "study_info.json") or {}
    threads = info.get("threads_per_worker", "?")
    ref_info = _read(reference / "study_info.json") or {}
    lines = [f"First look: {len(TASKS) * len(PARADIGMS)} runs of {relative_to_repo(here)}, "
             "trained on this machine, beside the committed "
             f"{relative_to_repo(reference)} (seed {SEED}, the same settings).",
             f"This CPU: {cpu_model()}, {threads} thread(s) per run; the reference's: {ref_cpu}, "
             f"{ref_info.get('threads_per_worker', '?')} thread(s) per run.",
             "Reruns are bit-identical only on the same CPU model and thread count; elsewhere float-level "
             "differences move a run within the run-to-run noise, shown here as the reference's seed-to-seed sd "
             f"(over its {len(ref_info.get('seeds', SEEDS))} seeds). 'identical' means every number of metrics.json "
             "equal; 'k sd' how far the rerun "
             "is from the reference's seed-0 run in units of that sd.", ""]
    lines.append("| run | metric | here | reference | delta | reference seed sd | agreement |")
    lines.append("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        lines.append(f"| {r['run']} | {r['metric']} | {r['here']:.3f} | {r['reference']:.3f} | {r['delta']:+.3f} | "
                     f"{r['seed_sd']:.3f} | {r['verdict']} |")
    lines += [f"note: {n}" for n in notes]
    results = here / "results"
    figures = sorted(relative_to_repo(p) for p in results.glob("figure4_*.png")) if results.exists() else []
    lines += ["", "Where everything is:",
              f"  Figure 4 from these models: {', '.join(map(str, figures)) or '(not made: see the demo notebook)'}",
              f"  tables and figures of these runs: {relative_to_repo(results)}/ "
              f"(executed notebooks {relative_to_repo(here / 'results.ipynb')}, {relative_to_repo(here / '03_demo.ipynb')})",
              f"  the committed study's results: docs/results.md; this comparison: {relative_to_repo(here / 'first_look.md')}",
              "  the SNR-slider demo on these runs: make demo   (http://127.0.0.1:8866/)"]
    return "\n".join(lines)


@guard
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aelib.study.first_look", description=__doc__.splitlines()[0])
    p.add_argument("--reference", default="runs/default", help="the committed study (default: runs/default)")
    p.add_argument("--study", default="", help="the study trained here, under --run-root (default: first-look, "
                   "or first-look-<reference> for another reference than runs/default)")
    p.add_argument("--run-root", default="runs")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--data-dir", default="")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    reference = (REPO / a.reference).resolve() if not Path(a.reference).is_absolute() else Path(a.reference)
    info = _read(reference / "study_info.json")
    if info is None:
        raise FileNotFoundError(f"no study at {a.reference} (no study_info.json): --reference takes a study folder")
    if _trained(reference):  # the reference was trained here: it is the demo's study, nothing to train
        print(f"{a.reference} holds trained runs (checkpoints): the demo shows them; nothing to train or compare. "
              f"Serve it with: make demo DEMO_STUDY={a.reference}")
        return 0
    study = a.study or ("first-look" if reference.name == "default" else f"first-look-{reference.name}")
    rep = run_study(info.get("preset", "small"), study, TASKS, PARADIGMS, [SEED], a.workers, a.data_dir,
                    a.run_root, dict(info.get("overrides") or {}), progress=not a.quiet,
                    command=command_line("python -m aelib.study.first_look", argv))
    print(rep.summary())
    here = Path(rep.study_dir)
    text = report(here, reference)
    (here / "first_look.md").write_text(text + "\n")
    print("\n" + text)
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
