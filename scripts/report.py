"""Write the generated results from the committed study outputs (nothing typed by hand): the full results
page ``docs/results.md`` and the headline block of README.md.

Reads ``runs/<study>/study_info.json``, the run summaries and the tables the results notebook wrote to
``runs/<study>/results/`` (``python -m aelib.study``), and the ablation tables in ``runs/ablations/``
(``python -m aelib.ablations``). The results page (every table and figure) is written whole; in README.md
only the text between ``<!-- results:begin -->`` and ``<!-- results:end -->`` is replaced, by a short
headline table with links to the page and to the hand-written lab notes (``docs/findings.md``).
Sentences in the "findings" list are generated from the paired tests, so they change when the numbers do.

    python scripts/report.py [--study runs/default] [--ablations runs/ablations] [--readme README.md]
                             [--page docs/results.md] [--check]

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

from aelib.errors import guard
from aelib.config import PARADIGMS
from aelib.layout import find_run_dirs
from aelib.results import seed_mean, collect, collect_sources, run_times, study_info, task_kinds
from aelib.study import finished_runs
from aelib.results.targets import question_lines, target_markdown

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
TASK_NAMES = {"kws": "keyword spotting", "asr": "speech recognition", "ser": "emotion recognition",
              "asc": "scene classification"}
ALPHA = 0.05
FINDINGS = "findings.md"  # the hand-written reading of the tables, beside the results page
LEVERS = "levers.md"  # beside FINDINGS; its section COSTS_ANCHOR says what each unmet target would cost
COSTS_ANCHOR = "what-the-unmet-goals-would-cost"


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def _md(path: Path) -> str:
    return path.read_text().strip() if path.exists() else "_(missing: run the study)_"


def _num(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _link(target: Path, start: Path) -> str:
    """``target`` relative to the folder ``start`` (a Markdown file's links resolve from its own folder)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _chance(study: Path, task: str) -> str:
    """1 / number of labels, from the ``clean`` runs' metrics.json (asr has no chance level)."""
    meta = [json.loads((d / "metrics.json").read_text()) for _, d in find_run_dirs(study, [task], ["clean"])
            if (d / "metrics.json").exists()]
    n_labels = meta[0].get("n_labels") if meta else None
    return f"{1 / n_labels:.3f}" if n_labels and task != "asr" else "n/a"


def competence(study: Path) -> list[str]:
    """Clean-test score of every task's ``clean`` CA (vs chance), and the AE's SI-SDR gain on unseen noise."""
    df = collect(study)
    if df.empty:
        return ["_(missing: run the study)_"]
    kinds = task_kinds(df)  # asc's scenes are real recordings
    src = collect_sources(study)
    lines = ["| task | metric | `clean` CA on clean test audio | worst / best test voice (mean over seeds) | chance "
             "| `cascade` AE: SI-SDR gain on unseen noise types, dB |", "|---|---|---:|---|---:|---:|"]
    for task in [t for t in TASK_NAMES if t in set(df["task"])]:
        sub = df[(df["task"] == task) & (df["kind"] == kinds[task])]
        metric = sub["primary_metric"].iloc[0]
        clean = sub[(sub["paradigm"] == "clean") & (sub["noise_split"] == "clean")].groupby("seed")[metric].mean()
        m, h, n = seed_mean(clean)
        un = sub[(sub["paradigm"] == "cascade") & (sub["noise_split"] == "test_unseen")]
        gain = "n/a"
        if "sisdr_delta" in un and len(un):
            gm, gh, _ = seed_mean(un.groupby("seed")["sisdr_delta"].mean())
            gain = f"{gm:+.2f} ± {_num(gh, 2)}"
        spread = _extremes(src, task, kinds[task], bool(sub["higher_is_better"].iloc[0]))
        lines.append(f"| {task} | {metric} | {_num(m)} ± {_num(h)} ({n} seeds) | {spread} | {_chance(study, task)} "
                     f"| {gain} |")
    return lines


def _extremes(src: pd.DataFrame, task: str, kind: str, higher_is_better: bool) -> str:
    """The worst and best test voice (or family of voices) of the ``clean`` CA on clean audio: a pooled score
    can hide that a model generalises to some unseen voices and not to others (:func:`aelib.evaluate.by_source`)."""
    if src.empty:
        return "n/a"
    sub = src[(src["task"] == task) & (src["kind"] == kind) & (src["paradigm"] == "clean")
              & (src["condition"] == "clean")]
    by = sub.groupby("source")["value"].mean().sort_values(ascending=higher_is_better)
    if len(by) < 2:
        return "n/a"
    return f"{_num(by.iloc[0])} (`{by.index[0]}`) / {_num(by.iloc[-1])} (`{by.index[-1]}`)"


def findings(study: Path, ablations: Path) -> list[str]:
    """One generated sentence per task and comparison, from the utterance-level paired tests."""
    out = []
    paired = _read(study / "results" / "paired_vs_iterative.csv")
    if paired is not None and not paired.empty:
        for task in [t for t in TASK_NAMES if t in set(paired["task"])]:
            sub = paired[(paired["task"] == task)]
            parts = []
            for other in sub["paradigm"].unique():
                s = sub[(sub["paradigm"] == other) & (sub["level"] == "seed")]
                u = sub[(sub["paradigm"] == other) & (sub["level"] == "utterance")]
                if s.empty:
                    continue
                s, metric = s.iloc[0], s.iloc[0]["metric"]
                verdict = "better" if s["reference_better"] else "worse"
                sig = ""
                if len(u):
                    sig = f"; per utterance {_p(u.iloc[0]['p'])}"
                parts.append(f"{verdict} than `{other}` ({metric} {_num(s['reference_mean'])} vs "
                             f"{_num(s['other_mean'])}, seeds {_p(s['p'])}{sig})")
            out.append(f"- **{task}** ({TASK_NAMES[task]}), mean over the noisy test grid: `iterative` is "
                       + "; ".join(parts) + ".")
    ab = _read(ablations / "paired.csv")
    if ab is not None and not ab.empty:
        for task in [t for t in TASK_NAMES if t in set(ab["task"])]:
            sub = ab[(ab["task"] == task) & (ab["level"] == "utterance")]
            parts = []
            for _, r in sub.iterrows():
                if r["paradigm"] == "iterative":
                    continue
                verdict = "better" if r["reference_better"] else "worse"
                parts.append(f"{verdict} than {r['paradigm']} ({r['metric']} {_num(r['reference_mean'])} vs "
                             f"{_num(r['other_mean'])}, {_p(r['p'])})")
            if parts:
                out.append(f"- ablations, **{task}**: `iterative` (ratio weights) is " + "; ".join(parts) + ".")
    return out


def _notebook_seconds(study: Path) -> pd.DataFrame | None:
    """Per run: the executed notebook's wall seconds. From the run folders (:func:`aelib.results.run_times`)
    while their notebooks are there; a clone has only the table the results notebook wrote from them."""
    rt = run_times(study)
    if not rt.empty and rt["notebook_seconds"].notna().any():
        return rt
    return _read(study / "results" / "run_times.csv")


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


def _over_invocations(info: dict) -> str:
    """Say when a wall time is a sum over invocations, which is not the time of one from-scratch run."""
    n = len(info.get("invocations") or [])
    return f"(summed over {n} invocations, listed on the results page) " if n > 1 else ""


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
        f"{_over_invocations(info)}(status: {info.get('status', 'n/a')})."
        + (f" Peak memory {info['peak_rss_mb'] / 1024:.1f} GB." if info.get("peak_rss_mb") else ""),
        *([f"Not run: {', '.join(info['missing'])} (see `study_info.json`, which records "
           f"{len(info.get('invocations', [])) or 1} invocations)."] if info.get("missing") else []),
    ]


