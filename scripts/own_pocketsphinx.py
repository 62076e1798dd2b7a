"""aelib.own's worked example: front-ends for pocketsphinx, a frozen black-box ASR nobody here trained.

    python scripts/own_pocketsphinx.py [--seeds 0 1 2] [--out runs/own-pocketsphinx]

Data: the embedded corpus's asr clips (``--data-dir``, default the small corpus): training and
validation clips and noise files for fitting, the test split's held-out voices (synthetic, and the real
recorded digit strings as their own rows) with the *unseen* noise types (babble, music, static) over an
SNR grid. The recogniser: pocketsphinx's bundled en-us acoustic model with a bigram LM of the training
transcripts (:mod:`aelib.own.pocketsphinx`), scored by per-utterance WER. Arms, per seed:

``none``          pocketsphinx alone
``noisereduce``   spectral gating (:class:`aelib.models.SpectralGate`, noisereduce's TorchGate)
``cascade``       aelib's U-Net pre-trained by its waveform loss on the training mixtures
``cascade+obs``   the same with observation adding, its weight chosen by pocketsphinx's WER on validation
``iterative``     from the cascade AE, rounds of AE epochs weighted by pocketsphinx's per-utterance WER
                  on each round's training mixtures (importance from the black box, no gradient)

Writes ``rows.csv`` (one row per seed, arm, test clip, SNR), ``summary.md`` (mean WER per arm and SNR;
over seeds: mean and 95 % interval of the noisy-grid mean) and ``paired.md`` (every arm against
``none`` and ``iterative`` against ``cascade``, on the same utterances, pooled over seeds).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from aelib.config import default_data_dir
from aelib.errors import guard
from aelib.metrics import mean_ci
from aelib.models import SpectralGate
from aelib.own import ClipSet, FitSettings, FrontEnd, NoiseSet, evaluate, fit_frontend, paired, summary
from aelib.own.pocketsphinx import pocketsphinx_box
from aelib.results import to_markdown

SNRS = (0.0, 5.0, 10.0, 20.0)


def run_seed(seed: int, data: dict, box, a) -> pd.DataFrame:
    base = FitSettings(ae_epochs=a.ae_epochs, rounds=a.rounds, batch_size=8, clip_seconds=2.0, width=16, seed=seed,
                       progress=not a.quiet)
    fit_args = (data["train"], data["val"], data["noise_train"], data["noise_val"])
    t0 = time.perf_counter()
    cascade = fit_frontend(box, *fit_args, paradigm="cascade", settings=base)
    obs = fit_frontend(box, *fit_args, paradigm="cascade", settings=base, ae_epochs=0, init=cascade.frontend.unet,
                       observation_weights=(0.0, 0.1, 0.2, 0.3, 0.5))
    iterative = fit_frontend(box, *fit_args, paradigm="iterative", settings=base, ae_epochs=0,
                             init=cascade.frontend.unet)
    print(f"seed {seed}: fitted in {time.perf_counter() - t0:.0f} s; observation weight "
          f"{obs.frontend.observation_weight} (validation WER {obs.observation})", flush=True)
    arms = {"none": (None, box), "noisereduce": (FrontEnd(SpectralGate(16_000)), box),
            "cascade": (cascade.frontend, box), "cascade+obs": (obs.frontend, box), "iterative": (iterative.frontend, box)}
    out = []
    for kind in ("synthetic", "real"):
        rows = evaluate(arms, data[f"test_{kind}"], data["noise_test"], snrs=SNRS, seed=0)  # one grid for all seeds
        out.append(rows.assign(kind=kind, seed=seed))
    return pd.concat(out, ignore_index=True)


def tables(rows: pd.DataFrame) -> tuple[str, str]:
    parts = []
    for kind, sub in rows.groupby("kind", sort=False):
        per_seed = {s: summary(g) for s, g in sub.groupby("seed")}
        mean = sum(per_seed.values()) / len(per_seed)
        ci = pd.DataFrame({arm: mean_ci([t.loc[arm, "noisy mean"] for t in per_seed.values()]) for arm in mean.index},
                          index=["mean", "low", "high"]).T
        mean["noisy mean (95 % CI over seeds)"] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in ci.to_numpy()]
        parts.append(f"### {kind} test voices, unseen noise types (WER; {sub['clip'].nunique()} clips, seeds "
                     f"{sorted(per_seed)})\n\n{to_markdown(mean.drop(columns='noisy mean'), digits=3)}\n")
    tests = []
    for kind, sub in rows.groupby("kind", sort=False):
        pooled = sub.assign(clip=sub["seed"].astype(str) + ":" + sub["clip"].astype(str))
        for a_, b_ in [(arm, "none") for arm in dict.fromkeys(sub["arm"]) if arm != "none"] + [("iterative", "cascade")]:
            t = paired(pooled, a_, b_)
            tests.append({"kind": kind, "a": a_, "b": b_, "mean_diff (a - b)": t["mean_diff"], "p (t)": t["p"],
                          "p (Wilcoxon)": t["p_wilcoxon"], "pairs": t["n"]})
    return "\n".join(parts), to_markdown(pd.DataFrame(tests), digits=4, index=False)


@guard
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=default_data_dir("small"))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--train-clips", type=int, default=300)
    p.add_argument("--val-clips", type=int, default=40)
    p.add_argument("--test-clips", type=int, default=60, help="synthetic test clips (spread over the voices)")
    p.add_argument("--real-clips", type=int, default=30, help="real recorded test clips")
    p.add_argument("--ae-epochs", type=int, default=6)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", default="runs/own-pocketsphinx")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    d = a.data_dir
    data = {"train": ClipSet.from_corpus(d, "asr", "train", limit=a.train_clips),
            "val": ClipSet.from_corpus(d, "asr", "val", limit=a.val_clips),
            "test_synthetic": ClipSet.from_corpus(d, "asr", "test", limit=a.test_clips, kind="synthetic"),
            "test_real": ClipSet.from_corpus(d, "asr", "test", limit=a.real_clips, kind="real"),
            "noise_train": NoiseSet.from_corpus(d, "train"), "noise_val": NoiseSet.from_corpus(d, "val"),
            "noise_test": NoiseSet.from_corpus(d, "test_unseen")}
    all_train = ClipSet.from_corpus(d, "asr", "train")  # the LM's transcripts: every training clip, nothing else
    box = pocketsphinx_box(all_train.targets)
    rows = pd.concat([run_seed(s, data, box, a) for s in a.seeds], ignore_index=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "rows.csv", index=False)
    summ, tests = tables(rows)
    command = "python scripts/own_pocketsphinx.py " + " ".join(sys.argv[1:] if argv is None else argv)
    head = (f"Made by `{command.strip()}` in {time.perf_counter() - t0:.0f} s (1 thread); pocketsphinx calls: "
            f"{box.calls}.\n\n")
    (out / "summary.md").write_text(head + summ)
    (out / "paired.md").write_text(head + tests + "\n")
    print(head + summ + "\n" + tests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
