"""Profile one (reduced) run end to end with cProfile: where does a study's time go?

Trains and evaluates one run in a temporary folder and prints the functions with the largest
cumulative time. This is how the small preset's speed-ups were chosen (see README, "Performance"):
the first profile (kws/cascade, hop 128, AE metrics on every utterance) spent 63 % of its time in
PESQ and 9 % in STOI, against 20 % in training.

    python scripts/profile_run.py [--task kws] [--paradigm cascade] [--set KEY=VALUE ...] [--top 30]
"""
from __future__ import annotations

import argparse
import sys
import cProfile
import pstats
import tempfile

import torch

from aelib.errors import guard
from aelib.config import make_config, parse_sets
from aelib.runs import execute


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="kws")
    p.add_argument("--paradigm", default="cascade")
    p.add_argument("--preset", default="small")
    p.add_argument("--set", nargs="*", default=["ae_epochs=1", "ca_epochs=1", "max_train_clips=512", "max_eval_clips=40"],
                   metavar="KEY=VALUE", help="Config overrides (JSON values); default: a short run")
    p.add_argument("--top", type=int, default=30)
    a = p.parse_args()
    torch.set_num_threads(1)
    over = parse_sets(a.set)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(a.preset, task=a.task, paradigm=a.paradigm, study="profile", run_root=tmp, **over)
        prof = cProfile.Profile()
        prof.runcall(execute, cfg, progress=False)
    stats = pstats.Stats(prof)
    total = stats.total_tt
    print(f"total {total:.1f} s")
    stats.sort_stats("cumulative").print_stats(a.top)


if __name__ == "__main__":
    sys.exit(guard(main)())
