"""The one trainer that every paradigm drives.

``Trainer`` runs a paradigm's phases in order. Per epoch it trains, validates, keeps the best state
of the phase (by validation only: test data is never looked at here), appends to ``history.json``
and writes ``checkpoints/checkpoint.th`` atomically, so re-running the same command resumes where
the last finished epoch left off. At the end of each phase the best state is restored
(denoiser's Solver does the same); with ``ca_ema_halflife`` > 0 the CA's weights are averaged over the
phase (:mod:`aelib.averaging`), and the average is what is validated and kept. A non-finite loss stops the
run with an error and leaves the last good checkpoint in place.

Shared phases (``ae_pretrain``, ``ca_clean``) are stored once per task, seed and relevant settings
under ``<run_root>/_shared/<task>/seed<k>/`` (keyed by a hash of the settings they depend on) and
reused by every paradigm, and every study (ablations included), that starts with them; a file lock
makes parallel study workers compute each one only once.
"""
from __future__ import annotations

import contextlib
import copy
import fcntl
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed as dist
from . import layout
from .averaging import WeightAverage
from .config import Config, settings_hash, shared_settings
from .data import DataBundle
from .device import pick_device, to_device
from .errors import UserError
from .evaluate import predict_batch
from .files import atomic_save, atomic_write_json
from .losses import ae_loss
from .paradigms import Phase, ca_input, phases, step_loss


class NonFiniteLossError(UserError, RuntimeError):
    """Training produced NaN or Inf; the last good checkpoint is kept."""


def shared_key(cfg: Config, phase: Phase, data: str = "") -> str:
    """Hash of what a shared phase depends on: the settings whose Config fields say they key it
    (:func:`aelib.config.shared_settings`), the phase's name and epochs, and ``data``, the corpus fingerprint
    (:func:`aelib.data.corpus_fingerprint`), so that a stage made on one version of a corpus is never loaded
    by a run on another."""
    keys = shared_settings(cfg)
    keys["epochs"] = phase.epochs
    keys["phase"] = phase.name
    if data:
        keys["data"] = data
    return settings_hash(keys)


