"""Ablations of the iterative paradigm, each a small study beside the default one.

Every ablation is one paradigm with a few settings changed, run as its own study
(``runs/ablation-<name>/``) on the same tasks, seeds and test mixtures as ``runs/default``; the
shared stages (pre-trained AE, clean CA) are reused from the default study (:mod:`aelib.train`
keys them by the settings they depend on). The comparison pairs every ablation with the default
study's ``iterative`` run of the same task and seed, per seed and per test utterance.

The ablations separate the two ingredients of the paper's paradigm at equal budgets:

* ``matched``  ``cascade`` with iterative's AE and CA epochs (``budget_matched``): what more
  epochs alone give;
* ``uniform``  ``iterative`` with uniform importance: alternating rounds without the weights;
  ``matched`` vs ``uniform`` is the gain of alternating, ``uniform`` vs ``iterative`` the gain of
  the weights;
* ``softmax``  ``iterative`` with a softmax importance (the alternative weighting);
* ``rounds1``  ``iterative`` with one round of twice the epochs (same budget, fewer alternations);
* ``longer``   ``iterative`` with as many rounds as ``cascade``'s CA has epochs on enhanced audio (``ca_epochs //
  ca_epochs_per_round``; kws: 8 instead of 2): not an equal budget but an equal exposure, whether the rounds
  catch up when the CA adapts to enhanced audio as long as the cascade's does (and the AE gets a round each).

    python -m aelib.ablations --preset small --tasks kws asc --seeds 0 1 2 --workers 2

The default tasks are the two whose clean CA was strongest when the ablations were written. ``make
ablations`` adds asr and ser to the equal-budget pair (``--tasks kws asr ser asc --ablations matched
uniform``), because ``iterative`` leads ``cascade`` on both in the reference study and only the
equal-budget arms tell whether that is more than its extra epochs.

Tables go to ``runs/ablations/`` (CSV and Markdown): ``paired`` and ``bands`` on the test grid (what
each ingredient gives), ``voices`` (each arm per test voice), ``validation`` (the best validation score
of each arm's last phase: the only table on which a choice between weightings may be made). They are
rewritten only when every run behind them has its ``predictions.csv`` (a clone of the committed
summaries has none, so there the committed tables are kept; ``--tables-only`` forces a rewrite).

:func:`pool_seeds` pools the arms of several run roots that hold other seeds of the same settings (``make
power``'s seeds 3-5 beside the study's 0-2), and :func:`pooled_question` asks the paper's question on them:
``scripts/pooled_seeds.py`` writes its page from them, ``scripts/report.py`` its verdict lines.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from .config import SEEDS, TASKS, Config, make_config
from .errors import UserError, guard
from .results import (collect, collect_sources, of_task_kind, paired_vs_iterative, per_utterance, run_dirs,
                      to_markdown)
from .results.targets import question_lines
from .study import command_line, run_study

# name -> (paradigm, overrides as a function of the task's default config, label in tables)
ABLATIONS: dict[str, tuple[str, Callable[[Config], dict[str, Any]], str]] = {
    "matched": ("cascade", lambda c: {"budget_matched": True}, "cascade (equal budget)"),
    "uniform": ("iterative", lambda c: {"importance": "uniform"}, "iterative, uniform weights"),
    "softmax": ("iterative", lambda c: {"importance": "softmax"}, "iterative, softmax weights"),
    "rounds1": ("iterative", lambda c: {"rounds": 1, "ae_epochs_per_round": c.ae_epochs_per_round * c.rounds,
                                        "ca_epochs_per_round": c.ca_epochs_per_round * c.rounds},
                "iterative, 1 round (same epochs)"),
    "longer": ("iterative", lambda c: {"rounds": max(c.rounds, c.ca_epochs // c.ca_epochs_per_round)},
               "iterative, cascade's CA epochs in rounds"),
}
DEFAULT_TASKS = ("kws", "asc")  # the tasks whose clean CA is strongest on the small preset
BANDS = {"low (-10..0 dB)": (-100.0, 0.0), "high (5..20 dB)": (0.1, 100.0)}


def resolve(name: str, preset: str, task: str) -> tuple[str, dict[str, Any]]:
    """(paradigm, concrete overrides) of ablation ``name`` for ``task`` on ``preset``."""
    paradigm, over, _ = ABLATIONS[name]
    return paradigm, over(make_config(preset, task=task, paradigm="iterative"))


def run_ablations(preset: str = "small", tasks: Sequence[str] = DEFAULT_TASKS, seeds: Sequence[int] = SEEDS,
                  names: Sequence[str] = tuple(ABLATIONS), workers: int = 2, run_root: str = "runs",
                  data_dir: str = "", progress: bool = True, threads: int | None = None,
                  command: str = "") -> list[Any]:
    """Run every ablation study (finished runs are skipped); returns the StudyReports.

    ``command`` is recorded with each ablation study's invocation (study_info.json).
    """
    reports = []
    for name in names:
        paradigm = ABLATIONS[name][0]
        overrides: dict[str, Any] = {}
        for t in tasks:  # per-task scope, since "x rounds" may differ by task
            _, over = resolve(name, preset, t)
            overrides.update({f"{t}:{k}": v for k, v in over.items()})
        rep = run_study(preset, f"ablation-{name}", tasks, [paradigm], seeds, workers, data_dir, run_root,
                        overrides, results="never", progress=progress, threads=threads, command=command)
        print(rep.summary())
        reports.append(rep)
    return reports


def combined(run_root: str | Path = "runs", base: str = "default", names: Sequence[str] = tuple(ABLATIONS),
             keep: Sequence[str] | None = ("cascade", "iterative"), utterances: bool = True
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, utterances) of the base study's ``keep`` runs (None: every paradigm) plus every ablation, the
    ablations relabelled as their own "paradigm" so that :func:`aelib.results.paired_vs_iterative` applies.
    ``utterances=False`` skips reading the per-utterance predictions (an empty frame instead)."""

    root = Path(run_root)
    base_cells = collect(root / base)
    cells = [base_cells if keep is None else base_cells[base_cells["paradigm"].isin(keep)]]
    utts = [per_utterance(root / base, paradigms=keep)] if utterances else []
    for name in names:
        d = root / f"ablation-{name}"
        if not d.exists():
            continue
        label = ABLATIONS[name][2]
        c = collect(d)
        if not c.empty:
            cells.append(c.assign(paradigm=label))
            if utterances:
                utts.append(per_utterance(d).assign(paradigm=label))
    return pd.concat(cells, ignore_index=True), pd.concat(utts, ignore_index=True) if utts else pd.DataFrame()


