"""How much of the ser label do the prosodic statistics carry? A linear probe on validation.

    python scripts/prosody_probe.py [--train-clips 400] [--no-speaker-norm]

Computes :func:`aelib.models.prosody.prosody` for every train and val clip of the embedded ser proxy (the small
preset's corpus), subtracts each clip's speaker profile (:func:`aelib.profiles.speaker_profiles`, as
``ser_speaker_norm`` does), standardises with the training statistics, fits a multinomial
logistic regression on ``--train-clips`` training clips (a seeded draw) and prints the validation UAR. Test
clips are never read. The basis for ``ser_prosody`` (docs/levers.md).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from aelib.config import make_config
from aelib.errors import UserError, guard
from aelib.metrics import uar
from aelib.models.prosody import prosody
from aelib.profiles import speaker_profiles


def features(root: Path, rows: list[dict]) -> np.ndarray:
    waves = [torch.from_numpy(sf.read(root / r["path"], dtype="float32")[0]) for r in rows]
    stats = []
    for i in range(0, len(waves), 8):
        batch = waves[i:i + 8]
        lengths = torch.tensor([len(w) for w in batch])
        stats.append(prosody(torch.nn.utils.rnn.pad_sequence(batch, batch_first=True), lengths))
    return torch.cat(stats).numpy()


def speaker_normalised(x: np.ndarray, rows: list[dict], prior: np.ndarray) -> np.ndarray:
    """Each row minus its speaker's profile, made by the library's :func:`speaker_profiles` (the mean over the
    speaker's other rows of the split; ``prior``, the training clips' mean, for a speaker with one row)."""
    means = {r["path"]: torch.from_numpy(v) for r, v in zip(rows, x)}
    profiles = speaker_profiles(rows, means, torch.from_numpy(prior))
    return x - np.stack([profiles[r["path"]].numpy() for r in rows])


@guard
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-clips", type=int, default=400, help="training clips the probe is fitted on (0: all)")
    ap.add_argument("--no-speaker-norm", action="store_true", help="raw statistics, no speaker mean removed")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = Path(make_config("small", task="ser").data_dir).expanduser()
    manifest = root / "ser.csv"
    if not manifest.exists():
        raise UserError(f"{manifest} is missing: build the corpus first (make corpus)")
    rows = list(csv.DictReader(manifest.open()))
    labels = sorted({r["label"] for r in rows if r["split"] == "train"})
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    xt, xv = features(root, train), features(root, val)
    if not a.no_speaker_norm:  # normalised within the whole split, then drawn, as the study's profiles are
        prior = xt.mean(0)
        xt, xv = speaker_normalised(xt, train, prior), speaker_normalised(xv, val, prior)
    keep = np.random.default_rng(0).permutation(len(train))[: a.train_clips or len(train)]
    xt, yt = xt[keep], np.array([labels.index(train[i]["label"]) for i in keep])
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    model = torch.nn.Linear(xt.shape[1], len(labels))
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 1e-2, weight_decay=1e-3)
    xt_t, yt_t = torch.tensor((xt - mu) / sd, dtype=torch.float32), torch.tensor(yt)
    for _ in range(800):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt_t), yt_t).backward()
        opt.step()
    with torch.no_grad():
        pred = model(torch.tensor((xv - mu) / sd, dtype=torch.float32)).argmax(1).numpy()
    score = uar([labels[int(p)] for p in pred], [r["label"] for r in val], labels)
    print(f"prosody probe: {len(keep)} training clips, speaker_norm={not a.no_speaker_norm}: "
          f"validation UAR {score:.3f} ({len(val)} clips)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
