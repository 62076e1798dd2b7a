"""Run folders: create, execute, resume, and load back for use outside the notebooks.

``runs/<study>/<task>/<paradigm>/seed<k>/`` (:func:`aelib.layout.run_dir`) holds ``params.json``
(resolved config, corpus fingerprint, git commit, package versions), ``history.json``, ``checkpoints/``
(``checkpoint.th`` while training, ``best.th`` at the end), ``importance.json`` (iterative),
``predictions.csv`` (one row per test utterance and condition) and ``metrics.json`` (per-cell means and
headline numbers), which is written last: its presence means the run is finished, and a finished run is
skipped on re-run. All files are written atomically (:mod:`aelib.files`). A folder holding a run with
different settings, or an unfinished run started on another version of the corpus, is never
overwritten: that is an error.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torchaudio

from . import distributed as dist
from .audio import AudioError, resample, to_mono
from .config import Config, make_config, parse_sets
from .data import clip_seconds, corpus_fingerprint, load_data
from .device import seed_everything
from .evaluate import by_source, evaluate, headline, predict_batch
from .files import atomic_save, atomic_write_json, write_csv
from .layout import REPO
from .models import SpectralGate, UNetEnhancer, deserialize, serialize
from .paradigms import uses_ae
from .profiles import wave_profiles
from .tasks import get_task
from .train import Trainer


class RunExistsError(RuntimeError):
    """The run folder holds a run made with different settings."""


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__, "torchaudio": torchaudio.__version__,
            "numpy": np.__version__, "platform": platform.platform()}


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / "metrics.json").exists()


# Keys that may differ between the first attempt and a resume without changing the result.
VOLATILE_KEYS = ("device", "num_workers", "run_root", "extra")


def settings_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Config keys whose values differ between two resolved configs, volatile keys ignored.

    A key that the old run predates counts as unchanged while the new value is that field's default
    (the behaviour the old code had), so adding a knob does not orphan finished runs.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(Config) if f.default is not dataclasses.MISSING}

    def differs(k: str) -> bool:
        if k in VOLATILE_KEYS:
            return False
        if k not in old and k in defaults:
            return new.get(k) != defaults[k]
        return old.get(k) != new.get(k)

    return sorted(k for k in set(old) | set(new) if differs(k))


def prepare_run_dir(cfg: Config, data_fingerprint: str = "") -> Path:
    """Create the run folder and write params.json; refuse a folder made with other settings, or started
    on another version of the corpus (``data_fingerprint``, :func:`aelib.data.corpus_fingerprint`): resuming
    it would train one model on two corpora."""
    run_dir = cfg.run_dir
    params = run_dir / "params.json"
    new = cfg.to_dict()
    if params.exists():
        old = json.loads(params.read_text())
        diff = settings_diff(old["config"], new)
        if diff:
            raise RunExistsError(
                f"{run_dir} holds a run with different settings ({diff}); use another study name "
                "or delete the folder to start over.")
        if data_changed(old, data_fingerprint):
            raise RunExistsError(
                f"{run_dir} holds a run started on another version of the corpus in {cfg.data_dir} (its manifests "
                "changed since); use another study name or delete the folder to start over.")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(params, {"config": new, "data_fingerprint": data_fingerprint, "git_commit": git_commit(),
                               "versions": versions()})
    return run_dir


def data_changed(params: dict[str, Any], data_fingerprint: str) -> bool:
    """Whether a run's params.json names another corpus fingerprint than ``data_fingerprint`` (a run made
    before fingerprints were recorded, or an unknown current one, counts as unchanged)."""
    old = params.get("data_fingerprint", "")
    return bool(old and data_fingerprint and old != data_fingerprint)


def corpus_changed(cfg: Config) -> bool:
    """Whether the run folder's params.json names another corpus than ``cfg.data_dir`` holds now (the check of
    a finished run, here for :func:`execute` and for the study runner alike)."""
    params = cfg.run_dir / "params.json"
    return params.exists() and data_changed(json.loads(params.read_text()), corpus_fingerprint(cfg, get_task(cfg.task)))


def execute(cfg: Config, *, progress: bool = True, force_eval: bool = False) -> dict[str, Any]:
    """Train and evaluate one (task, paradigm, seed) run, resuming if interrupted; returns metrics."""
    dist.init()
    run_dir = cfg.run_dir
    task = get_task(cfg.task)
    if is_finished(run_dir) and not force_eval:
        if corpus_changed(cfg):
            warnings.warn(f"{run_dir} was trained on another version of the corpus in {cfg.data_dir}: its results "
                          "are kept as they are; delete the folder (or use another study) to train it anew",
                          stacklevel=2)
        return json.loads((run_dir / "metrics.json").read_text())
    seed_everything(cfg.seed)
    data = load_data(cfg, task)  # first: a bad manifest fails before a run folder exists
    if dist.is_main():
        prepare_run_dir(cfg, data.fingerprint)
    dist.barrier()
    ae = build_ae(cfg) if uses_ae(cfg.paradigm) else None
    ca = task.build_model(cfg, data.labels, data.texts)
    trainer = Trainer(cfg, data, ae, ca, run_dir, progress=progress)
    history = trainer.fit()
    if not dist.is_main():  # only rank 0 writes and evaluates
        dist.barrier()
        return {}
    atomic_save({"config": cfg.to_dict(), "labels": data.labels, "ae": serialize(ae) if ae is not None else None,
                 "ca": serialize(ca)}, run_dir / "checkpoints" / "best.th")
    rows, cells = evaluate(cfg, data, trainer.ae, trainer.ca, progress=progress)
    write_csv(run_dir / "predictions.csv", rows)
    metrics = {"task": cfg.task, "paradigm": cfg.paradigm, "seed": cfg.seed, "preset": cfg.preset,
               "primary_metric": task.primary_metric, "higher_is_better": task.higher_is_better,
               "n_labels": len(data.labels), "n_train_clips": len(data.rows["train"]),
               "headline": headline(task, cells), "cells": cells, "by_source": by_source(task, data.labels, rows),
               "train_seconds": round(sum(h.get("seconds", 0.0) for h in history if "reused" not in h), 2)}
    atomic_write_json(run_dir / "metrics.json", metrics)
    dist.barrier()
    return metrics


def build_ae(cfg: Config) -> torch.nn.Module:
    """The run's front-end: noisereduce's spectral gate for ``noisereduce``, else the U-Net."""
    if cfg.paradigm == "noisereduce":
        return SpectralGate(cfg.sample_rate, nonstationary=cfg.gate_nonstationary)
    return UNetEnhancer(n_fft=cfg.n_fft, hop=cfg.hop, width=cfg.ae_width, depth=cfg.ae_depth)


class Pipeline:
    """A trained run as a tool: ``enhance(wave, sr)`` and ``predict(wave, sr)``.

    ``enhance`` is the identity for paradigms without an AE; ``predict`` applies the run's own AE
    (when it has one) and then its CA, returning a class name, or a transcript for asr.
    """

    def __init__(self, run_dir: Path, cfg: Config, labels: list[str], ae, ca, task) -> None:
        self.run_dir, self.cfg, self.labels, self.ae, self.ca, self.task_spec = run_dir, cfg, labels, ae, ca, task

    @property
    def task(self) -> str:
        return self.cfg.task

    @property
    def paradigm(self) -> str:
        return self.cfg.paradigm

    def _prepare(self, wave: np.ndarray, sr: int) -> torch.Tensor:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim == 2:
            wave = to_mono(wave if wave.shape[0] > wave.shape[1] else wave.T)
        if wave.ndim != 1 or wave.size == 0:
            raise AudioError(f"expected a non-empty 1-D waveform (or time x channels), got shape {wave.shape}")
        return torch.from_numpy(resample(wave, sr, self.cfg.sample_rate))[None]

    @torch.no_grad()
    def enhance(self, wave: np.ndarray, sr: int = 16_000) -> np.ndarray:
        x = self._prepare(wave, sr)
        return (self.ae(x) if self.ae is not None else x)[0].numpy()

    @torch.no_grad()
    def predict(self, wave: np.ndarray, sr: int = 16_000, *, enhance: bool = True,
                speaker_clips: Sequence[np.ndarray] | None = None) -> str:
        """The CA's prediction; ``enhance=False`` skips the AE (the CA alone on the input).

        ``speaker_clips``: other clean clips of the same speaker (at ``sr``) for a model trained with
        ``ser_speaker_norm``; their mean profile normalises the features, as in training. Without them
        the training speakers' mean profile stands in.
        """
        profile = None
        if speaker_clips is not None:
            if not getattr(self.ca, "speaker_norm", False):
                raise ValueError(f"{self.run_dir}: its CA was not trained with ser_speaker_norm; drop speaker_clips")
            n = int(round(clip_seconds(self.cfg, self.task_spec) * self.cfg.sample_rate))
            profile = wave_profiles([self._prepare(c, sr)[0].numpy() for c in speaker_clips], n, self.ca).mean(0, keepdim=True)
        x = torch.from_numpy(self.enhance(wave, sr))[None] if enhance else self._prepare(wave, sr)
        return predict_batch(self.task_spec, self.ca, x, torch.tensor([x.shape[1]]), self.labels, profile)[0]


def load_run(run_dir: str | Path) -> Pipeline:
    """Rebuild a run's models from ``checkpoints/best.th`` on the CPU."""
    run_dir = Path(run_dir)
    best = run_dir / "checkpoints" / "best.th"
    if not best.exists():
        raise FileNotFoundError(f"{best} not found: the run has not finished training (re-run it to resume)")
    saved = torch.load(best, map_location="cpu", weights_only=False)
    d = dict(saved["config"])
    cfg = make_config(d.pop("preset"), **{k: tuple(v) if k == "test_snrs" else v for k, v in d.items()})
    ae = deserialize(saved["ae"]).eval() if saved["ae"] is not None else None
    ca = deserialize(saved["ca"]).eval()
    return Pipeline(run_dir, cfg, saved["labels"], ae, ca, get_task(cfg.task))


def main(argv: list[str] | None = None) -> None:
    """``python -m aelib.runs --task kws --paradigm cascade --preset smoke [--key value ...]``."""
    p = argparse.ArgumentParser(description="Train and evaluate one aelib run (resumes if interrupted).")
    p.add_argument("--task", required=True)
    p.add_argument("--paradigm", required=True)
    p.add_argument("--preset", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--study", default="default")
    p.add_argument("--data-dir", default="")
    p.add_argument("--run-root", default="runs")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="other Config fields (JSON values)")
    a = p.parse_args(argv)
    extra = parse_sets(a.set)
    cfg = make_config(a.preset, task=a.task, paradigm=a.paradigm, seed=a.seed, study=a.study,
                      data_dir=a.data_dir, run_root=a.run_root, **extra)
    metrics = execute(cfg)
    if metrics:  # rank 0 (or a single process)
        print(json.dumps(metrics["headline"], indent=1))


if __name__ == "__main__":
    main()
