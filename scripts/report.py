"""Write the README's results section from the committed study outputs (nothing typed by hand).

Reads ``runs/<study>/study_info.json`` and the tables the results notebook wrote to
``runs/<study>/results/`` (``python -m aelib.study``), the ablation tables in ``runs/ablations/``
(``python -m aelib.ablations``), and replaces the text between ``<!-- results:begin -->`` and
``<!-- results:end -->`` in README.md. Sentences in the "findings" list are generated from the
paired tests, so they change when the numbers do.

    python scripts/report.py [--study runs/default] [--ablations runs/ablations] [--readme README.md] [--check]

``--check`` exits 1 when README.md is not what the script would write (a stale results section).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
TASK_NAMES = {"kws": "keyword spotting", "asr": "speech recognition", "ser": "emotion recognition",
              "asc": "scene classification"}
ALPHA = 0.05


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


def competence(study: Path) -> list[str]:
    """Clean-test score of every task's ``clean`` CA (vs chance), and the AE's SI-SDR gain on unseen noise."""
    from aelib.results import _ci, collect, collect_sources, task_kinds

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
        m, h, n = _ci(clean)
        meta = [json.loads(p.read_text()) for p in (study / task / "clean").glob("seed*/metrics.json")]
        n_labels = meta[0].get("n_labels") if meta else None
        chance = f"{1 / n_labels:.3f}" if n_labels and task != "asr" else "n/a"
        un = sub[(sub["paradigm"] == "cascade") & (sub["noise_split"] == "test_unseen")]
        gain = "n/a"
        if "sisdr_delta" in un and len(un):
            gm, gh, _ = _ci(un.groupby("seed")["sisdr_delta"].mean())
            gain = f"{gm:+.2f} ± {_num(gh, 2)}"
        spread = _extremes(src, task, kinds[task], bool(sub["higher_is_better"].iloc[0]))
        lines.append(f"| {task} | {metric} | {_num(m)} ± {_num(h)} ({n} seeds) | {spread} | {chance} | {gain} |")
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


def performance(study: Path, bench_path: Path) -> list[str]:
    """Study wall time and memory, training seconds per task x paradigm, and the benchmark's throughput."""
    info = json.loads((study / "study_info.json").read_text()) if (study / "study_info.json").exists() else {}
    out = []
    if info.get("wall_seconds"):
        mem = f"; peak resident memory of the runner and its runs {info['peak_rss_mb'] / 1024:.1f} GB" \
            if info.get("peak_rss_mb") else ""
        out.append(f"Study wall time **{info['wall_seconds'] / 60:.1f} min** {_over_invocations(info)}"
                   f"with {info.get('workers')} workers x "
                   f"{info.get('threads_per_worker')} thread (target < 90 min){mem}.")
    rt = _read(study / "results" / "run_times.csv")
    if rt is not None and rt["notebook_seconds"].notna().any():
        w = info.get("workers") or 2
        per_seed = rt.groupby("seed")["notebook_seconds"].sum() / w / 60
        share = rt.groupby("task")["notebook_seconds"].sum() / rt["notebook_seconds"].sum()
        out += ["", "Cost per seed, as the sum of its runs' notebook wall times over the workers (a study's own cost, "
                "without the time a worker waits for the last runs): "
                + ", ".join(f"seed {k} {v:.1f} min" for k, v in per_seed.items())
                + f"; all seeds {per_seed.sum():.1f} min; share of the total by task: " + ", ".join(f"{k} {v:.0%}" for k, v in share.items()) + "."]
    rows = []
    for m in sorted(study.glob("*/*/seed*/metrics.json")):
        d = json.loads(m.read_text())
        rows.append({"task": d["task"], "paradigm": d["paradigm"], "seconds": d.get("train_seconds", math.nan)})
    if rows:
        t = pd.DataFrame(rows).pivot_table(index="paradigm", columns="task", values="seconds", aggfunc="mean")
        t = t.reindex([p for p in ("clean", "noisy", "cascade", "joint", "iterative", "noisereduce") if p in t.index])
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
    return f"(summed over {n} invocations, listed below) " if n > 1 else ""


def invocations(info: dict) -> list[str]:
    """The commands that made a study over several invocations, with their wall times (study_info.json)."""
    inv = info.get("invocations") or []
    if len(inv) < 2:
        return []
    return [f"The study was made in {len(inv)} invocations (the wall time above is their sum):", ""] + [
        f"{i}. `{v.get('command') or '?'}`: {float(v.get('wall_seconds') or 0) / 60:.1f} min, {v.get('status')}"
        + (f"; {v['note']}" if v.get("note") else "") for i, v in enumerate(inv, 1)] + [""]


