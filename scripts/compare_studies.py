"""Does a rerun reproduce a study? Compares two study folders run by run (see aelib.results.compare_studies).

    python scripts/compare_studies.py runs/default runs/rerun [--out runs/rerun/reproduction.md] [--label TEXT]
        [--tasks kws asc] [--timing] [--timing-reference runs/default/reproduction_study_info.json]

Prints a Markdown table per task and paradigm (the primary metric over the noisy test grid: the
reference's mean and 95 % CI over seeds, the rerun's mean, the largest per-seed difference, a two-sample
t-test of the rerun's seeds against the reference's and its Holm adjustment over the table) and exits 1
when a difference lies beyond the seed-to-seed noise (a Holm-adjusted p < 0.05). A rerun mean outside the
reference's interval alone is no failure: with 3 seeds a rerun whose seeds are new draws of the same
distribution lies outside it ~9 % of the time, so one of 24 usually does. ``--timing`` adds the runs' notebook
wall times per paradigm (the seeds both studies finished), to check a speed-up on the same work; by default
from the reference's ``study_info.json`` (the runs its last invocation trained) and, for the runs an earlier
invocation trained, its ``results/run_times.csv``; or from the ``study_info.json`` or ``run_times.csv``
``--timing-reference`` names (e.g. an uninterrupted rerun's, when the reference itself was made in several
invocations under other load). With ``--out X.md`` it also writes ``X.json``: the rerun's cost (wall time,
invocations, runs, peak memory, the CPU of the machine that compared: ``make reproduce`` compares where it
trained) and the verdict, which the README's target table reads as the budget row once copied into the
reference study (``runs/default/reproduction.json``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from aelib.device import cpu_model
from aelib.errors import guard
from aelib.results import compare_studies, study_info, study_run_seconds, to_markdown
from aelib.study import finished_runs


def rerun_cost(study: Path) -> str:
    """", N runs in M min wall (K invocations), peak memory G GB" from the rerun's study_info.json."""
    info = study_info(study)
    if not info.get("wall_seconds"):
        return ""
    n = finished_runs(info)
    inv = len(info.get("invocations") or []) or 1
    mem = f", peak memory {info['peak_rss_mb'] / 1024:.1f} GB" if info.get("peak_rss_mb") else ""
    return (f" ({n} runs, {info['wall_seconds'] / 60:.1f} min wall in {inv} invocation{'s' if inv > 1 else ''} "
            f"with {info.get('workers')} workers{mem})")


def rerun_record(study: Path, table: pd.DataFrame) -> dict:
    """The rerun's cost and the verdict, for ``X.json`` beside ``--out X.md`` (what the budget target reads)."""
    info = study_info(study)
    return {"runs": finished_runs(info), "invocations": len(info.get("invocations") or []) or 1,
            "workers": info.get("workers"), "wall_seconds": info.get("wall_seconds"),
            "peak_rss_mb": info.get("peak_rss_mb"), "started": info.get("started"), "finished": info.get("finished"),
            "machine": cpu_model(), "means": len(table), "within_ci": int(table["within_ci"].sum()),
            "smallest_p": float(table["p"].min()), "smallest_p_holm": float(table["p_holm"].min()),
            "reproduced": bool(table["reproduced"].all())}


def run_seconds(path: Path) -> pd.DataFrame:
    """(task, paradigm, seed, seconds) from a ``study_info.json`` (the runs that invocation finished) or a
    ``results/run_times.csv`` (its ``notebook_seconds``)."""
    if path.suffix == ".csv":
        t = pd.read_csv(path).rename(columns={"notebook_seconds": "seconds"})
        return t.dropna(subset=["seconds"])[["task", "paradigm", "seed", "seconds"]]
    return study_run_seconds(json.loads(path.read_text()))


def reference_seconds(study: Path) -> pd.DataFrame:
    """A study's run seconds: its ``study_info.json``'s, and for runs only an earlier invocation trained (the
    last one records them as skipped) its ``results/run_times.csv``'s."""
    parts = [run_seconds(p) for p in (study / "study_info.json", study / "results" / "run_times.csv") if p.exists()]
    if not parts:
        return pd.DataFrame(columns=["task", "paradigm", "seed", "seconds"])
    return pd.concat(parts, ignore_index=True).drop_duplicates(["task", "paradigm", "seed"], keep="first")


