"""Write the generated results from the committed study outputs (nothing typed by hand): the full results
page ``docs/results.md`` and the headline block of README.md.

Reads ``runs/<study>/study_info.json``, the run summaries and the tables the results notebook wrote to
``runs/<study>/results/`` (``python -m aelib.study``), and the ablation tables in ``runs/ablations/``
(``python -m aelib.ablations``), and, when ``make power`` has run (``runs/power/pooled.md``, written by
``scripts/pooled_seeds.py``, is there), its page and the paper's question on the pooled seeds, pooled again
from ``runs/power/``'s run summaries (:func:`aelib.ablations.pool_seeds`); the sections that read only those
tables are built by :mod:`aelib.results.sections`, the study's own lines (command, invocations, timings)
here. The results page (every table and figure) is written whole; in README.md only the text between
``<!-- results:begin -->`` and ``<!-- results:end -->`` is replaced, by a short headline table with links to
the page and to the hand-written lab notes (``docs/findings.md``), and that between ``<!-- answer:begin -->`` and
``<!-- answer:end -->``, under the first paragraph, by the answer to the paper's question (:func:`answer`).
Sentences in the "findings" list are generated from the paired tests, so they change when the numbers do.

    python scripts/report.py [--study runs/default] [--ablations runs/ablations] [--readme README.md]
                             [--page docs/results.md] [--power runs/power/pooled.md] [--check]

``--check`` writes nothing and exits 1 when either file is not what the script would write, naming it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd

from aelib.ablations import pool_seeds, pooled_question as pooled_question_lines, pooled_verdict
from aelib.errors import guard
from aelib.config import PARADIGMS, TASKS
from aelib.results import collect, reproduction_record, run_times, study_info, task_kinds
from aelib.results.sections import (TASK_NAMES, competence, equal_budget, findings, headline_table, read_markdown,
                                    read_table, significant)
from aelib.study import finished_runs
from aelib.results.power import power_table
from aelib.results.targets import from_scratch_minutes, per_task, question_lines, target_markdown, target_table

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
ANSWER = "<!-- answer:begin -->", "<!-- answer:end -->"  # the front page's answer, under its first paragraph
FINDINGS = "findings.md"  # the hand-written reading of the tables, beside the results page
POWER = Path("runs/power/pooled.md")  # `make power`: every task on seeds 0-5 (scripts/pooled_seeds.py)
LEVERS = "levers.md"  # beside FINDINGS; its section COSTS_ANCHOR says what each unmet target would cost
COSTS_ANCHOR = "what-the-unmet-goals-would-cost"


def _link(target: Path, start: Path) -> str:
    """``target`` relative to the folder ``start`` (a Markdown file's links resolve from its own folder)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _notebook_seconds(study: Path) -> pd.DataFrame | None:
    """Per run: the executed notebook's wall seconds. From the run folders (:func:`aelib.results.run_times`)
    where their notebooks are; a clone has only the table the results notebook wrote from them, which also fills
    the runs a partial rerun on a clone did not execute."""
    rt = run_times(study)
    table = read_table(study / "results" / "run_times.csv")
    if rt.empty or not rt["notebook_seconds"].notna().any():
        return table
    if table is not None and rt["notebook_seconds"].isna().any():
        key = ["task", "paradigm", "seed"]
        old = rt[key].merge(table[key + ["notebook_seconds"]], on=key, how="left")["notebook_seconds"]
        rt = rt.assign(notebook_seconds=rt["notebook_seconds"].fillna(old.set_axis(rt.index)))
    return rt


def performance(study: Path, bench_path: Path) -> list[str]:
    """Study wall time and memory, training seconds per task x paradigm, and the benchmark's throughput."""
    info = study_info(study)
    out = []
    if info.get("wall_seconds"):
        mem = f"; peak resident memory of the runner and its runs {info['peak_rss_mb'] / 1024:.1f} GB" \
            if info.get("peak_rss_mb") else ""
        out.append(f"Study wall time **{info['wall_seconds'] / 60:.1f} min** {_over_invocations(info)}"
                   f"with {info.get('workers')} workers x "
                   f"{info.get('threads_per_worker')} thread (target < 90 min){mem}.")
    rt = _notebook_seconds(study)
    if rt is not None and rt["notebook_seconds"].notna().any():
        w = info.get("workers") or 2
        per_seed = rt.groupby("seed")["notebook_seconds"].sum() / w / 60
        share = rt.groupby("task")["notebook_seconds"].sum() / rt["notebook_seconds"].sum()
        out += ["", "Cost per seed, as the sum of its runs' notebook wall times over the workers (a study's own cost, "
                "without the time a worker waits for the last runs): "
                + ", ".join(f"seed {k} {v:.1f} min" for k, v in per_seed.items())
                + f"; all seeds {per_seed.sum():.1f} min; share of the total by task: "
                + ", ".join(f"{k} {v:.0%}" for k, v in share.items()) + "."]
    train = run_times(study)
    if not train.empty:
        t = train.assign(seconds=train["train_seconds"].astype(float)).pivot_table(
            index="paradigm", columns="task", values="seconds", aggfunc="mean")
        t = t.reindex([p for p in PARADIGMS if p in t.index]).reindex(columns=sorted(t.columns))
        out += ["", "Training seconds per run (mean over seeds; shared stages counted once, in the run that made "
                "them; evaluation not included):", "",
                "| paradigm | " + " | ".join(t.columns) + " |", "|---|" + "---:|" * len(t.columns)]
        out += [f"| {p} | " + " | ".join(f"{v:.0f}" for v in r) + " |" for p, r in t.iterrows()]
    if bench_path.exists():
        b = json.loads(bench_path.read_text())
        rtf = b.get("ae_rtf", {})
        models = ", ".join(f"{m['name']} {m['train_clips_per_s']:.1f}" for m in b.get("models", []))
        peak = max((m.get("peak_mb", 0) for m in b.get("memory", [])), default=0)
        out += ["", f"`python scripts/benchmark.py` ({b['machine']['threads']} thread, `{bench_path}`): AE real-time "
                f"factor {rtf.get('rtf', math.nan):.4f} on {rtf.get('audio_seconds', 10):g} s of audio (target <= 0.01); "
                f"training clips/s at the preset's batch sizes: {models}; peak memory of one training step "
                f"(single or joint) {peak / 1024:.1f} GB."]
    return out


def _over_invocations(info: dict, scratch: dict | None = None) -> str:
    """Say when a wall time is a sum over invocations, which is not the time of one from-scratch run, and what
    the from-scratch rerun of ``scratch`` (the study's ``reproduction.json``) took in one, when it reran them all."""
    n = len(info.get("invocations") or [])
    if n < 2:
        return ""
    minutes = from_scratch_minutes(scratch, finished_runs(info))
    once = f"; from scratch in one: {minutes:.1f} min, the budget row below" if math.isfinite(minutes) else ""
    return f"(summed over {n} invocations, listed on the results page{once}) "


def invocations(info: dict) -> list[str]:
    """The commands that made a study over several invocations, with their wall times (study_info.json)."""
    inv = info.get("invocations") or []
    if len(inv) < 2:
        return []
    return [f"The study was made in {len(inv)} invocations (the wall time above is their sum):", ""] + [
        f"{i}. `{v.get('command') or '?'}`: {float(v.get('wall_seconds') or 0) / 60:.1f} min, {v.get('status')}"
        + (f"; {v['note']}" if v.get("note") else "") for i, v in enumerate(inv, 1)] + [""]


def study_line(study: Path) -> list[str]:
    """The reference study's command, size, wall time and status (and what is missing), from study_info.json."""
    info = study_info(study)
    wall = info.get("wall_seconds")
    if not wall:
        return ["The reference study has not been run."]
    return [
        f"**The reference study**: `make study` (= `python -m aelib.study --preset {info.get('preset', 'small')} "
        f"--seeds {' '.join(map(str, info.get('seeds', [])))} --workers {info.get('workers', '?')}`): "
        f"{finished_runs(info)} runs ({len(info.get('tasks', []))} tasks x {len(info.get('paradigms', []))} paradigms x "
        f"{len(info.get('seeds', []))} seeds), wall time **{wall / 60:.1f} min** on this 2-core machine "
        f"{_over_invocations(info, reproduction_record(study))}(status: {info.get('status', 'n/a')})."
        + (f" Peak memory {info['peak_rss_mb'] / 1024:.1f} GB." if info.get("peak_rss_mb") else ""),
        *([f"Not run: {', '.join(info['missing'])} (see `study_info.json`, which records "
           f"{len(info.get('invocations', [])) or 1} invocations)."] if info.get("missing") else []),
    ]


def targets_block(df: pd.DataFrame, here: Path, levers: str = LEVERS, power: Path | None = None,
                  study: Path = Path("runs/default"), pooled: pd.DataFrame | None = None) -> list[str]:
    """The targets of the decisive study, each beside its measured value (aelib.results.targets); ``levers``:
    the link, from the page's folder ``here``, to what reaching the unmet ones would cost. The power row adds
    the pooled seeds of ``make power`` (``pooled``, or :func:`pooled_cells` of ``power``) and the budget row reads
    ``study``'s ``reproduction.json``."""
    if df.empty:
        return []
    pooled = pooled_cells(power, study) if pooled is None else pooled
    return ["Targets of the decisive study (means over seeds of test scores, never used for a choice; "
            "`aelib/results/targets.py`):",
            "", *target_markdown(df, pooled, reproduction_record(study)), "",
            f"What reaching an unmet goal would cost, as measured: [{levers}]({levers}#{COSTS_ANCHOR}).", "",
            "The paper's question, per task: does `iterative` beat the alternatives on the noisy grid? (seed-level "
            "paired t-tests, mean over the noisy test grid)", "", *question_lines(df), "",
            *pooled_question(here, power, pooled)]


def pooled_cells(power: Path | None, study: Path = Path("runs/default")) -> pd.DataFrame | None:
    """The cells of ``make power``'s seeds 3-5 (beside ``power``, the page ``scripts/pooled_seeds.py`` wrote)
    pooled with ``study``'s 0-2 by :func:`aelib.ablations.pool_seeds`; None when ``power`` is absent."""
    if not (power and power.exists() and (power.parent / "default").is_dir()):
        return None
    return pool_seeds([Path(study).parent, power.parent])[0]


def pooled_question(here: Path, power: Path | None, pooled: pd.DataFrame | None) -> list[str]:
    """The paper's question on the pooled seeds (:func:`pooled_cells`), or nothing when there are none."""
    lines = pooled_question_lines(pooled) if pooled is not None else []
    if not lines:
        return []
    verdict = pooled_verdict(pooled)
    return [f"With three more seeds (`make power`: seeds 3-5 of {_tasks_named(power)}, "
            f"pooled with seeds 0-2; every arm, the equal-budget pair included: [{power.name}]({_link(power, here)}))"
            + (f": **{verdict}** (p < 0.05):" if verdict else ":"), "", *lines, ""]


def _tasks_named(power: Path) -> str:
    """"kws, asr, ser and asc": the tasks ``make power`` ran beside ``power`` (its ``default/`` folders, which
    :func:`aelib.ablations.pool_seeds` pools by default), in the study's order."""
    names = [t for t in TASKS if (power.parent / "default" / t).is_dir()]
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1] if names else ""]))


