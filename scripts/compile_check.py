"""Time one training step eager and under ``torch.compile``: is compiling worth it on this machine?

    python scripts/compile_check.py --task kws --model ca [--steps 20] [--compile]

Takes ``--steps`` batches of the task's real training data (the small preset), runs the paradigm's training
step (:func:`aelib.paradigms.step_loss`, backward, Adam) on one thread, the first 3 as warm-up, and prints the
warm-up seconds and the mean milliseconds per step after it. ``--model ca`` times the `clean` CA's step,
``--model ae`` the AE's pre-training step. Run it once without and once with ``--compile`` (docs/tuning.md,
"Speed of the study"); nothing is written.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from aelib.config import make_config
from aelib.data import load_data
from aelib.errors import guard
from aelib.paradigms import phases, step_loss
from aelib.runs import build_ae
from aelib.tasks import get_task

WARMUP = 3


@guard
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="kws")
    ap.add_argument("--model", choices=("ca", "ae"), default="ca")
    ap.add_argument("--steps", type=int, default=20, help=f"batches timed, the first {WARMUP} as warm-up")
    ap.add_argument("--compile", action="store_true", help="wrap the trained model in torch.compile")
    a = ap.parse_args(argv)
    if a.steps <= WARMUP:
        ap.error(f"--steps must exceed the {WARMUP} warm-up steps")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config("small", task=a.task, paradigm="cascade", study="compile-check", run_root=tmp)
        task = get_task(a.task)
        data = load_data(cfg, task)
        ca = task.build_model(cfg, data.labels, data.texts)
        data.attach_profiles(ca)
        ae = build_ae(cfg)
        phase = next(p for p in phases(cfg) if p.step == a.model)
        loader = data.loader(data.train_set(clean_only=a.model == "ca"), shuffle=True)
        batches = [b for _, b in zip(range(a.steps), loader)]
        trained = ae if a.model == "ae" else ca
        opt = torch.optim.Adam(trained.parameters(), 1e-3)
        if a.compile:
            ae, ca = (torch.compile(ae), ca) if a.model == "ae" else (ae, torch.compile(ca))
        trained.train()
        times = []
        for b in batches:
            t0 = time.perf_counter()
            loss, _ = step_loss(phase, b, ae, ca, task, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
    rest = times[WARMUP:]
    print(f"{a.task} {a.model} {'compiled' if a.compile else 'eager'}: warm-up {sum(times[:WARMUP]):.1f} s, "
          f"{1000 * sum(rest) / len(rest):.1f} ms/step over {len(rest)} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
