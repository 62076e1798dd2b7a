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
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torchaudio

from . import distributed as dist
from .audio import as_waveform
from .config import Config, make_config, parse_sets
from .data import clip_seconds, corpus_fingerprint, load_data
from .device import cpu_model, seed_everything
from .errors import UserError, guard
from .evaluate import by_source, evaluate, headline, predict_batch
from .files import atomic_save, atomic_write_json, write_csv
from .layout import REPO, relative_to_repo
from .models import SpectralGate, UNetEnhancer, deserialize, serialize
from .models.frontends import set_feature_augment
from .paradigms import uses_ae
from .profiles import wave_profiles
from .tasks import get_task
from .train import Trainer


class RunExistsError(UserError, RuntimeError):
    """The run folder holds a run made with different settings."""


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def versions() -> dict[str, str]:
    return {"python": platform.python_version(), "torch": torch.__version__, "torchaudio": torchaudio.__version__,
            "numpy": np.__version__, "platform": platform.platform(), "cpu": cpu_model()}


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / "metrics.json").exists()


# Keys that may differ between the first attempt and a resume without changing the result. ``data_dir`` is
# a path: the corpus it holds is compared by its fingerprint (``data_changed``), so a clone that builds the
# same corpus under another home reads its committed runs as its own.
VOLATILE_KEYS = ("device", "num_workers", "run_root", "data_dir", "extra")


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
    """Create the run folder and write params.json; refuse a folder whose training was started with other
    settings, or on another version of the corpus (``data_fingerprint``, :func:`aelib.data.corpus_fingerprint`):
    resuming it would train one model on two corpora. A folder that holds no training yet (:func:`has_trained`)
    starts over with the new settings."""
    run_dir = cfg.run_dir
    params = run_dir / "params.json"
    new = cfg.to_dict()
    if params.exists() and has_trained(run_dir):  # params.json alone: a run that failed before its first epoch
        old = json.loads(params.read_text())
        diff = settings_diff(old["config"], new)
        if diff:
            raise RunExistsError(
                f"{run_dir} holds an unfinished run made with other settings ({', '.join(diff)}); use another "
                "study name or delete the folder to start over.")
        if data_changed(old, data_fingerprint):
            raise RunExistsError(
                f"{run_dir} holds a run started on another version of the corpus in {cfg.data_dir} (its manifests "
                "changed since); use another study name or delete the folder to start over.")
    run_dir.mkdir(parents=True, exist_ok=True)
    # the recorded copy names its folders as a committed file may (relative to the repository, ~/ under home);
    # cfg itself, and every stage key hashed from it, keeps the paths as given (both keys are VOLATILE_KEYS)
    recorded = {**new, "data_dir": relative_to_repo(new["data_dir"]), "run_root": relative_to_repo(new["run_root"])}
    atomic_write_json(params, {"config": recorded, "data_fingerprint": data_fingerprint, "git_commit": git_commit(),
                               "versions": versions()})
    return run_dir


def has_trained(run_dir: Path) -> bool:
    """Whether an unfinished run folder holds any training (a checkpoint or a history): a folder that holds
    only ``params.json`` is from a run that failed before its first epoch, and may start over."""
    return (run_dir / "history.json").exists() or any((run_dir / "checkpoints").glob("*.th"))


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


def check_finished(cfg: Config) -> None:
    """Refuse to let the finished run in ``cfg.run_dir`` answer for ``cfg`` when it was made with other settings
    (:func:`settings_diff`: the differing keys are named) or on another version of the corpus."""
    params = cfg.run_dir / "params.json"
    if not params.exists():
        return  # a finished run without params.json predates them: nothing to compare
    diff = settings_diff(json.loads(params.read_text())["config"], cfg.to_dict())
    if diff:
        raise RunExistsError(
            f"{cfg.run_dir} holds a finished run made with other settings ({', '.join(diff)}): its results do not "
            "answer for this request; use another study name (--study) or delete the folder to train anew")
    if corpus_changed(cfg):
        raise RunExistsError(
            f"{cfg.run_dir} holds a finished run trained on another version of the corpus than the one in "
            f"{cfg.data_dir} now: its results do not answer for this corpus; use another study name (--study) or "
            "delete the folder to train anew")