def _generated_by(study: Path, ablations: Path) -> str:
    return f"Generated by `python scripts/report.py` from `{study}/` and `{ablations}/`; do not edit by hand."


def results_page(study: Path, ablations: Path, bench: Path = Path("runs/benchmark.json"),
                 page: Path = Path("docs/results.md"), readme: Path = Path("README.md"), power: Path | None = None,
                 pooled: pd.DataFrame | None = None) -> str:
    """The full results page: every table and figure of the study, the ablations and ``power`` (the pooled
    seeds of ``make power``, when given and present; ``pooled``: their cells, if already pooled); figure paths
    are relative to the page's folder."""
    res = study / "results"
    here = page.parent
    df = collect(study)
    parts = [
        "# Results of the reference study",
        "",
        _generated_by(study, ablations) + f" The headline is in the [README]({_link(readme, here)}); "
        f"the reading of these tables, written by hand, in [{FINDINGS}]({FINDINGS}).",
        "",
        *study_line(study),
        "",
        *invocations(study_info(study)),
        "All speech in training is synthetic (TTS); `real` rows are recorded speech (test only). Scores are on "
        "synthetic test voices unless a table says `real`; mean ± 95 % CI over seeds.",
        "",
        "## Targets (issue 23)",
        "",
        *targets_block(df, here, power=power, study=study, pooled=pooled),
        significant(study),
        "",
        "## Are the baselines competent?",
        "",
        *competence(study, df),
        "",
        "## Findings (generated from the paired tests)",
        "",
        *(findings(study, ablations) or ["_(no paired tests yet)_"]),
        "",
    ]
    for task in TASK_NAMES:
        p = res / f"by_snr_{task}.md"
        if p.exists():
            parts += [f"## {task}: primary metric by test SNR (all test noise)", "", read_markdown(p), "",
                      f"![{task} vs SNR]({_link(res / f'{task}_vs_snr.png', here)})", ""]
    figures = {"importance_summary": ("importance_weights", "importance weights"),
               "cross_task": ("cross_task", "cross-task matrix")}
    for name, title in (("seen_vs_unseen", "Seen vs unseen noise types (mean over the SNR grid)"),
                        ("synthetic_vs_real", "Synthetic vs real recorded test speech"),
                        ("by_source", "By test voice: `clean_audio` is the `clean` CA on clean audio, the paradigm "
                         "columns the noisy-grid mean (`espeak*`: the six unseen espeak voices together)"),
                        ("ae_quality", "AE quality on the noisy test grid (enhanced vs input)"),
                        ("ae_by_noise_type", "SI-SDR improvement (dB) per test noise type, over the noisy test grid"),
                        ("score_by_noise_type", "Per-utterance score per test noise type (correct or not; asr: the "
                         "utterance's WER), over the noisy test grid"),
                        ("paired_vs_iterative", "Paired tests: iterative minus each other paradigm"),
                        ("importance_summary", "Importance weights per round"),
                        ("cross_task", "Cross-task matrix: AE trained for row task, CA of column task")):
        if (res / f"{name}.md").exists():
            parts += [f"## {title}", "", read_markdown(res / f"{name}.md"), ""]
            if name in figures and (res / f"{figures[name][0]}.png").exists():
                parts += [f"![{figures[name][1]}]({_link(res / f'{figures[name][0]}.png', here)})", ""]
    fig4 = sorted(res.glob("figure4_*.png"))
    if fig4:
        parts += ["## Figure 4 (clean | noisy | enhanced, shared colour scale; `notebooks/03_demo.ipynb`)", "",
                  *[f"![Figure 4, {p.stem.split('_', 1)[1]}]({_link(p, here)})" for p in fig4], ""]
    parts += ["## Performance", "", *performance(study, bench), ""]
    if (study / "reproduction.md").exists():
        parts += ["## Reproduction (`python scripts/compare_studies.py`)", "", read_markdown(study / "reproduction.md"), ""]
    if power and power.exists():
        tasks = _tasks_named(power)
        parts += [f"## More seeds{' for ' + tasks if tasks else ''} (`make power`)", "", read_markdown(power), ""]
    if (ablations / "bands.md").exists():
        parts += ["## Ablations at equal budgets (`python -m aelib.ablations`)", "",
                  "Primary metric by SNR band and noise split, mean over seeds:", "", read_markdown(ablations / "bands.md"), "",
                  *(["Primary metric over the noisy grid per test voice, mean over seeds (`espeak*`: the six unseen "
                     "espeak voices):", "", read_markdown(ablations / "voices.md"), ""] if (ablations / "voices.md").exists() else []),
                  "Paired tests, `iterative` (default ratio weights) minus each arm:", "", read_markdown(ablations / "paired.md"), "",
                  "Validation (the best score of each arm's last phase; the only basis for choosing a weighting):", "",
                  read_markdown(ablations / "validation.md"), ""]
    return "\n".join(parts).rstrip() + "\n"


