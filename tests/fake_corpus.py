"""A tiny synthetic corpus in the manifest layout, for trainer and run tests that must take seconds.

Classes are tone patterns (not speech), noises are coloured noise: enough for shapes, gradients,
resume and file-layout checks. The real embedded corpus is tested in tests/corpora.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aelib.audio import write_audio
from aelib.corpora.manifest import NOISE_COLUMNS, TASK_COLUMNS, write_manifest

SR = 16000
WORDS = ["yes", "no", "up"]


def _tone_clip(rng, k: int, secs: float) -> np.ndarray:
    n = int(SR * secs)
    t = np.arange(n) / SR
    f = 300.0 * (k + 1) * (1 + 0.05 * rng.standard_normal())
    env = np.clip(np.sin(np.pi * t / t[-1]), 0, None)
    return (0.2 * env * np.sin(2 * np.pi * f * t)).astype(np.float32)


def make_fake_corpus(root: str | Path, seed: int = 0, per_class: int = 6) -> Path:
    root = Path(root)
    rng = np.random.default_rng(seed)
    clip_secs = {"kws": 1.0, "asr": 1.5, "ser": 1.0, "asc": 1.0}
    for task in ("kws", "asr", "ser", "asc"):
        rows = []
        labels = WORDS if task != "asr" else ["one two", "three", "go up"]
        for split, voices in (("train", ["v1", "v2"]), ("val", ["v3"]), ("test", ["v4"])):
            for v in voices:
                for k, lab in enumerate(labels):
                    for j in range(per_class // len(voices) or 1):
                        p = f"{task}/{split}/{v}_{k}_{j}.wav"
                        write_audio(root / p, _tone_clip(rng, k, clip_secs[task]))
                        rows.append(dict(path=p, split=split, label=lab, source=v, kind="synthetic",
                                         duration=clip_secs[task], corpus="fake"))
        # one real-speech test row per class, as the embedded corpus has
        for k, lab in enumerate(labels):
            p = f"{task}/test/real_{k}.wav"
            write_audio(root / p, _tone_clip(rng, k, clip_secs[task]))
            rows.append(dict(path=p, split="test", label=lab, source="real", kind="real",
                             duration=clip_secs[task], corpus="fake"))
        write_manifest(root / f"{task}.csv", rows, TASK_COLUMNS)
    for name in ("noise", "noise_asc"):
        rows = []
        for split, types in (("train", ["hum", "hiss"]), ("val", ["hum"]), ("test_seen", ["hiss"]),
                             ("test_unseen", ["babble"])):
            for t in types:
                p = f"{name}/{split}_{t}.wav"
                x = rng.standard_normal(3 * SR).astype(np.float32)
                if t == "hum":
                    x = np.convolve(x, np.ones(32) / 32, mode="same")
                write_audio(root / p, 0.1 * x / np.abs(x).max())
                rows.append(dict(path=p, split=split, type=t, source=f"{split}_{t}", duration=3.0, corpus="fake"))
        write_manifest(root / f"{name}.csv", rows, NOISE_COLUMNS)
    return root
