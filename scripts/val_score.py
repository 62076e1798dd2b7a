"""Score trained runs on *all* of their task's validation clips, clean and noisy: the basis for a choice.

    python scripts/val_score.py runs/exp-a/asc/clean/seed0 runs/exp-b/asc/clean/seed0 ... [--out F.json]
    python scripts/val_score.py runs/default/asr/clean/seed0 --beam 20 40 80   # asr: other beam sizes

A run selects its best epoch on a seeded subset of the validation split (``max_train_clips // 4`` clips),
which one lucky epoch inflates; comparing settings by that score compares luck. This scores each run's kept
model (``checkpoints/best.th``, as ``load_run`` rebuilds it) on every validation clip: clean, and mixed with
the validation noise files at SNRs drawn once from the training range (the trainer's validation mixtures).
The front-end, when the run has one, enhances the noisy clips; the clean clips go to the CA as they are.
Test data is never read. Prints one row per run; ``--out`` keeps them as JSON.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Sequence

import torch

from aelib.data import load_data
from aelib.errors import guard
from aelib.runs import load_run


@torch.no_grad()
def score(run_dir: Path, beams: Sequence[int] = (0,)) -> list[dict]:
    """The run's task metrics on all validation clips, clean and noisy, one row per beam (asr: 0 = the run's own
    beam, else re-decoded at that beam); the run and its data are loaded, and its front-end and CA run, once."""
    run = load_run(run_dir)
    own = getattr(run.ca, "decoder", None)
    if any(beams) and not own:
        raise SystemExit(f"--beam: {run_dir} has no beam-search decoder")
    cfg = dataclasses.replace(run.cfg, max_train_clips=0)  # 0: every clip of every split, val included
    data = load_data(cfg, run.task_spec)
    data.attach_profiles(run.ca)
    outputs = {}  # per condition: the CA's outputs per batch and the references, computed once for every beam
    for cond in ("clean", "noisy"):
        ds = data.val_set(clean_only=cond == "clean")
        outs, refs = [], []
        for batch in data.loader(ds, shuffle=False):
            x = batch["clean"] if cond == "clean" else batch["noisy"]
            if cond == "noisy" and run.ae is not None:
                x = run.ae(x)
            outs.append(run.task_spec.forward(run.ca, x, batch["length"], batch.get("profile")))
            refs.extend(ds.rows[int(i)]["label"] for i in batch["index"])
        outputs[cond] = outs, refs
    rows = []
    for beam in beams:
        if own:
            run.ca.set_decoder({**own, "beam": beam} if beam else own)
        out: dict = {"run": str(run_dir), "val_clips": len(data.rows["val"]), **({"beam": beam} if beam else {})}
        for cond, (outs, refs) in outputs.items():
            preds = [p for o in outs for p in run.task_spec.decode(o, data.labels, run.ca)]
            out.update({f"{cond}_{k}": round(v, 4) for k, v in run.task_spec.score(preds, refs, data.labels).items()})
        rows.append(out)
    return rows


@guard
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="finished run folders with checkpoints")
    ap.add_argument("--out", type=Path, help="write the rows as JSON here")
    ap.add_argument("--beam", type=int, nargs="+", default=[0],
                    help="asr: re-decode at each of these beam sizes (0 = the run's own)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for r in a.runs:
        for row in score(r, a.beam):
            rows.append(row)
            print(json.dumps(row), flush=True)
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