def headline(study: Path, ablations: Path, page: Path = Path("docs/results.md"),
             readme: Path = Path("README.md"), power: Path | None = None, pooled: pd.DataFrame | None = None) -> str:
    """The README's block: the study line, one headline table, and links to the results page and the lab notes
    (``pooled``: the cells of ``power``'s seeds, if already pooled)."""
    here = readme.parent
    info = study_info(study)
    df = collect(study)
    kinds = {} if df.empty else task_kinds(df)  # asc's scenes are real recordings
    real = [t for t in TASK_NAMES if kinds.get(t) == "real"]
    seeds = len(info.get("seeds", [])) or "the"
    parts = [
        _generated_by(study, ablations),
        f"Every table and figure (per SNR, seen and unseen noise, synthetic and real speech, per voice, AE quality, "
        f"paired tests, importance weights, cross-task, timings, ablations): [{_link(page, here)}]({_link(page, here)}); "
        f"the reading of them, written by hand (lab notes): "
        f"[{_link(page.parent / FINDINGS, here)}]({_link(page.parent / FINDINGS, here)}).",
        "",
        *study_line(study),
        "",
        *targets_block(df, here, _link(page.parent / LEVERS, here), power, study, pooled),
        f"Primary metric, mean ± 95 % CI over {seeds} seeds: the `clean` CA on clean test audio, and each paradigm's "
        "mean over the noisy test grid (every test SNR, seen and unseen noise types; the best in bold). Test speech is "
        "synthetic voices unseen in training"
        + (f"; {', '.join(real)} {'is' if len(real) == 1 else 'are'} scored on real recordings." if real else "."),
        "",
        *headline_table(study, df),
    ]
    extra = [x for x in (equal_budget(ablations),) if x]
    if extra:
        parts += [line for x in extra for line in ("", x)]
    return "\n".join(parts).rstrip() + "\n"


