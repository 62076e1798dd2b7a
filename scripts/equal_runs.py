"""Whether two studies are the same computation: every run's metrics.json (timings aside) and
predictions.csv byte for byte, and every results table (run paths and timings aside).

    python scripts/equal_runs.py STUDY_A STUDY_B      # exit 1 when they differ
    python scripts/equal_runs.py --models STUDY_A STUDY_B   # the trained weights only (checkpoints/best.th)

``--models`` compares every run's AE and CA tensors that both studies hold, whatever their configs say: the check
that a change of evaluation settings (``eval_seed``, ``max_eval_clips``) trained the same models.

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


def _same(x, y) -> bool:
    import torch

    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.shape == y.shape and x.dtype == y.dtype and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y))
    return x == y


def compare_models(a: Path, b: Path) -> list[str]:
    """One line per run whose trained AE or CA differs between the studies (runs in both with checkpoints)."""
    import torch

    bad, n = [], 0
    for ca in sorted(a.glob("*/*/seed*/checkpoints/best.th")):
        cb = b / ca.relative_to(a)
        if not cb.exists():
            continue
        n += 1
        x, y = (torch.load(c, map_location="cpu", weights_only=False) for c in (ca, cb))
        if not (_same(x["ae"], y["ae"]) and _same(x["ca"], y["ca"])):
            bad.append(f"{ca.relative_to(a).parent.parent}: models differ")
    print(f"{n} runs with models in both: {'the same' if not bad else f'{len(bad)} differ'}")
    return bad


def main(argv: list[str]) -> int:
    models = "--models" in argv
    argv = [x for x in argv if x != "--models"]
    if len(argv) != 2 or not all(Path(p).is_dir() for p in argv):
        print("error: usage: python scripts/equal_runs.py [--models] STUDY_A STUDY_B (two study folders)",
              file=sys.stderr)
        return 2
    bad = (compare_models if models else compare)(Path(argv[0]), Path(argv[1]))
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(guard(main)(sys.argv[1:]))