def execute(cfg: Config, *, progress: bool = True, force_eval: bool = False) -> dict[str, Any]:
    """Train and evaluate one (task, paradigm, seed) run, resuming if interrupted; returns metrics.

    A finished run with the same settings and corpus is returned as it is (never trained again); one with
    other settings, or on another corpus, is a :class:`RunExistsError` that names the difference
    (:func:`check_finished`), as is an unfinished one (:func:`prepare_run_dir`).
    """
    dist.init()
    run_dir = cfg.run_dir
    task = get_task(cfg.task)
    if is_finished(run_dir) and not force_eval:
        check_finished(cfg)
        return json.loads((run_dir / "metrics.json").read_text())
    seed_everything(cfg.seed)
    data = load_data(cfg, task)  # first: a bad manifest fails before a run folder exists
    ae = build_ae(cfg) if uses_ae(cfg.paradigm) else None
    ca = task.build_model(cfg, data.labels, data.texts)
    if (cfg.ca_vtlp or cfg.ca_specaug) and not set_feature_augment(ca, cfg.ca_vtlp, cfg.ca_specaug):
        raise ValueError(f"ca_vtlp / ca_specaug: the {type(ca).__name__} model of task {cfg.task!r} has no log-mel "
                         "front-end to augment")
    if dist.is_main():
        prepare_run_dir(cfg, data.fingerprint)
    dist.barrier()
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
    return UNetEnhancer(n_fft=cfg.n_fft, hop=cfg.hop, width=cfg.ae_width, depth=cfg.ae_depth, mask=cfg.ae_mask,
                        context=cfg.ae_context)


class Pipeline:
    """A trained run as a tool: ``enhance(wave, sr)`` and ``predict(wave, sr)``.

    ``enhance`` is the identity for paradigms without an AE; ``predict`` applies the run's own AE
    (when it has one) and then its CA, returning a class name, or a transcript for asr.

    Any wave goes through :func:`aelib.audio.as_waveform`, the one input policy: numpy arrays, torch
    tensors or lists; float samples as they are, int16 / int32 PCM scaled to [-1, 1); 1-D, or 2-D with
    the longer axis as time and the channels averaged; any positive whole sample rate, resampled to the
    model's (``cfg.sample_rate``). A wave shorter than :attr:`min_samples` (one STFT frame) or longer than
    :attr:`max_seconds`, or holding NaN or inf, is an :class:`~aelib.audio.AudioError` that says so.
    Digital silence is a valid input: ``enhance`` returns silence (all zeros, for every AE), ``predict``
    the CA's answer for it.
    """

    #: longest wave per call (s). Peak memory measured on one CPU thread: the small preset's U-Net ~0.9 GB
    #: for 10 min and linear in the length (paper preset ~3.4 GB), the CAs ~0.7 GB; the spectral gate's time
    #: smoothing is a frames x frames matrix, so its memory grows with the square of the length (0.35 GB for
    #: 1 min, 1.2 GB for 2 min). Neither AE can be run in chunks that give the one-pass output: both
    #: normalise by statistics of the whole clip (the U-Net's mean log-magnitude, the gate's noise threshold).
    MAX_SECONDS = 600.0
    MAX_SECONDS_GATE = 60.0

    def __init__(self, run_dir: Path, cfg: Config, labels: list[str], ae, ca, task) -> None:
        self.run_dir, self.cfg, self.labels, self.ae, self.ca, self.task_spec = run_dir, cfg, labels, ae, ca, task

    @property
    def task(self) -> str:
        return self.cfg.task

    @property
    def paradigm(self) -> str:
        return self.cfg.paradigm

    @property
    def min_samples(self) -> int:
        """Shortest wave at the model's rate: one STFT frame of the run's AE (the U-Net's ``n_fft``, the gate's
        1024), else the study's ``n_fft``. The models would take fewer, but a label or a mask from less than one
        frame (32 ms) of audio is not a prediction, so it is an error rather than padding."""
        if isinstance(self.ae, SpectralGate):
            return int(self.ae.gate.n_fft)
        return int(getattr(self.ae, "n_fft", self.cfg.n_fft))

    @property
    def max_seconds(self) -> float:
        return self.MAX_SECONDS_GATE if isinstance(self.ae, SpectralGate) else self.MAX_SECONDS

    def _prepare(self, wave: Any, sr: int) -> torch.Tensor:
        return torch.from_numpy(as_waveform(wave, sr, self.cfg.sample_rate, min_samples=self.min_samples,
                                            max_seconds=self.max_seconds))[None]

    @torch.no_grad()
    def enhance(self, wave: Any, sr: int = 16_000) -> np.ndarray:
        """The run's AE on ``wave`` (at ``sr``): float32, 1-D, at the model's rate (``cfg.sample_rate``)."""
        x = self._prepare(wave, sr)
        y = (self.ae(x) if self.ae is not None else x)[0]
        if not torch.isfinite(y).all():  # the input was finite and bounded: a broken model, not bad input
            raise RuntimeError(f"{self.run_dir}: the AE returned non-finite samples for a finite input")
        return y.numpy()

    @torch.no_grad()
    def predict(self, wave: Any, sr: int = 16_000, *, enhance: bool = True,
                speaker_clips: Sequence[Any] | None = None) -> str:
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