def answer(study: Path, power: Path | None = None, levers: str = f"docs/{LEVERS}",
           pooled: pd.DataFrame | None = None) -> str:
    """The README's answer under its first paragraph: the paper's question on the pooled seeds of ``make power``
    (:func:`aelib.ablations.pooled_verdict`), the differences they resolve, and how many of the study's goals are
    met (``levers``: the link, from the README's folder, to what the others would cost); a pointer to the Results
    alone when there are no pooled seeds (``pooled``: their cells, if already pooled)."""
    pooled = pooled_cells(power, study) if pooled is None else pooled
    verdict = pooled_verdict(pooled) if pooled is not None and not pooled.empty else ""
    if not verdict:
        return "The paper's question, answered by the reference study: [Results](#results).\n"
    df = collect(study)
    goals = target_table(df, pooled, reproduction_record(study)).dropna(subset=["met"])
    met = goals.loc[goals["met"].astype(bool), "short"]
    return (f"**The answer so far** (the reference study and `make power`'s seeds pooled, on {_tasks_named(power)}; "
            f"generated from the runs, see [Results](#results)): {verdict} (p < 0.05; the smallest paired difference "
            f"resolved, {per_task(power_table(pooled).set_index('task'), 'resolved')}). Of the study's {len(goals)} "
            "goals (competent baselines, a strong front-end, stable seeds, the budget) it meets "
            f"{len(met)}" + (f": {', '.join(met)}" if len(met) else "") + "; what reaching each of the others would "
            f"cost is [measured]({levers}#{COSTS_ANCHOR}).\n")