def timing_table(reference: pd.DataFrame, rerun: pd.DataFrame, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Summed notebook wall seconds per paradigm over the (task, paradigm, seed) runs both made (of ``tasks``
    only, when given: a task whose settings changed is not the same computation), and a total."""
    both = reference.merge(rerun, on=["task", "paradigm", "seed"], suffixes=("_reference", "_rerun"))
    if tasks:
        both = both[both["task"].isin(tasks)]
    out = both.groupby("paradigm", as_index=False)[["seconds_reference", "seconds_rerun"]].sum()
    out = pd.concat([out, pd.DataFrame([{"paradigm": "total", "seconds_reference": both["seconds_reference"].sum(),
                                         "seconds_rerun": both["seconds_rerun"].sum()}])], ignore_index=True)
    out["change"] = [f"{r / f - 1:+.1%}" if f > 0 else "n/a"
                     for r, f in zip(out["seconds_rerun"], out["seconds_reference"])]
    out[["seconds_reference", "seconds_rerun"]] = out[["seconds_reference", "seconds_rerun"]].round().astype(int)
    out.insert(1, "runs", [int((both["paradigm"] == p).sum()) if p != "total" else len(both) for p in out["paradigm"]])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reference", help="the committed study, e.g. runs/default")
    p.add_argument("rerun", help="the study to check, e.g. runs/rerun")
    p.add_argument("--out", default="", help="also write the table here (Markdown)")
    p.add_argument("--label", default="", help="how to name the rerun in the text (default: its path)")
    p.add_argument("--tasks", nargs="+", default=None, help="compare only these tasks (default: all both share)")
    p.add_argument("--timing", action="store_true", help="also compare the runs' wall times per paradigm")
    p.add_argument("--timing-reference", default="", help="study_info.json or run_times.csv with the reference "
                   "times (default: the reference study's)")
    a = p.parse_args(argv)
    for d in (a.reference, a.rerun):
        if not Path(d).is_dir():
            print(f"error: no study folder {d}", file=sys.stderr)
            return 2
    table = compare_studies(a.reference, a.rerun, tasks=a.tasks)
    if table.empty:
        print("error: the two studies share no finished run", file=sys.stderr)
        return 2
    name = a.label or f"`{a.rerun}`"
    bad = table[~table["reproduced"]]
    verdict = ("no difference beyond the seed-to-seed noise" if bad.empty else
               "beyond the seed-to-seed noise: " + ", ".join(f"{t} {p}" for t, p in zip(bad["task"], bad["paradigm"])))
    text = (f"Reproduction of `{a.reference}` by {name}{rerun_cost(Path(a.rerun))} (primary metric, mean over "
            f"the noisy test grid; {int(table['within_ci'].sum())} of {len(table)} rerun means inside the reference's "
            f"95 % CI; largest per-seed difference {table['max_seed_diff'].max():.4f}; "
            f"{int((table['p'] < 0.05).sum())} with p < 0.05, {0.05 * table['p'].notna().sum():.1f} expected by "
            f"chance; smallest p {table['p'].min():.3f}, Holm-adjusted {table['p_holm'].min():.3f}: {verdict}):"
            f"\n\n{to_markdown(table, digits=4, index=False)}\n")
    if a.timing:
        ref = Path(a.timing_reference) if a.timing_reference else Path(a.reference)
        ref_times = run_seconds(ref) if a.timing_reference else reference_seconds(ref)
        times = timing_table(ref_times, run_seconds(Path(a.rerun) / "study_info.json"), a.tasks)
        text += (f"\nNotebook wall seconds of the same runs, summed per paradigm (reference times from "
                 f"`{ref}`):\n\n{to_markdown(times, digits=1, index=False)}\n")
    print(text)
    if a.out:
        Path(a.out).write_text(text)
        Path(a.out).with_suffix(".json").write_text(json.dumps(rerun_record(Path(a.rerun), table), indent=1) + "\n")
    return 0 if bool(table["reproduced"].all()) else 1


if __name__ == "__main__":
    sys.exit(guard(main)())
