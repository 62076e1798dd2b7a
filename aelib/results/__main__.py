"""How decisive is a study? Its targets, the paper's question per task and its power, as Markdown.

    python -m aelib.results runs/default [--difference 0.02]

Reads the study's run summaries (:func:`aelib.results.collect`) and its ``reproduction.json``; prints the target
table (:mod:`aelib.results.targets`), one line per task on whether ``iterative`` beats ``noisy``, ``cascade`` and
``joint`` at the seed level, and the power table (:func:`aelib.results.power.power_table`: the difference the
seeds resolve, and how many seeds a gap of ``--difference`` would need at 80 % power).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError, guard
from .power import power_table
from .read import collect, reproduction_record
from .tables import to_markdown
from .targets import question_lines, target_markdown


def report(study: Path, difference: float = 0.02) -> str:
    df = collect(study)
    if df.empty:
        raise UserError(f"{study}: no finished runs (metrics.json) to read")
    power = power_table(df, difference=difference).set_index("task")
    targets = target_markdown(df, scratch=reproduction_record(study))
    return "\n".join([f"## {study}", "", *targets, "", *question_lines(df), "",
                      to_markdown(power[["metric", "n_seeds", "seed_sd_max", "sd_diff", "resolved", "mdd80",
                                         "seeds_for_difference"]])]).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aelib.results", description=__doc__.splitlines()[0])
    p.add_argument("study", type=Path, help="a study folder, e.g. runs/default")
    p.add_argument("--difference", type=float, default=0.02,
                   help="the gap whose seeds-needed the power table states (default: %(default)s)")
    a = p.parse_args(argv)
    if not a.study.is_dir():
        raise UserError(f"{a.study}: no such study folder")
    sys.stdout.write(report(a.study, a.difference))
    return 0


if __name__ == "__main__":
    sys.exit(guard(main)())
