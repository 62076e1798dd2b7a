"""Pick noisereduce's gating mode for the peer front-end on VALIDATION mixtures (never test).

For each task's validation set (mixed at the training SNR range with validation noise files), the
mean SI-SDR improvement of stationary and non-stationary spectral gating is printed; the better one
on average over tasks is the default of ``Config.gate_nonstationary``.

    python scripts/choose_gate.py [--preset small] [--tasks kws asr ser asc] [--max-clips 96]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from aelib.errors import guard
from aelib.config import TASKS, make_config
from aelib.data import load_data
from aelib.metrics import si_sdr
from aelib.models.gate import SpectralGate
from aelib.tasks import get_task


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--max-clips", type=int, default=96)
    a = p.parse_args()
    torch.set_num_threads(1)
    print("| task | gating | val SI-SDR in (dB) | out (dB) | improvement (dB) |\n|---|---|---:|---:|---:|")
    for task_name in a.tasks:
        cfg = make_config(a.preset, task=task_name)
        data = load_data(cfg, get_task(task_name))
        ds = data.val_set()
        gates = {"stationary": SpectralGate(cfg.sample_rate, nonstationary=False),
                 "non-stationary": SpectralGate(cfg.sample_rate, nonstationary=True)}
        res = {k: ([], []) for k in gates}
        seen = 0
        for batch in data.loader(ds, shuffle=False):
            for name, gate in gates.items():
                out = gate(batch["noisy"])
                for j, n in enumerate(batch["length"].tolist()):
                    c = batch["clean"][j, :n].numpy()[None]
                    res[name][0].append(float(si_sdr(batch["noisy"][j, :n].numpy()[None], c)[0]))
                    res[name][1].append(float(si_sdr(out[j, :n].numpy()[None], c)[0]))
            seen += len(batch["length"])
            if seen >= a.max_clips:
                break
        for name, (x, y) in res.items():
            print(f"| {task_name} | {name} | {np.mean(x):.2f} | {np.mean(y):.2f} | {np.mean(y) - np.mean(x):+.2f} |")


if __name__ == "__main__":
    sys.exit(guard(main)())