def section(study: Path, ablations: Path, bench: Path = Path("runs/benchmark.json")) -> str:
    from aelib.study import finished_runs

    info = json.loads((study / "study_info.json").read_text()) if (study / "study_info.json").exists() else {}
    n_runs = finished_runs(info)
    wall = info.get("wall_seconds")
    res = study / "results"
    parts = [
        f"Generated by `python scripts/report.py` from `{study}/` and `{ablations}/`; do not edit by hand.",
        "",
        f"**The reference study**: `make study` (= `python -m aelib.study --preset {info.get('preset', 'small')} "
        f"--seeds {' '.join(map(str, info.get('seeds', [])))} --workers {info.get('workers', '?')}`): "
        f"{n_runs} runs ({len(info.get('tasks', []))} tasks x {len(info.get('paradigms', []))} paradigms x "
        f"{len(info.get('seeds', []))} seeds), wall time **{wall / 60:.1f} min** on this 2-core machine "
        f"{_over_invocations(info)}"
        f"(status: {info.get('status', 'n/a')})." if wall else "The reference study has not been run.",
        *([f"Not run: {', '.join(info['missing'])} (see `study_info.json`, which records "
           f"{len(info.get('invocations', [])) or 1} invocations)."] if info.get("missing") else []),
        "",
        *invocations(info),
        "All speech in training is synthetic (TTS); `real` rows are recorded speech (test only). Scores are on "
        "synthetic test voices unless a table says `real`; mean ± 95 % CI over seeds.",
        "",
        "### Are the baselines competent?",
        "",
        *competence(study),
        "",
        "### Findings (generated from the paired tests)",
        "",
        *(findings(study, ablations) or ["_(no paired tests yet)_"]),
        "",
    ]
    for task in TASK_NAMES:
        p = res / f"by_snr_{task}.md"
        if p.exists():
            parts += [f"### {task}: primary metric by test SNR (all test noise)", "", _md(p), "",
                      f"![{task} vs SNR]({res}/{task}_vs_snr.png)", ""]
    for name, title in (("seen_vs_unseen", "Seen vs unseen noise types (mean over the SNR grid)"),
                        ("synthetic_vs_real", "Synthetic vs real recorded test speech"),
                        ("by_source", "By test voice: `clean_audio` is the `clean` CA on clean audio, the paradigm "
                         "columns the noisy-grid mean (`espeak*`: the six unseen espeak voices together)"),
                        ("ae_quality", "AE quality on the noisy test grid (enhanced vs input)"),
                        ("paired_vs_iterative", "Paired tests: iterative minus each other paradigm"),
                        ("importance_summary", "Importance weights per round"),
                        ("cross_task", "Cross-task matrix: AE trained for row task, CA of column task")):
        if (res / f"{name}.md").exists():
            parts += [f"### {title}", "", _md(res / f"{name}.md"), ""]
    parts += ["### Performance", "", *performance(study, bench), ""]
    if (study / "reproduction.md").exists():
        parts += ["### Reproduction (`python scripts/compare_studies.py`)", "", _md(study / "reproduction.md"), ""]
    if (ablations / "bands.md").exists():
        parts += ["### Ablations at equal budgets (`python -m aelib.ablations`)", "",
                  "Primary metric by SNR band and noise split, mean over seeds:", "", _md(ablations / "bands.md"), "",
                  *(["Primary metric over the noisy grid per test voice, mean over seeds (`espeak*`: the six unseen "
                     "espeak voices):", "", _md(ablations / "voices.md"), ""] if (ablations / "voices.md").exists() else []),
                  "Paired tests, `iterative` (default ratio weights) minus each arm:", "", _md(ablations / "paired.md"), "",
                  "Validation (the best score of each arm's last phase; the only basis for choosing a weighting):", "",
                  _md(ablations / "validation.md"), ""]
    return "\n".join(parts).rstrip() + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="runs/default")
    p.add_argument("--ablations", default="runs/ablations")
    p.add_argument("--readme", default="README.md")
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    readme = Path(a.readme)
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"{readme} has no {BEGIN} ... {END} block", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + section(Path(a.study), Path(a.ablations)) + END + tail
    if a.check:
        return 0 if new == text else 1
    readme.write_text(new)
    print(f"wrote the results section of {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
