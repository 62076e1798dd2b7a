"""The demo's material: test clips and noises of a run's corpus, the runs of a study, and playable audio.

One test clip of a run's corpus with one test noise file at a fixed offset (:class:`DemoExample`,
:func:`make_example`), remixed at any SNR with :func:`aelib.mixing.mix`; the trained runs of a study
(:func:`find_runs`) and the one Figure 4 shows (:func:`pick_run`, :data:`FIGURE4_PARADIGMS`); waves
scaled for ``IPython.display.Audio(normalize=False)`` (:func:`playable`). The figures the demo draws
from this material are in :mod:`aelib.plots`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .audio import fit_length, load_audio
from .config import FRONTEND_PARADIGMS, PARADIGMS, TASKS
from .corpora.manifest import NOISE_COLUMNS, TASK_COLUMNS, read_manifest
from .layout import find_run_dirs, seed_name
from .metrics import si_sdr
from .mixing import mix
from .tasks import get_task

# Figure 4 shows what a trained AE does to a spectrogram: the front-end paradigms whose front-end is a
# U-Net (noisereduce's is a fixed gate), the paper's own paradigm first, then the others in FRONTEND_PARADIGMS order.
FIGURE4_PARADIGMS = tuple(sorted((p for p in FRONTEND_PARADIGMS if p != "noisereduce"), key=lambda p: p != "iterative"))


@dataclass
class DemoExample:
    """One test clip and one noise file at a fixed offset: :meth:`mix` only changes the SNR."""

    task: str
    clip_path: str
    label: str  # class name or transcript: the reference
    kind: str  # synthetic | real
    clean: np.ndarray
    noise_path: str
    noise_type: str
    noise_source: str
    noise: np.ndarray
    offset: int
    sr: int = 16_000

    def mix(self, snr_db: float) -> np.ndarray:
        """The noisy mixture at exactly ``snr_db`` (aelib.mixing.mix, this example's noise offset)."""
        return mix(self.clean, self.noise, float(snr_db), self.offset, sr=self.sr)[0]


def demo_clips(data_dir: str | os.PathLike, task: str) -> list[dict]:
    """The test rows of ``<data_dir>/<task>.csv`` in manifest order: synthetic speech first, and filler
    classes such as kws ``_silence_`` / ``_unknown_`` (labels starting with "_") after the real classes."""
    rows = [r for r in read_manifest(Path(data_dir) / f"{task}.csv", TASK_COLUMNS) if r["split"] == "test"]
    return sorted(rows, key=lambda r: (r["label"].startswith("_"), r["kind"] != "synthetic"))


def demo_noises(data_dir: str | os.PathLike, task: str, split: str = "test_seen") -> list[dict]:
    """Noise rows of one split from the task's noise bank (noise_asc.csv where speech is the interferer)."""
    name = "noise_asc.csv" if get_task(task).interferer == "speech" else "noise.csv"
    return [r for r in read_manifest(Path(data_dir) / name, NOISE_COLUMNS) if r["split"] == split]


def make_example(data_dir: str | os.PathLike, task: str, clip_index: int = 0, noise_split: str = "test_seen",
                 noise_type: str = "", noise_index: int = 0, seed: int = 0, sr: int = 16_000) -> DemoExample:
    """Test clip ``clip_index`` of ``task`` with a test noise file at a seeded, fixed offset.

    Args:
        noise_type: pick among the files of this type ("" = every file of the split).
        noise_index: which of those files (modulo their number).

    Raises:
        ValueError: no test clips, or no noise file of that split/type (the message lists the types).
    """
    spec = get_task(task)
    clips = demo_clips(data_dir, task)
    if not clips:
        raise ValueError(f"{data_dir}/{task}.csv has no test clips")
    row = clips[clip_index % len(clips)]
    noises = demo_noises(data_dir, task, noise_split)
    pool = [r for r in noises if not noise_type or r["type"] == noise_type]
    if not pool:
        raise ValueError(f"no {noise_type or 'noise'} files in the {noise_split} split of {data_dir}; "
                         f"types there: {sorted({r['type'] for r in noises})}")
    nrow = pool[noise_index % len(pool)]
    wave = load_audio(row["path"], sr, warn=False)
    n = int(round(spec.clip_seconds * sr))
    clean = fit_length(wave, n if spec.fixed_length else min(len(wave), n))  # as aelib.data does
    noise = load_audio(nrow["path"], sr, warn=False)
    offset = int(np.random.default_rng([seed, clip_index, noise_index]).integers(len(noise)))
    return DemoExample(task, row["path"], row["label"], row["kind"], clean, nrow["path"], nrow["type"],
                       nrow["source"], noise, offset, sr)


def playable(*waves: np.ndarray, peak: float = 0.99) -> list[np.ndarray]:
    """Scale all waves by ONE gain so that the loudest peak is at most ``peak`` (for Audio(normalize=False))."""
    top = max(float(np.max(np.abs(w))) for w in waves) if waves else 0.0
    gain = min(1.0, peak / top) if top > 0 else 1.0
    return [np.asarray(w, dtype=np.float32) * gain for w in waves]


def sisdr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    """:func:`aelib.metrics.si_sdr` of one pair of 1-D waves, cut to the shorter length."""
    n = min(len(estimate), len(reference))
    return float(si_sdr(np.asarray(estimate[:n])[None], np.asarray(reference[:n])[None])[0])


def ca_predict(pipe, wave: np.ndarray, sr: int = 16_000) -> str:
    """The run's CA alone on ``wave`` (no AE in front): the "noisy" prediction of the demo."""
    return pipe.predict(wave, sr, enhance=False)


def find_runs(study_dir: str | os.PathLike) -> dict[str, Path]:
    """Trained runs of a study: ``"<task>/<paradigm>/seed<k>"`` -> run folder (with checkpoints/best.th)."""
    return {str(key): d for key, d in find_run_dirs(study_dir, TASKS, PARADIGMS)
            if (d / "checkpoints" / "best.th").exists()}


def pick_run(runs: Mapping[str, Path], task: str, paradigms: Sequence[str] = FIGURE4_PARADIGMS,
             seed: int | None = None) -> str | None:
    """The key of the first run of ``task`` in ``paradigms`` order (and ``seed`` when given), or None."""
    for p in paradigms:
        keys = [k for k in runs if k.split("/")[:2] == [task, p]
                and (seed is None or k.split("/")[2:] == [seed_name(seed)])]
        if keys:
            return sorted(keys)[0]
    return None