def _replace(text: str, marks: tuple[str, str], block: str) -> str | None:
    """``text`` with what lies between the two ``marks`` replaced by ``block``; None when a mark is missing."""
    begin, end = marks
    if begin not in text or end not in text:
        return None
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + block + end + tail


def _readme_text(readme: Path, block: str, answer_block: str | None = None) -> str | None:
    """README with its results block (and, given one, its answer block, where it has the marks) replaced."""
    text = _replace(readme.read_text(), (BEGIN, END), block)
    if text is not None and answer_block is not None:
        text = _replace(text, ANSWER, answer_block) or text
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="runs/default")
    p.add_argument("--ablations", default="runs/ablations")
    p.add_argument("--readme", default="README.md")
    p.add_argument("--page", default="docs/results.md", help="the full results page (written whole)")
    p.add_argument("--bench", default="runs/benchmark.json")
    p.add_argument("--power", default=str(POWER), help="the pooled seeds of `make power` (skipped if absent)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    a = p.parse_args()
    study, ablations, readme, page = Path(a.study), Path(a.ablations), Path(a.readme), Path(a.page)
    if not (study / "study_info.json").is_file():
        raise FileNotFoundError(f"no study at {study} (no study_info.json): --study takes a folder such as runs/default")
    power = Path(a.power)
    pooled = pooled_cells(power, study)  # once for the README's two blocks and the page
    new_readme = _readme_text(readme, headline(study, ablations, page, readme, power, pooled),
                              answer(study, power, _link(page.parent / LEVERS, readme.parent), pooled))
    if new_readme is None:
        print(f"{readme} has no {BEGIN} ... {END} block", file=sys.stderr)
        return 2
    new_page = results_page(study, ablations, Path(a.bench), page, readme, power, pooled)
    outputs = ((readme, new_readme), (page, new_page))
    if a.check:
        stale = [str(path) for path, new in outputs if not path.exists() or path.read_text() != new]
        for path in stale:
            print(f"{path} is stale: run `python scripts/report.py` (make report)", file=sys.stderr)
        return 1 if stale else 0
    page.parent.mkdir(parents=True, exist_ok=True)
    for path, new in outputs:
        path.write_text(new)
    print(f"wrote {page} and the results block of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(guard(main)())