def lr_factor(schedule: str, progress: float) -> float:
    """The learning rate's multiplier at ``progress`` (0 at a phase's first step, -> 1 at its end):
    ``constant`` 1; ``cosine`` half a cosine from 1 to 0, which lets the last epochs settle instead of
    swinging (SGDR without restarts, Loshchilov & Hutter 2017)."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr schedule {schedule!r}")


class Trainer:
    """Runs the phases of ``cfg.paradigm`` on ``data`` for an AE (or None) and a CA model."""

    def __init__(self, cfg: Config, data: DataBundle, ae: nn.Module | None, ca: nn.Module, run_dir: str | Path,
                 *, progress: bool = True) -> None:
        self.cfg, self.data, self.task = cfg, data, data.task
        self.device = pick_device(cfg.device)
        data.attach_profiles(ca)  # speaker_norm only; before the first state is saved: it sets the model's prior
        self.ae = ae.to(self.device) if ae is not None else None
        self.ca = ca.to(self.device)
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.shared_dir = layout.shared_dir(cfg.run_root, cfg.task, cfg.seed)
        self.progress = progress and dist.is_main()  # one set of bars under torchrun
        self.phases = phases(cfg)
        self.history: list[dict[str, Any]] = []
        self.importance_log: dict[str, list[float]] = {}

    # ---- state -------------------------------------------------------------------------------
    def models(self) -> dict[str, nn.Module]:
        return {"ae": self.ae, "ca": self.ca} if self.ae is not None else {"ca": self.ca}

    def state(self) -> dict[str, Any]:
        return {k: copy.deepcopy(m.state_dict()) for k, m in self.models().items()}

    def load_state(self, state: dict[str, Any]) -> None:
        for k, m in self.models().items():
            if k in state:
                m.load_state_dict(state[k])

    def optimizer(self, phase: Phase) -> torch.optim.Optimizer:
        groups = [{"params": list(self.models()[k].parameters()), "lr": self.base_lr(k)} for k in phase.trains]
        return torch.optim.Adam(groups, weight_decay=self.cfg.weight_decay)

    def base_lr(self, model: str) -> float:
        return self.cfg.ae_lr if model == "ae" and self.cfg.ae_lr > 0 else self.cfg.lr

    def schedule(self, phase: Phase, opt: torch.optim.Optimizer, progress: float) -> None:
        """Set each trained model's lr for ``progress`` in [0, 1) of the phase by its schedule (``ca_lr_schedule``,
        ``ae_lr_schedule``): a pure function of it, so a resumed run continues the same curve (the optimizer's
        groups follow ``phase.trains``); a constant schedule leaves the group as the optimizer made it."""
        for k, g in zip(phase.trains, opt.param_groups):
            kind = self.cfg.ca_lr_schedule if k == "ca" else self.cfg.ae_lr_schedule
            if kind != "constant":
                g["lr"] = self.base_lr(k) * lr_factor(kind, progress)

    def _save_checkpoint(self, pi: int, epoch: int, opt, best_state, best_score, ema=None) -> None:
        if not dist.is_main():
            return
        atomic_save({"phase_index": pi, "epoch": epoch, "models": self.state(), "optimizer": opt.state_dict(),
                     "best_state": best_state, "best_score": best_score, "history": self.history,
                     "importance": self.importance_log, "ema": ema.state_dict() if ema else None},
                    self.ckpt_dir / "checkpoint.th")
        atomic_write_json(self.run_dir / "history.json", self.history)

    # ---- loops -------------------------------------------------------------------------------
    def set_modes(self, phase: Phase, train: bool) -> None:
        for k, m in self.models().items():
            m.train(train and k in phase.trains)
            for p in m.parameters():
                p.requires_grad_(k in phase.trains)

    def autocast(self):
        if self.cfg.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_epoch(self, phase: Phase, epoch: int, opt: torch.optim.Optimizer,
                    ema: WeightAverage | None = None) -> dict[str, Any]:
        self.set_modes(phase, True)
        torch.manual_seed(self.cfg.seed * 100_003 + 1000 * self.phases.index(phase) + epoch)  # resume == no break
        ds = self.data.train_set(clean_only=phase.step == "ca" and phase.ca_input == "clean")
        ds.set_epoch(epoch + 1000 * self.phases.index(phase))
        loader = self.data.loader(ds, shuffle=True, epoch=epoch + 1000 * self.phases.index(phase))
        total, n, weights = 0.0, 0, []
        bar = tqdm(loader, desc=f"{phase.name} {epoch + 1}/{phase.epochs}", leave=False, disable=not self.progress)
        n_steps = len(loader)
        for step, batch in enumerate(bar):
            self.schedule(phase, opt, (epoch * n_steps + step) / (phase.epochs * n_steps))
            batch = to_device(batch, self.device)
            with self.autocast():
                loss, info = step_loss(phase, batch, self.ae, self.ca, self.task, self.cfg)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"non-finite loss ({float(loss.detach())}) in phase {phase.name}, epoch {epoch + 1}, step {step}; "
                    f"the last good checkpoint is kept in {self.ckpt_dir}. Lower lr or grad_clip and re-run.")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            params = [p for g in opt.param_groups for p in g["params"]]
            dist.average_gradients(params)  # no-op in a single process
            if self.cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            opt.step()
            if ema is not None:
                ema.update(n_steps)
            bs = len(batch["length"])
            total += float(loss.detach()) * bs
            n += bs
            if "weights" in info:
                weights.extend(info["weights"].tolist())
            bar.set_postfix(loss=f"{total / n:.4f}")
        for k in phase.trains:
            dist.sync_buffers(self.models()[k])
        out: dict[str, Any] = {"train_loss": total / max(n, 1)}
        if weights:
            w = np.asarray(weights)
            self.importance_log.setdefault(phase.name, []).extend(np.round(w, 4).tolist())
            out.update(w_mean=float(w.mean()), w_std=float(w.std()), w_max=float(w.max()),
                       w_min=float(w.min()), w_p90=float(np.quantile(w, 0.9)))
        return out

    @torch.no_grad()
    def validate(self, phase: Phase) -> dict[str, float]:
        """Validation score (higher is better) for best-state selection, on the val split only."""
        for m in self.models().values():
            m.eval()
        ds = self.data.val_set(clean_only=phase.ca_input == "clean")
        loader = self.data.loader(ds, shuffle=False)
        if phase.select_by == "ae":
            losses = []
            for batch in loader:
                batch = to_device(batch, self.device)
                losses.append(ae_loss(self.cfg.ae_loss)(self.ae(batch["noisy"]), batch["clean"], batch["noisy"]))
            val = float(torch.cat(losses).mean())
            return {"val_ae_loss": val, "score": -val}
        preds, refs = [], []
        for batch in loader:
            batch = to_device(batch, self.device)
            x = ca_input(phase, batch, self.ae)
            preds.extend(predict_batch(self.task, self.ca, x, batch["length"], self.data.labels, batch.get("profile")))
            refs.extend(ds.rows[int(i)]["label"] for i in batch["index"])
        scores = self.task.score(preds, refs, self.data.labels)
        m = scores[self.task.primary_metric]
        return {**{f"val_{k}": v for k, v in scores.items()}, "score": m if self.task.higher_is_better else -m}

    def run_phase(self, pi: int, start_epoch: int = 0, opt_state=None, best_state=None, best_score=-math.inf,
                  ema_state=None) -> None:
        phase = self.phases[pi]
        opt = self.optimizer(phase)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        halflife = self.cfg.ca_ema_halflife if "ca" in phase.trains else 0.0
        ema = WeightAverage(self.ca, halflife) if halflife > 0 else None
        if ema is not None:
            ema.load_state_dict(ema_state)
        for epoch in range(start_epoch, phase.epochs):
            t0 = time.time()
            log = self.train_epoch(phase, epoch, opt, ema)
            with ema.swapped() if ema is not None else contextlib.nullcontext():  # validate and keep the average
                val = self.validate(phase)
                if val["score"] > best_score or best_state is None:
                    best_score, best_state = val["score"], self.state()
            self.history.append({"phase": phase.name, "step": phase.step, "epoch": epoch + 1, **log, **val,
                                 "seconds": round(time.time() - t0, 3)})
            self._save_checkpoint(pi, epoch + 1, opt, best_state, best_score, ema)
        if best_state is not None:
            self.load_state(best_state)

    def _run_shared(self, pi: int) -> None:
        """Load a shared phase's result if another paradigm already made it; else make and store it."""
        phase = self.phases[pi]
        path = self.shared_dir / f"{phase.name}-{shared_key(self.cfg, phase, self.data.fingerprint)}.th"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            if dist.is_main():
                fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel worker computing the same phase finishes first
            if dist.broadcast_flag(path.exists()):
                saved = torch.load(path, map_location=self.device, weights_only=False)
                self.load_state({k: saved["models"][k] for k in phase.trains})
                # the shared stage's file as history.json, a committed file, may name it (no absolute path)
                self.history.extend({**h, "reused": layout.relative_to_repo(path)} for h in saved["history"])
                return
            before = len(self.history)
            self.run_phase(pi)
            if dist.is_main():
                atomic_save({"models": {k: self.models()[k].state_dict() for k in phase.trains},
                             "history": self.history[before:]}, path)
            dist.barrier()

    def fit(self) -> list[dict[str, Any]]:
        """Run (or resume) every phase; returns the history."""
        start_pi, start = 0, None
        ckpt = self.ckpt_dir / "checkpoint.th"
        if ckpt.exists():
            start = torch.load(ckpt, map_location=self.device, weights_only=False)
            self.load_state(start["models"])
            self.history, self.importance_log = start["history"], start.get("importance", {})
            start_pi = start["phase_index"]
            if start["epoch"] >= self.phases[start_pi].epochs:  # that phase finished; its best state holds
                self.load_state(start["best_state"])
                start_pi, start = start_pi + 1, None
        bar = tqdm(range(start_pi, len(self.phases)), desc=f"{self.cfg.task}/{self.cfg.paradigm}",
                   disable=not self.progress)
        for pi in bar:
            phase = self.phases[pi]
            bar.set_postfix(phase=phase.name)
            if start is not None and pi == start_pi:
                self.run_phase(pi, start["epoch"], start["optimizer"], start["best_state"], start["best_score"],
                               start.get("ema"))
            elif phase.shared:
                self._run_shared(pi)
                dummy = self.optimizer(phase)
                self._save_checkpoint(pi, phase.epochs, dummy, self.state(), 0.0)
            else:
                self.run_phase(pi)
            start = None
        if not dist.is_main():
            return self.history
        atomic_write_json(self.run_dir / "history.json", self.history)
        if self.importance_log:
            atomic_write_json(self.run_dir / "importance.json", self.importance_log)
        return self.history
