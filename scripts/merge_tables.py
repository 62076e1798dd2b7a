"""Put back the rows of the tasks a partial rerun on a clone did not retrain, from the committed table.

    python scripts/merge_tables.py runs/default/results/paired_vs_iterative --ref HEAD --retrained ser
    python scripts/merge_tables.py runs/ablations/paired --ref HEAD --retrained ser --nan-dash

Some tables read files that are never committed: the utterance-level paired tests each run's
``predictions.csv``, the run-time table each run's executed notebook. After a study that retrained some tasks on
a clone (a preset change of one task), such a table comes out complete for those tasks only. This keeps the
regenerated rows of the ``--retrained`` tasks and takes every row of the other tasks from the committed table at
``--ref`` (their runs, and so their rows, are unchanged), task by task in the regenerated table's order. It
rewrites ``TABLE.csv`` and ``TABLE.md`` (aelib's Markdown; ``--nan-dash`` shows a missing value as the
ablation tables do).
"""
from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import pandas as pd

from aelib.errors import UserError, guard
from aelib.layout import REPO
from aelib.results.tables import to_markdown


def merged(new: pd.DataFrame, ref: pd.DataFrame, retrained: set[str]) -> pd.DataFrame:
    """The rows of ``new`` for the tasks in ``retrained``, ``ref``'s rows for every other task; tasks in the order
    of ``new`` (then any task only ``ref`` has), rows within a task in their table's order."""
    tasks = list(dict.fromkeys([*new["task"], *ref["task"]]))
    parts = [(new if t in retrained else ref)[lambda d, t=t: d["task"] == t] for t in tasks]
    return pd.concat(parts, ignore_index=True)[list(new.columns)]


@guard
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table", type=Path, help="the table's path without suffix (TABLE.csv and TABLE.md)")
    ap.add_argument("--ref", default="HEAD", help="the git revision whose committed table holds the rows")
    ap.add_argument("--retrained", nargs="+", required=True, help="the tasks whose runs were trained again here")
    ap.add_argument("--nan-dash", action="store_true", help="show a missing value as '–' in the Markdown")
    a = ap.parse_args(argv)
    csv = a.table.with_suffix(".csv")
    if not csv.exists():
        raise UserError(f"{csv} does not exist")
    rel = csv.resolve().relative_to(REPO).as_posix()
    shown = subprocess.run(["git", "show", f"{a.ref}:{rel}"], cwd=REPO, capture_output=True, text=True)
    if shown.returncode:
        raise UserError(f"git show {a.ref}:{rel}: {shown.stderr.strip()}")
    out = merged(pd.read_csv(csv), pd.read_csv(io.StringIO(shown.stdout)), set(a.retrained))
    out.to_csv(csv, index=False)
    md = out.astype(object).where(out.notna(), "–") if a.nan_dash else out
    a.table.with_suffix(".md").write_text(to_markdown(md, index=False))
    print(f"{rel}: {len(out)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