def targets_block(df: pd.DataFrame, levers: str = LEVERS) -> list[str]:
    """The targets of the decisive study, each beside its measured value (aelib.results.targets); ``levers``:
    the link, from the page's folder, to what reaching the unmet ones would cost."""
    if df.empty:
        return []
    return ["Targets of the decisive study (means over seeds of test scores, never used for a choice; "
            "`aelib/results/targets.py`):",
            "", *target_markdown(df), "",
            f"What reaching an unmet goal would cost, as measured: [{levers}]({levers}#{COSTS_ANCHOR}).", "",
            "The paper's question, per task: does `iterative` beat the alternatives on the noisy grid? (seed-level "
            "paired t-tests, mean over the noisy test grid)", "", *question_lines(df), ""]


def _generated_by(study: Path, ablations: Path) -> str:
    return f"Generated by `python scripts/report.py` from `{study}/` and `{ablations}/`; do not edit by hand."


def results_page(study: Path, ablations: Path, bench: Path = Path("runs/benchmark.json"),
                 page: Path = Path("docs/results.md"), readme: Path = Path("README.md")) -> str:
    """The full results page: every table and figure of the study and the ablations (figure paths are
    relative to the page's folder)."""
    res = study / "results"
    here = page.parent
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
        *targets_block(collect(study)),
        significant(study),
        "",
        "## Are the baselines competent?",
        "",
        *competence(study),
        "",
        "## Findings (generated from the paired tests)",
        "",
        *(findings(study, ablations) or ["_(no paired tests yet)_"]),
        "",
    ]
    for task in TASK_NAMES:
        p = res / f"by_snr_{task}.md"
        if p.exists():
            parts += [f"## {task}: primary metric by test SNR (all test noise)", "", _md(p), "",
                      f"![{task} vs SNR]({_link(res / f'{task}_vs_snr.png', here)})", ""]
    figures = {"importance_summary": ("importance_weights", "importance weights"),
               "cross_task": ("cross_task", "cross-task matrix")}
    for name, title in (("seen_vs_unseen", "Seen vs unseen noise types (mean over the SNR grid)"),
                        ("synthetic_vs_real", "Synthetic vs real recorded test speech"),
                        ("by_source", "By test voice: `clean_audio` is the `clean` CA on clean audio, the paradigm "
                         "columns the noisy-grid mean (`espeak*`: the six unseen espeak voices together)"),
                        ("ae_quality", "AE quality on the noisy test grid (enhanced vs input)"),
                        ("paired_vs_iterative", "Paired tests: iterative minus each other paradigm"),
                        ("importance_summary", "Importance weights per round"),
                        ("cross_task", "Cross-task matrix: AE trained for row task, CA of column task")):
        if (res / f"{name}.md").exists():
            parts += [f"## {title}", "", _md(res / f"{name}.md"), ""]
            if name in figures and (res / f"{figures[name][0]}.png").exists():
                parts += [f"![{figures[name][1]}]({_link(res / f'{figures[name][0]}.png', here)})", ""]
    fig4 = sorted(res.glob("figure4_*.png"))
    if fig4:
        parts += ["## Figure 4 (clean | noisy | enhanced, shared colour scale; `notebooks/03_demo.ipynb`)", "",
                  *[f"![Figure 4, {p.stem.split('_', 1)[1]}]({_link(p, here)})" for p in fig4], ""]
    parts += ["## Performance", "", *performance(study, bench), ""]
    if (study / "reproduction.md").exists():
        parts += ["## Reproduction (`python scripts/compare_studies.py`)", "", _md(study / "reproduction.md"), ""]
    if (ablations / "bands.md").exists():
        parts += ["## Ablations at equal budgets (`python -m aelib.ablations`)", "",
                  "Primary metric by SNR band and noise split, mean over seeds:", "", _md(ablations / "bands.md"), "",
                  *(["Primary metric over the noisy grid per test voice, mean over seeds (`espeak*`: the six unseen "
                     "espeak voices):", "", _md(ablations / "voices.md"), ""] if (ablations / "voices.md").exists() else []),
                  "Paired tests, `iterative` (default ratio weights) minus each arm:", "", _md(ablations / "paired.md"), "",
                  "Validation (the best score of each arm's last phase; the only basis for choosing a weighting):", "",
                  _md(ablations / "validation.md"), ""]
    return "\n".join(parts).rstrip() + "\n"