def pool_seeds(roots: Sequence[str | Path], tasks: Sequence[str] | None = None,
               names: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """(pooled cells, each root's share of them): every arm of every root (its study ``default/`` plus the
    ablations ``names``) on the seeds of its task's ``iterative``, for arms present on all of those seeds.

    The roots must hold *different* seeds of the same settings (``make power`` runs seeds 3-5 of every task
    under ``runs/power/`` beside ``runs/``'s 0-2): a (task, paradigm, seed) in two roots is a :class:`UserError`.
    ``tasks`` and ``names`` default to what the last root holds (its tasks, its ``ablation-<name>`` folders).
    """
    roots = [Path(r) for r in roots]
    if names is None:
        names = [n for n in ABLATIONS if (roots[-1] / f"ablation-{n}").is_dir()]
    per_root = [combined(r, "default", names, keep=None, utterances=False)[0] for r in roots]
    if tasks is None:
        tasks = per_root[-1]["task"].unique()
    per_root = [cells[cells["task"].isin(tasks)] for cells in per_root]
    seen: dict[tuple[str, str, int], Path] = {}
    for root, cells in zip(roots, per_root):
        for key in cells[["task", "paradigm", "seed"]].drop_duplicates().itertuples(index=False):
            if tuple(key) in seen:
                raise UserError(f"{key} is in both {seen[tuple(key)]} and {root}: the roots must hold other seeds")
            seen[tuple(key)] = root
    cells = pd.concat(per_root, ignore_index=True)
    keep = []  # (task, arm, seed): every arm that has all of iterative's seeds, on those seeds
    for task, g in cells.groupby("task"):
        seeds = set(g.loc[g["paradigm"] == "iterative", "seed"])
        keep += [(task, p, s) for p, ps in g.groupby("paradigm")["seed"] if seeds <= set(ps) for s in seeds]
    keep_idx = pd.MultiIndex.from_tuples(keep, names=["task", "paradigm", "seed"])

    def only(c: pd.DataFrame) -> pd.DataFrame:
        return c[pd.MultiIndex.from_frame(c[["task", "paradigm", "seed"]]).isin(keep_idx)]

    return only(cells), [only(c) for c in per_root]


def pooled_question(cells: pd.DataFrame) -> list[str]:
    """The paper's question on pooled seeds (:func:`pool_seeds`): ``iterative`` against every arm but
    ``clean``, the equal-budget ones included (:func:`aelib.results.targets.question_lines`)."""
    tests = paired_vs_iterative(cells)
    if tests.empty:
        return []
    arms = tuple(p for p in tests.loc[tests["level"] == "seed", "paradigm"].unique() if p != "clean")
    return question_lines(cells, arms=arms)


def pooled_verdict(cells: pd.DataFrame, alpha: float = 0.05) -> str:
    """The paper's question in one sentence on pooled seeds: on how many tasks ``iterative`` beats the cascade
    trained as long (``matched``) and its own rounds with uniform weights (``uniform``) at p < ``alpha``, and
    where it is worse; "" when neither arm is there."""
    tests = paired_vs_iterative(cells)
    if tests.empty:
        return ""
    tests = tests[tests["level"] == "seed"]
    parts = []
    for name, what in (("matched", "the cascade trained as long"), ("uniform", "its own rounds with uniform weights")):
        t = tests[tests["paradigm"] == ABLATIONS[name][2]]
        if t.empty:
            continue
        sig = t[t["p"] < alpha]
        better, worse = sig.loc[sig["reference_better"], "task"], sig.loc[~sig["reference_better"], "task"]
        parts.append(f"{'it' if parts else '`iterative`'} beats {what} on {len(better)} of {len(t)} tasks"
                     + (f" ({', '.join(better)})" if len(better) else "")
                     + (f" and loses to it on {', '.join(worse)}" if len(worse) else ""))
    return "; ".join(parts)


def arms(run_root: str | Path = "runs", base: str = "default",
         names: Sequence[str] = tuple(ABLATIONS)) -> list[tuple[Path, str, str]]:
    """(study folder, paradigm, label) of every arm in the tables: the base study's cascade and
    iterative, then each ablation's paradigm in its own study."""
    out = [(Path(run_root) / base, p, p) for p in ("cascade", "iterative")]
    return out + [(Path(run_root) / f"ablation-{n}", ABLATIONS[n][0], ABLATIONS[n][2]) for n in names]


def missing_predictions(run_root: str | Path = "runs", base: str = "default",
                        names: Sequence[str] = tuple(ABLATIONS)) -> list[Path]:
    """Finished runs behind the tables whose ``predictions.csv`` is absent (a clone of the committed
    summaries has none): rewriting the tables without them would drop their utterance-level tests."""

    return [d for study, paradigm, _ in arms(run_root, base, names) if study.exists()
            for _, p, _, d in run_dirs(study)
            if p == paradigm and (d / "metrics.json").exists() and not (d / "predictions.csv").exists()]


def band_table(cells: pd.DataFrame, kind: str = "synthetic") -> pd.DataFrame:
    """Primary metric per task, arm and SNR band (and seen/unseen noise), mean over seeds."""

    rows = []
    noisy = of_task_kind(cells, kind)
    noisy = noisy[noisy["noise_split"] != "clean"]
    for task in [t for t in TASKS if t in set(noisy["task"])]:
        sub = noisy[noisy["task"] == task]
        metric = sub["primary_metric"].iloc[0]
        for arm in sub["paradigm"].unique():
            a = sub[sub["paradigm"] == arm]
            row = {"task": task, "metric": metric, "arm": arm, "seeds": a["seed"].nunique()}
            for band, (lo, hi) in BANDS.items():
                row[band] = a[(a["snr"] >= lo) & (a["snr"] <= hi)][metric].mean()
            for split in ("test_seen", "test_unseen"):
                row[split] = a[a["noise_split"] == split][metric].mean()
            row["all noisy"] = a[metric].mean()
            rows.append(row)
    return pd.DataFrame(rows)


def voice_table(run_root: str | Path = "runs", base: str = "default",
                names: Sequence[str] = tuple(ABLATIONS)) -> pd.DataFrame:
    """Each arm's primary metric over the noisy grid per test voice (the runs' ``by_source``), mean over
    seeds: whether a difference between arms comes from the voices the CA recognises or from those it
    does not (where every arm is near chance)."""

    frames, order = [], []
    for study, paradigm, label in arms(run_root, base, names):
        src = collect_sources(study) if study.exists() else pd.DataFrame()
        if not src.empty:
            frames.append(src[(src["paradigm"] == paradigm) & (src["condition"] == "noisy")].assign(arm=label))
            order.append(label)
    by = ["task", "kind", "source", "metric"]
    if not frames:
        return pd.DataFrame(columns=by)
    src = pd.concat(frames, ignore_index=True)
    t = src.pivot_table(index=by, columns="arm", values="value", aggfunc="mean")
    out = t.reindex(columns=[a for a in order if a in t.columns]).reset_index()
    out["seeds"] = out[by].merge(src.groupby(by)["seed"].nunique().reset_index(), on=by, how="left")["seed"]
    rank = {task: i for i, task in enumerate(TASKS)}
    return out.sort_values(["task", "kind", "source"], key=lambda c: c.map(rank) if c.name == "task" else c,
                           ignore_index=True)


def validation_table(run_root: str | Path = "runs", base: str = "default",
                     names: Sequence[str] = tuple(ABLATIONS)) -> pd.DataFrame:
    """The selection criterion for choosing between arms: the best validation score of each run's last
    phase (noisy or enhanced validation mixtures; never test data), mean and spread over seeds."""

    rows = []
    for study, paradigm, label in arms(run_root, base, names):
        if not study.exists():
            continue
        for task, p, seed, d in run_dirs(study):
            if p != paradigm or not (d / "history.json").exists():
                continue
            hist = json.loads((d / "history.json").read_text())
            last = [h for h in hist if h["phase"] == hist[-1]["phase"]]
            rows.append({"task": task, "arm": label, "seed": seed, "val_score": max(h["score"] for h in last)})
    if not rows:
        return pd.DataFrame(columns=["task", "arm", "val_score", "val_std", "seeds"])
    df = pd.DataFrame(rows)
    return (df.groupby(["task", "arm"], sort=False)["val_score"].agg(["mean", "std", "count"]).reset_index()
            .rename(columns={"mean": "val_score", "std": "val_std", "count": "seeds"}))


def write_ablation_tables(run_root: str | Path = "runs", out_dir: str | Path | None = None) -> dict[str, Path]:
    """Paired tests (iterative vs each arm), the SNR-band, per-voice and validation tables, as CSV and Markdown."""

    cells, utts = combined(run_root)
    if cells.empty:
        raise FileNotFoundError(f"no finished ablation or default-study runs under {run_root}: nothing to tabulate")
    out = Path(out_dir or Path(run_root) / "ablations")
    out.mkdir(parents=True, exist_ok=True)
    tables = {"paired": paired_vs_iterative(cells, utts), "bands": band_table(cells),
              "voices": voice_table(run_root), "validation": validation_table(run_root)}
    written = {}
    for name, t in tables.items():
        t.to_csv(out / f"{name}.csv", index=False)
        shown = t.astype(object).where(t.notna(), "–")  # nan: that arm has no run of that task
        (out / f"{name}.md").write_text(to_markdown(shown, index=False))
        written[name] = out / f"{name}.csv"
    return written


@guard
def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m aelib.ablations", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS), choices=TASKS)
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="(default: the study's, %(default)s)")
    p.add_argument("--ablations", nargs="+", default=list(ABLATIONS), choices=list(ABLATIONS))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="threads per run (default: cores // workers)")
    p.add_argument("--run-root", default="runs")
    p.add_argument("--data-dir", default="")
    p.add_argument("--tables-only", action="store_true", help="only (re)write the tables from finished runs")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    ok = True
    if not a.tables_only:
        reports = run_ablations(a.preset, a.tasks, a.seeds, a.ablations, a.workers, a.run_root, a.data_dir,
                                progress=not a.quiet, threads=a.threads,
                                command=command_line("python -m aelib.ablations", argv))
        ok = all(r.ok for r in reports)
    tables = Path(a.run_root) / "ablations"
    missing = [] if a.tables_only or not (tables / "paired.csv").exists() else missing_predictions(a.run_root)
    if missing:
        # a clone holds the committed tables but not the per-utterance predictions behind their
        # utterance-level tests: rewriting them from the clone's runs would drop those rows
        print(f"{len(missing)} finished runs have no predictions.csv (e.g. {missing[0]}): tables in {tables} "
              "kept (--tables-only rewrites them anyway)")
        return 0 if ok else 1
    for name, path in write_ablation_tables(a.run_root).items():
        print(f"{name}: {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
