"""The decisive study's targets (issue 23), each beside its measured value: the table that opens the Results.

This module owns the list of targets (:data:`TARGETS`: what is measured, on which audio, the goal and its
direction) and :func:`target_table`, which measures each one on a study's frames
(:func:`aelib.results.read.collect`) and says whether its goal is met. Every value is a mean over seeds of
test scores; no target is used for a choice (that is validation's job): the table reports, it does not tune.

- competence: the ``clean`` CA on clean test audio, per speech kind (held-out synthetic voices, the real
  recorded speaker) or asc's real scene recordings;
- the front-end: ``cascade``'s pre-trained AE, SI-SDR improvement at 0 dB input, seen and unseen noise
  types, per speech task (the lowest of kws, asr and ser is the row's value);
- stability: the largest seed-to-seed sd of one paradigm's noisy-grid mean (:mod:`aelib.results.power`), per
  task; the row's value is the worst task in units of the kws/ser/asc goal (asr's goal is 0.03 WER), the detail
  adds each task's worst on the pooled seeds of ``make power`` when they are given (the study's paradigms there);
- power: the smallest paradigm difference each task's seeds resolve at p < 0.05 (reported, no goal; the row's
  value is the smallest over tasks, the detail has each task, and each task's pooled seeds of ``make power``
  when they are given);
- budget: the whole study from scratch in one invocation, in wall minutes, from the record that
  ``scripts/compare_studies.py --out`` writes beside a rerun's reproduction page (``make reproduce``), copied into
  the study as ``reproduction.json``; a study made over several invocations does not measure it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import PARADIGMS
from .power import power_table

SPEECH_TASKS = ("kws", "asr", "ser")
STABILITY_GOAL = {"asr": 0.03}  # WER spreads more; the other tasks' goal is the target's own (0.02)


@dataclass(frozen=True)
class Target:
    name: str  # what the row measures, as the README prints it
    kind: str  # competence | frontend | stability | power | budget
    task: str  # a task, or "speech" (kws, asr and ser: the lowest value counts)
    goal: float  # nan: reported without a goal
    higher_is_better: bool
    audio: str = "synthetic"  # competence: the speech kind; frontend: the noise split
    digits: int = 3  # decimals of the measured value in the README

    @property
    def short(self) -> str:
        """A few words for the row ("kws real speech", "the AE on unseen types", "the budget")."""
        if self.kind == "competence":
            return self.task + (" real speech" if self.audio == "real" and self.task != "asc" else "")
        if self.kind == "frontend":
            return f"the AE on {'unseen' if self.audio == 'test_unseen' else 'seen'} types"
        return {"stability": "the seed spread", "budget": "the budget"}.get(self.kind, self.kind)


TARGETS = (
    Target("kws: `clean` CA, clean audio, held-out synthetic voices (accuracy)", "competence", "kws", 0.90, True),
    Target("kws: the same, real recorded speaker", "competence", "kws", 0.60, True, "real"),
    Target("asr: `clean` CA, clean held-out synthetic voices (WER)", "competence", "asr", 0.15, False),
    Target("asr: real recorded digit strings, clean (WER)", "competence", "asr", 0.40, False, "real"),
    Target("ser: `clean` CA, clean held-out voices (UAR)", "competence", "ser", 0.75, True),
    Target("asc: `clean` CA, clean test scenes (accuracy)", "competence", "asc", 0.85, True, "real"),
    Target("pre-trained AE (`cascade`), 0 dB input, seen noise types (SI-SDR improvement, dB)", "frontend",
           "speech", 12.0, True, "test_seen"),
    Target("the same, unseen noise types", "frontend", "speech", 6.0, True, "test_unseen"),
    Target("seed-to-seed sd of a paradigm's noisy-grid mean (worst paradigm; asr's goal 0.03 WER)", "stability",
           "all", 0.02, False),
    Target("power: the smallest paradigm difference resolved at p < 0.05", "power", "all", math.nan,
           False),
    Target("the whole study from scratch, one invocation (wall minutes; `make reproduce`)", "budget", "all", 90.0,
           False, digits=1),
)


def _competence(df: pd.DataFrame, t: Target) -> tuple[float, str]:
    sub = df[(df["task"] == t.task) & (df["paradigm"] == "clean") & (df["noise_split"] == "clean")
             & (df["kind"] == t.audio)]
    if sub.empty:
        return math.nan, ""
    metric = sub["primary_metric"].iloc[0]
    per_seed = sub.groupby("seed")[metric].mean()
    return float(per_seed.mean()), f"{len(per_seed)} seeds"


def _frontend(df: pd.DataFrame, t: Target) -> tuple[float, str]:
    sub = df[(df["paradigm"] == "cascade") & (df["noise_split"] == t.audio) & (df["snr"] == 0.0)
             & (df["kind"] == "synthetic") & df["task"].isin(SPEECH_TASKS)]
    if sub.empty:
        return math.nan, ""
    per_task = sub.groupby(["task", "seed"])["sisdr_delta"].mean().groupby("task").mean()
    detail = ", ".join(f"{task} {per_task[task]:+.1f}" for task in SPEECH_TASKS if task in per_task)
    return float(per_task.min()), detail


def per_task(power: pd.DataFrame, column: str) -> str:
    """"3 seeds: kws 0.033, asr 0.141": ``column`` of each task of a power table indexed by task."""
    seeds = "/".join(str(n) for n in sorted(set(power["n_seeds"])))
    return f"{seeds} seeds: " + ", ".join(f"{task} {r[column]:.3f}" for task, r in power.iterrows())


def from_scratch_minutes(scratch: dict[str, Any] | None, n_runs: int | None) -> float:
    """Wall minutes of a from-scratch rerun (``reproduction.json``) that made all ``n_runs`` of a study in one
    invocation; NaN otherwise (a sum over invocations, or a rerun of fewer runs, is not the study's time)."""
    if not scratch or not scratch.get("wall_seconds") or scratch.get("invocations") != 1 \
            or scratch.get("runs") != n_runs:
        return math.nan
    return float(scratch["wall_seconds"]) / 60


def _budget(scratch: dict[str, Any] | None, n_runs: int) -> tuple[float, str]:
    """:func:`from_scratch_minutes` of the study's ``n_runs`` and what the rerun was."""
    minutes = from_scratch_minutes(scratch, n_runs)
    if not math.isfinite(minutes):
        other = from_scratch_minutes(scratch, scratch.get("runs")) if scratch else math.nan  # one invocation, fewer
        return math.nan, f"a rerun of {scratch['runs']} of the study's {n_runs} runs" if math.isfinite(other) else ""
    mem = f", peak {scratch['peak_rss_mb'] / 1024:.1f} GB" if scratch.get("peak_rss_mb") else ""
    when = f", {str(scratch['started'])[:10]}" if scratch.get("started") else ""
    return minutes, f"{scratch.get('runs')} runs{mem}, {scratch.get('machine')}{when}"


def target_table(df: pd.DataFrame, pooled: pd.DataFrame | None = None,
                 scratch: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per :data:`TARGETS` entry: target, goal, measured value, detail, and ``met`` (None: no goal).

    ``pooled``: cells of more seeds (``make power``, :func:`aelib.ablations.pool_seeds`), whose resolved
    differences the power row adds to its detail; ``scratch``: a from-scratch rerun's record (the budget row).
    """
    power = power_table(df).set_index("task") if not df.empty else pd.DataFrame()
    rows = []
    for t in TARGETS:
        value, detail = math.nan, ""
        if t.kind == "competence":
            value, detail = _competence(df, t)
        elif t.kind == "frontend":
            value, detail = _frontend(df, t)
        elif t.kind == "stability" and len(power):
            over = {task: r["seed_sd_max"] / (STABILITY_GOAL.get(task, t.goal)) for task, r in power.iterrows()}
            value = float(max(over.values())) * t.goal  # the worst task, in units of the kws/ser/asc goal
            detail = ", ".join(f"{task} {r['seed_sd_max']:.3f} (`{r['seed_sd_worst']}`)" for task, r in power.iterrows())
            if pooled is not None and not pooled.empty:
                more = power_table(pooled[pooled["paradigm"].isin(PARADIGMS)])  # the study's paradigms, no ablation
                detail += f"; `make power`, {per_task(more.set_index('task'), 'seed_sd_max')}"
        elif t.kind == "power" and len(power):
            value, detail = float(power["resolved"].min()), per_task(power, "resolved")
            if pooled is not None and not pooled.empty:
                detail += f"; `make power`, {per_task(power_table(pooled).set_index('task'), 'resolved')}"
        elif t.kind == "budget":
            value, detail = _budget(scratch, len(df[["task", "paradigm", "seed"]].drop_duplicates()) if len(df) else 0)
        met = None
        if math.isfinite(t.goal) and math.isfinite(value):
            met = bool(value >= t.goal if t.higher_is_better else value <= t.goal)
        rows.append({"target": t.name, "short": t.short, "goal": t.goal, "higher_is_better": t.higher_is_better,
                     "value": value, "digits": t.digits, "detail": detail, "met": met})
    return pd.DataFrame(rows)


def target_markdown(df: pd.DataFrame, pooled: pd.DataFrame | None = None,
                    scratch: dict[str, Any] | None = None) -> list[str]:
    """The table as Markdown lines: target | goal | measured | met (arguments: :func:`target_table`)."""
    lines = ["| target | goal | measured | met |", "|---|---:|---:|---|"]
    for _, r in target_table(df, pooled, scratch).iterrows():
        goal = "n/a" if not np.isfinite(r["goal"]) else f"{'>=' if r['higher_is_better'] else '<='} {r['goal']:g}"
        value = "n/a" if not np.isfinite(r["value"]) else f"{r['value']:.{r['digits']}f}"
        if r["detail"]:
            value += f" ({r['detail']})"
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['target']} | {goal} | {value} | {met} |")
    return lines


def question_lines(df: pd.DataFrame, alpha: float = 0.05, arms: tuple[str, ...] = ("noisy", "cascade", "joint")
                   ) -> list[str]:
    """The paper's question per task: does ``iterative`` beat ``noisy``, ``cascade`` and ``joint`` (``arms``)?

    One line per task from the seed-level paired tests, with the difference the seeds resolve
    (:func:`aelib.results.power.power_table`) so that "no difference" reads as "none larger than that".
    """
    from .stats import paired_vs_iterative

    if df.empty:
        return []
    tests = paired_vs_iterative(df)
    if tests.empty:
        return []
    tests = tests[(tests["level"] == "seed") & tests["paradigm"].isin(arms)]
    power = power_table(df).set_index("task")
    lines = []
    for task, g in tests.groupby("task", sort=False):
        parts = []
        for _, r in g.iterrows():
            d = abs(r["mean_diff"])
            if np.isfinite(r["p"]) and r["p"] < alpha:
                p = "p < 0.001" if r["p"] < 0.001 else f"p = {r['p']:.3f}"
                side = "better" if r["reference_better"] else "worse"
                parts.append(f"{side} than `{r['paradigm']}` by {d:.3f} ({p})")
            else:
                parts.append(f"not resolved from `{r['paradigm']}` ({'ahead' if r['reference_better'] else 'behind'} "
                             f"by {d:.3f}, p = {r['p']:.2f})")
        res = power.loc[task, "resolved"] if task in power.index else math.nan
        lines.append(f"- {task}: `iterative` is " + "; ".join(parts)
                     + f". At this seed spread a paired difference is significant from about {res:.3f} (pooled over pairs).")
    return lines