def _task_meta(study: Path, task: str) -> tuple[str, bool] | None:
    """(primary metric, higher is better) from one of the task's run summaries."""
    for _, d in find_run_dirs(study, [task], PARADIGMS):
        if (d / "metrics.json").exists():
            m = json.loads((d / "metrics.json").read_text())
            return m["primary_metric"], bool(m["higher_is_better"])
    return None


def headline_table(study: Path) -> list[str]:
    """Per task: the ``clean`` CA on clean audio and every paradigm's mean over the noisy test grid
    (the ``avg`` column of the per-task tables), mean ± 95 % CI over seeds; the best paradigm in bold."""
    rows, paradigms = {}, []
    for task in TASK_NAMES:
        t, meta = _read(study / "results" / f"by_snr_{task}.csv"), _task_meta(study, task)
        if t is None or meta is None:
            continue
        t = t[t["noise_split"] == "all"]
        rows[task] = (meta, t)
        paradigms += [p for p in t["paradigm"] if p not in paradigms]
    if not rows:
        return ["_(missing: run the study)_"]
    paradigms = [p for p in PARADIGMS if p in paradigms] + [p for p in paradigms if p not in PARADIGMS]
    lines = ["| task | metric | chance | `clean` CA on clean audio | " + " | ".join(f"`{p}`" for p in paradigms) + " |",
             "|---|---|---:|---:|" + "---:|" * len(paradigms)]
    for task, ((metric, higher), t) in rows.items():
        avg = t[t["condition"] == "avg"].set_index("paradigm")
        clean = t[(t["paradigm"] == "clean") & (t["condition"] == "clean")]
        best = avg["mean"].idxmax() if higher else avg["mean"].idxmin()
        cells = []
        for p in paradigms:
            cell = f"{_num(avg.loc[p, 'mean'])} ± {_num(avg.loc[p, 'ci'])}" if p in avg.index else "–"
            cells.append(f"**{cell}**" if p == best else cell)
        c = f"{_num(clean['mean'].iloc[0])} ± {_num(clean['ci'].iloc[0])}" if len(clean) else "–"
        lines.append(f"| {task} | {metric} {'↑' if higher else '↓'} | {_chance(study, task)} | {c} | "
                     + " | ".join(cells) + " |")
    return lines