class RunFolderError(UserError, FileNotFoundError):
    """``load_run``'s path holds no model: missing, a file, the summaries of a run, or an unfinished run."""


EXAMPLE_RUN = "runs/default/kws/iterative/seed0"


def _command(c: dict[str, Any], study: str) -> str:
    return (f"python -m aelib.runs --task {c['task']} --paradigm {c['paradigm']} --preset {c['preset']} "
            f"--seed {c['seed']} --study {study}")


def _no_model(run_dir: Path) -> RunFolderError:
    """The error for a folder without ``checkpoints/best.th``: what the folder is, and how to get a model."""
    if not run_dir.exists():
        return RunFolderError(f"no run folder at {run_dir}; load_run takes a run folder such as {EXAMPLE_RUN}")
    if not run_dir.is_dir():
        return RunFolderError(f"{run_dir} is a file; load_run takes a run folder such as {EXAMPLE_RUN}")
    if (run_dir / "metrics.json").exists():
        m = json.loads((run_dir / "metrics.json").read_text())
        return RunFolderError(
            f"{run_dir} holds the summaries of a finished run but no model (checkpoints/best.th): the committed "
            f"reference runs hold only summaries, checkpoints are not committed. Train one here with "
            f"`{_command(m, 'mine')}` (a new study name: in this run's own study the finished run is skipped), "
            f"then load_run('runs/mine/{m['task']}/{m['paradigm']}/seed{m['seed']}')")
    if (run_dir / "params.json").exists():
        c = json.loads((run_dir / "params.json").read_text())["config"]
        return RunFolderError(f"{run_dir} has not finished training: re-run the command that started it to resume "
                              f"(`{_command(c, c['study'])}` plus its --set options)")
    return RunFolderError(f"{run_dir} is not a run folder (no params.json); load_run takes a run folder such as "
                          f"{EXAMPLE_RUN}")


def load_run(run_dir: str | Path) -> Pipeline:
    """Rebuild a run's models from ``checkpoints/best.th`` on the CPU.

    Raises:
        RunFolderError (a FileNotFoundError): no model there; the message says what the path is (missing, a
            file, a finished run's summaries without checkpoint, an unfinished run) and how to get one.
    """
    run_dir = Path(run_dir)
    best = run_dir / "checkpoints" / "best.th"
    if not best.is_file():
        raise _no_model(run_dir)
    saved = torch.load(best, map_location="cpu", weights_only=False)
    d = dict(saved["config"])
    cfg = make_config(d.pop("preset"), **{k: tuple(v) if k == "test_snrs" else v for k, v in d.items()})
    ae = deserialize(saved["ae"]).eval() if saved["ae"] is not None else None
    ca = deserialize(saved["ca"]).eval()
    return Pipeline(run_dir, cfg, saved["labels"], ae, ca, get_task(cfg.task))


@guard
def main(argv: list[str] | None = None) -> int:
    """``python -m aelib.runs --task kws --paradigm cascade --preset smoke [--set KEY=VALUE ...]``; a user's mistake
    is one ``error:`` line (:func:`aelib.errors.guard`)."""
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
