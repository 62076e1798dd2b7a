"""``python -m aelib.models``: parameter counts, CPU time per training batch, and the U-Net's real-time factor.

Options: ``--batch 32 --threads 2 --seconds 1`` (clip length of the timed batches; 0 = each task's
own clip length) ``--ae-width 16 --ae-depth 4 --ca-width 32``.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from ..errors import guard
from . import ASCNet, ASRNet, KWSNet, SERNet, UNetEnhancer, count_parameters
from .unet import real_time_factor

CLIP = {"unet": 1.0, "kws": 1.0, "asr": 4.0, "ser": 3.0, "asc": 4.0}


def train_step_seconds(model: torch.nn.Module, batch: int, samples: int, steps: int = 3) -> float:
    """Fastest of ``steps`` forward + backward + Adam steps on random audio."""
    gen = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(batch, samples, generator=gen)
    lengths = torch.full((batch,), samples)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    model.train()
    best = float("inf")
    for _ in range(steps):
        t0 = time.perf_counter()
        out = model(x) if isinstance(model, UNetEnhancer) else model(x, lengths)
        out = out[0] if isinstance(out, tuple) else out
        out.float().pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--ae-width", type=int, default=16)
    ap.add_argument("--ae-depth", type=int, default=4)
    ap.add_argument("--ca-width", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(0)
    models = {
        "unet": UNetEnhancer(width=args.ae_width, depth=args.ae_depth),
        "kws": KWSNet(12, width=args.ca_width),
        "asr": ASRNet(29, width=args.ca_width),
        "ser": SERNet(4, width=args.ca_width),
        "asc": ASCNet(8, width=args.ca_width),
    }
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch}, {args.threads} threads")
    for name, model in models.items():
        sec = args.seconds or CLIP[name]
        t = train_step_seconds(model, args.batch, int(sec * 16_000))
        print(f"{name:5s} {count_parameters(model):9d} params  {t:6.3f} s per training batch of {sec:g}-s clips")
    rtf = real_time_factor(models["unet"], threads=1)
    print(f"unet real-time factor (10 s of audio, one thread, eval): {rtf:.4f}")


if __name__ == "__main__":
    sys.exit(guard(main)())