def significant(study: Path) -> str:
    """Which seed-level paired tests of ``iterative`` against another paradigm reach p < ALPHA."""
    paired = _read(study / "results" / "paired_vs_iterative.csv")
    if paired is None or paired.empty:
        return ""
    s = paired[(paired["level"] == "seed") & (paired["p"] < ALPHA)]
    parts = []
    for task in [t for t in TASK_NAMES if t in set(paired["task"])]:
        sub = s[s["task"] == task]
        if len(sub):
            parts.append(f"{task} " + ", ".join(f"{'better' if r['reference_better'] else 'worse'} than `{r['paradigm']}`"
                                                for _, r in sub.iterrows()))
    n = len(paired[paired["level"] == "seed"])
    return (f"Seed-level paired t-tests of `iterative` against each other paradigm with p < {ALPHA:g} "
            f"({len(s)} of {n}): " + ("; ".join(parts) if parts else "none") + ".")


def equal_budget(ablations: Path) -> str:
    """The paper's question at equal budgets: ``iterative`` against the cascade trained as long (bands.csv)."""
    b = _read(ablations / "bands.csv")
    if b is None or b.empty:
        return ""
    parts = []
    for task in [t for t in TASK_NAMES if t in set(b["task"])]:
        sub = b[b["task"] == task].set_index("arm")
        if {"iterative", "cascade (equal budget)"} <= set(sub.index):
            parts.append(f"{task} {_num(sub.loc['iterative', 'all noisy'])} against "
                         f"{_num(sub.loc['cascade (equal budget)', 'all noisy'])}")
    if not parts:
        return ""
    return ("At equal budgets (`make ablations`), `iterative` against the cascade that trains the AE and the CA for as "
            "many epochs, noisy-grid mean: " + "; ".join(parts) + ".")


def headline(study: Path, ablations: Path, page: Path = Path("docs/results.md"),
             readme: Path = Path("README.md")) -> str:
    """The README's block: the study line, one headline table, and links to the results page and the lab notes."""
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
        *targets_block(df, _link(page.parent / LEVERS, here)),
        f"Primary metric, mean ± 95 % CI over {seeds} seeds: the `clean` CA on clean test audio, and each paradigm's "
        "mean over the noisy test grid (every test SNR, seen and unseen noise types; the best in bold). Test speech is "
        "synthetic voices unseen in training"
        + (f"; {', '.join(real)} {'is' if len(real) == 1 else 'are'} scored on real recordings." if real else "."),
        "",
        *headline_table(study),
    ]
    extra = [x for x in (equal_budget(ablations),) if x]
    if extra:
        parts += [line for x in extra for line in ("", x)]
    return "\n".join(parts).rstrip() + "\n"


def _readme_text(readme: Path, block: str) -> str | None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return None
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + block + END + tail


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="runs/default")
    p.add_argument("--ablations", default="runs/ablations")
    p.add_argument("--readme", default="README.md")
    p.add_argument("--page", default="docs/results.md", help="the full results page (written whole)")
    p.add_argument("--bench", default="runs/benchmark.json")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    a = p.parse_args()
    study, ablations, readme, page = Path(a.study), Path(a.ablations), Path(a.readme), Path(a.page)
    if not (study / "study_info.json").is_file():
        raise FileNotFoundError(f"no study at {study} (no study_info.json): --study takes a folder such as runs/default")
    new_readme = _readme_text(readme, headline(study, ablations, page, readme))
    if new_readme is None:
        print(f"{readme} has no {BEGIN} ... {END} block", file=sys.stderr)
        return 2
    new_page = results_page(study, ablations, Path(a.bench), page, readme)
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
