"""How much of a run's noisy-grid score is which test clips it drew: one model, several evaluation draws.

    python scripts/test_sampling.py runs/exp/asc/noisy/seed0 [--seeds 0 1 2 3 4] [--out F.json]

A run evaluates ``max_eval_clips`` test clips per cell; which ones, their noise segments and SNR pairings are
the test draw, made with ``eval_seed`` (-1, the library default: the run's own seed, so each seed of a study
draws anew and its seed-to-seed spread holds the draw as well as training). This evaluates one trained model
(``checkpoints/best.th``) on the draws ``eval_seed`` = each of ``--seeds`` makes (the draws runs of those seeds
made at ``eval_seed=-1``) and on every test clip (``max_eval_clips=0``), and prints each draw's noisy-grid mean
(the README's primary score: every noisy cell of the synthetic speech, or of asc's scenes) and their sd: the
part of a study's seed sd that the draw alone makes. It measures the instrument, not a setting: no choice of
a model is made from it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

import torch

from aelib.data import load_data
from aelib.errors import guard
from aelib.evaluate import InputQuality, evaluate
from aelib.results.stats import NOISY, own_kind
from aelib.runs import load_run


def grid_mean(cells: list[dict], metric: str) -> float:
    """The mean over the noisy cells of the task's table kind, as ``noisy_seed_means`` takes it for the study."""
    kind = own_kind(c["kind"] for c in cells)
    vals = [c[metric] for c in cells if c["kind"] == kind and c["noise_split"] in NOISY]
    return float(sum(vals) / len(vals))


def draws(run_dir: Path, seeds: list[int], every_clip: bool = True) -> dict:
    run = load_run(run_dir)
    metric = run.task_spec.primary_metric
    out: dict = {"run": str(run_dir), "metric": metric, "max_eval_clips": run.cfg.max_eval_clips, "draws": {}}
    todo = [(f"seed{s}", dataclasses.replace(run.cfg, eval_seed=s)) for s in seeds]
    if every_clip:
        todo.append(("all clips", dataclasses.replace(run.cfg, max_eval_clips=0)))
    for label, cfg in todo:
        cfg = dataclasses.replace(cfg, eval_pesq=False)
        data = load_data(cfg, run.task_spec)
        _, cells = evaluate(cfg, data, run.ae, run.ca, progress=False, input_quality=InputQuality(None))
        out["draws"][label] = round(grid_mean(cells, metric), 4)
        print(run_dir, label, out["draws"][label], flush=True)
    vals = [out["draws"][f"seed{s}"] for s in seeds]
    out["sd_over_draws"] = round(statistics.stdev(vals), 4) if len(vals) > 1 else float("nan")
    return out


@guard
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="finished run folders with checkpoints")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--no-all", action="store_true", help="skip the evaluation on every test clip (asr: slow)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = [draws(r, a.seeds, not a.no_all) for r in a.runs]
    for r in rows:
        print(json.dumps(r))
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
