"""Whether two studies are the same computation: every run's metrics.json (timings aside) and
predictions.csv byte for byte, and every results table (run paths and timings aside).

    python scripts/equal_runs.py STUDY_A STUDY_B      # exit 1 when they differ

For reruns on one CPU, where runs are bit-identical; across CPUs use scripts/compare_studies.py, which
tests agreement within the reference's confidence intervals.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from aelib.errors import guard

VOLATILE_METRICS = ("train_seconds",)
VOLATILE_TABLES = ("inventory", "run_times")  # run folders' paths and timings differ by nature


def _metrics(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in VOLATILE_METRICS}


def compare(a: Path, b: Path) -> list[str]:
    """One line per difference (empty: the same computation); prints a summary."""
    bad, n = [], 0
    for ma in sorted(a.rglob("metrics.json")):
        rel = ma.relative_to(a)
        n += 1
        mb = b / rel
        if not mb.exists():
            bad.append(f"{rel.parent}: missing in {b}")
            continue
        pa, pb = ma.parent / "predictions.csv", mb.parent / "predictions.csv"
        if _metrics(ma) != _metrics(mb):
            bad.append(f"{rel.parent}: metrics differ")
        if pa.exists() != pb.exists() or (pa.exists() and pa.read_bytes() != pb.read_bytes()):
            bad.append(f"{rel.parent}: predictions differ")
    bad += [f"{p.relative_to(b).parent}: only in {b}" for p in sorted(b.rglob("metrics.json"))
            if not (a / p.relative_to(b)).exists()]
    tables = [f for f in sorted((a / "results").glob("*.md")) + sorted((a / "results").glob("*.csv"))
              if f.stem not in VOLATILE_TABLES]
    bad += [f"results/{f.name} differs" for f in tables
            if not (b / "results" / f.name).exists() or (b / "results" / f.name).read_bytes() != f.read_bytes()]
    print(f"{n} runs, {len(tables)} tables: {'the same' if not bad else f'{len(bad)} differences'}")
    return bad


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not all(Path(p).is_dir() for p in argv):
        print("error: usage: python scripts/equal_runs.py STUDY_A STUDY_B (two study folders)", file=sys.stderr)
        return 2
    bad = compare(Path(argv[0]), Path(argv[1]))
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(guard(main)(sys.argv[1:]))
