"""Fit a front-end to the user's downstream model: the paradigms of :mod:`aelib.paradigms`, for any model.

:func:`fit_frontend` trains aelib's U-Net (:class:`aelib.models.UNetEnhancer`) with its waveform loss
(:func:`aelib.losses.ae_loss`) on the user's clips mixed with their noise, and, where the paradigm says
so, the user's model with its own loss:

``cascade``    AE pre-training; a trainable model is then fine-tuned on the (frozen) AE's output.
``joint``      AE pre-training, then L_AE + lambda * L_CA through the AE (the model updated only when
               trainable; a frozen model passes its loss's gradient to the AE and changes nothing itself).
``iterative``  AE pre-training, then ``rounds`` x (importance-weighted AE epochs, model epochs on enhanced
               audio when trainable). Importance (:func:`aelib.importance.importance_weights`) comes from
               the model's per-sample loss on the enhanced sample, detached, per batch; for a black box from
               its per-sample errors on the round's fixed mixtures, computed once per round.
``noisy``      (trainable only) no AE: the model fine-tuned on noisy audio.

``observation_weights`` (Iwamoto et al., Interspeech 2022: artefacts, not residual noise, hurt frozen
recognisers most) mixes the noisy input back: ``y = (1 - a) * AE(x) + a * x``, ``a`` chosen on validation
mixtures by the downstream error (0 is one of the candidates, so it can only help on validation).
Test data is never used here. The result is a :class:`FrontEnd`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..audio import as_waveform
from ..importance import importance_weights
from ..losses import ae_loss as ae_loss_fn
from ..models import UNetEnhancer
from .data import ClipSet, NoiseSet, mixtures
from .downstream import BlackBox, Downstream, check_paradigm, pad


class FrontEnd(nn.Module):
    """The fitted front-end: a U-Net (None: the identity) and the observation-adding weight ``a``."""

    def __init__(self, unet: nn.Module | None, observation_weight: float = 0.0) -> None:
        super().__init__()
        self.unet, self.observation_weight = unet, float(observation_weight)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        if self.unet is None:
            return noisy
        a = self.observation_weight
        return self.unet(noisy) if a == 0 else (1 - a) * self.unet(noisy) + a * noisy

    @torch.no_grad()
    def enhance(self, wave: Any, sr: int = 16_000) -> np.ndarray:
        """One wave (any dtype, channels, rate: :func:`aelib.audio.as_waveform`) -> enhanced, 16 kHz float32."""
        self.eval()
        x = torch.from_numpy(as_waveform(wave, sr, 16_000, min_samples=512, max_seconds=600.0))[None]
        return self(x)[0].numpy()


@dataclass
class FitSettings:
    """The knobs of :func:`fit_frontend` (defaults: a short CPU fit; raise the epochs for a real one)."""

    ae_epochs: int = 4
    rounds: int = 2
    ae_epochs_per_round: int = 1
    ca_epochs: int = 2  # cascade / noisy fine-tuning of a trainable model; joint's epochs
    ca_epochs_per_round: int = 1
    batch_size: int = 8
    lr: float = 1e-3  # the AE's (the model's is Downstream.lr)
    ae_loss: str = "wsdr"
    importance: str = "ratio"
    importance_w_max: float = 5.0
    importance_temperature: float = 1.0
    joint_lambda: float = 0.3
    train_snrs: tuple[float, float] = (-5.0, 20.0)
    val_snrs: tuple[float, ...] = (-5.0, 0.0, 5.0)
    clip_seconds: float = 2.0
    width: int = 16
    observation_weights: tuple[float, ...] = (0.0,)
    seed: int = 0
    progress: bool = True
    init: nn.Module | None = None  # an AE to start from (copied), e.g. load_run(...).ae; None: a new U-Net


@dataclass
class Fit:
    """What :func:`fit_frontend` returns: the front-end, the model (a copy when it was trained), the log."""

    frontend: FrontEnd
    downstream: Downstream | BlackBox
    history: list[dict[str, Any]] = field(default_factory=list)
    observation: dict[float, float] = field(default_factory=dict)  # candidate a -> validation error


def _batches(mix: list[dict[str, Any]], size: int, rng: np.random.Generator):
    order = rng.permutation(len(mix))
    for i in range(0, len(order), size):
        rows = [mix[j] for j in order[i:i + size]]
        noisy, lengths = pad([r["noisy"] for r in rows])
        clean, _ = pad([r["clean"] for r in rows])
        yield rows, noisy, clean, lengths


def _masked(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return x * (torch.arange(x.shape[-1])[None, :] < lengths[:, None])


class _Fitter:
    def __init__(self, downstream, train: ClipSet, val: ClipSet, noise_train: NoiseSet, noise_val: NoiseSet,
                 s: FitSettings) -> None:
        self.d, self.train, self.val, self.nt, self.nv, self.s = downstream, train, val, noise_train, noise_val, s
        torch.manual_seed(s.seed)
        self.ae = copy.deepcopy(s.init) if s.init is not None else UNetEnhancer(width=s.width)
        self.ae_loss = ae_loss_fn(s.ae_loss)
        self.history: list[dict[str, Any]] = []

    def round_mixtures(self, epoch_key: int) -> list[dict[str, Any]]:
        return mixtures(self.train, self.nt, self.s.train_snrs, seed=self.s.seed * 100_003 + epoch_key,
                        clip_samples=int(self.s.clip_seconds * 16_000))

    def epoch(self, phase: str, key: int, *, ae: bool, ca: bool, weights: np.ndarray | None = None,
              mix: list[dict[str, Any]] | None = None) -> None:
        """One pass: ``ae`` / ``ca`` say which weights train; ``phase`` picks the loss."""
        mix = mix if mix is not None else self.round_mixtures(key)
        params = ([*self.ae.parameters()] if ae else []) + ([*self.d.model.parameters()] if ca else [])
        groups = ([{"params": [*self.ae.parameters()], "lr": self.s.lr}] if ae else []) + \
                 ([{"params": [*self.d.model.parameters()], "lr": self.d.lr}] if ca else [])
        opt = torch.optim.Adam(groups)
        self.ae.train(ae)
        if isinstance(self.d, Downstream):
            self.d.model.train(ca)
            for p in self.d.model.parameters():
                p.requires_grad_(ca)
        rng = np.random.default_rng(self.s.seed * 7919 + key)
        total, n = 0.0, 0
        for rows, noisy, clean, lengths in tqdm(list(_batches(mix, self.s.batch_size, rng)), leave=False,
                                                desc=f"{phase} {key}", disable=not self.s.progress):
            loss = self.step(phase, rows, noisy, clean, lengths, weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            total, n = total + float(loss.detach()) * len(rows), n + len(rows)
        self.history.append({"phase": phase, "epoch": key, "train_loss": total / max(n, 1)})

    def step(self, phase, rows, noisy, clean, lengths, weights) -> torch.Tensor:
        targets = [r["target"] for r in rows]
        if phase == "noisy":
            return self.d.losses(noisy, lengths, targets).mean()
        if phase == "ca_enhanced":
            with torch.no_grad():
                x = _masked(self.ae.eval()(noisy), lengths)
            return self.d.losses(x, lengths, targets).mean()
        est = _masked(self.ae(noisy), lengths)
        l_ae = self.ae_loss(est, clean, noisy)
        if phase == "ae":
            return l_ae.mean()
        if phase == "joint":
            return l_ae.mean() + self.s.joint_lambda * self.d.losses(est, lengths, targets).mean()
        if weights is not None:  # black box: weights of the round's fixed mixtures
            w = torch.as_tensor(weights[[r["index"] for r in rows]], dtype=l_ae.dtype)
        else:
            with torch.no_grad():
                l_ca = self.d.losses(est.detach(), lengths, targets)
            w = importance_weights(l_ca, self.s.importance, w_max=self.s.importance_w_max,
                                   temperature=self.s.importance_temperature)
        return (w * l_ae).sum() / w.sum().clamp_min(1e-8)

    @torch.no_grad()
    def enhanced(self, mix: list[dict[str, Any]], a: float = 0.0) -> list[np.ndarray]:
        fe = FrontEnd(self.ae, a).eval()
        return [fe(torch.from_numpy(r["noisy"][None]))[0, : r["length"]].numpy() for r in mix]

    def black_box_weights(self, mix: list[dict[str, Any]]) -> np.ndarray:
        errors = self.d.errors(self.enhanced(mix), [r["target"] for r in mix])
        return importance_weights(torch.as_tensor(errors), self.s.importance, w_max=self.s.importance_w_max,
                                  temperature=self.s.importance_temperature).numpy()

    def val_error(self, a: float) -> float:
        mix = mixtures(self.val, self.nv, self.s.val_snrs, seed=self.s.seed, grid=True)
        return float(np.mean(self.d.errors(self.enhanced(mix, a), [r["target"] for r in mix])))


def fit_frontend(downstream: Downstream | BlackBox, train: ClipSet, val: ClipSet, noise_train: NoiseSet,
                 noise_val: NoiseSet, paradigm: str = "iterative", settings: FitSettings | None = None,
                 **changes: Any) -> Fit:
    """Train a front-end (and, for a trainable model, the model) by ``paradigm``; see the module docstring.

    ``settings`` and keyword ``changes`` (field names of :class:`FitSettings`) set the knobs. A trainable
    model is copied first: the caller's model is never changed.
    """
    s = FitSettings(**{**(settings.__dict__ if settings else {}), **changes})
    check_paradigm(downstream, paradigm)
    if isinstance(downstream, Downstream) and downstream.trainable:
        downstream = Downstream(copy.deepcopy(downstream.model), downstream.loss, True, downstream.error,
                                downstream.lr)
    for name, clips in (("train", train), ("val", val)):
        if len(clips) == 0:
            raise ValueError(f"the {name} clips are empty")
    f = _Fitter(downstream, train, val, noise_train, noise_val, s)
    trainable = isinstance(downstream, Downstream) and downstream.trainable
    flags = [p.requires_grad for p in downstream.model.parameters()] if isinstance(downstream, Downstream) else []
    key = 0
    if paradigm == "noisy":
        for _ in range(s.ca_epochs):
            f.epoch("noisy", key := key + 1, ae=False, ca=True)
        return Fit(FrontEnd(None), downstream, f.history)
    for _ in range(s.ae_epochs):
        f.epoch("ae", key := key + 1, ae=True, ca=False)
    if paradigm == "cascade" and trainable:
        for _ in range(s.ca_epochs):
            f.epoch("ca_enhanced", key := key + 1, ae=False, ca=True)
    elif paradigm == "joint":
        for _ in range(s.ca_epochs):
            f.epoch("joint", key := key + 1, ae=True, ca=trainable)
    elif paradigm == "iterative":
        for r in range(s.rounds):
            if isinstance(downstream, BlackBox):  # one call per clip per round: the round's mixtures are fixed
                mix = [{**m, "index": i} for i, m in enumerate(f.round_mixtures(10_000 + r))]
                w = f.black_box_weights(mix)
                f.history.append({"phase": f"round{r + 1}_importance", "w_mean": float(w.mean()),
                                  "w_max": float(w.max()), "w_min": float(w.min())})
                for _ in range(s.ae_epochs_per_round):
                    f.epoch("ae_weighted", key := key + 1, ae=True, ca=False, weights=w, mix=mix)
            else:
                for _ in range(s.ae_epochs_per_round):
                    f.epoch("ae_weighted", key := key + 1, ae=True, ca=False)
            if trainable:
                for _ in range(s.ca_epochs_per_round):
                    f.epoch("ca_enhanced", key := key + 1, ae=False, ca=True)
    f.ae.eval()
    if isinstance(downstream, Downstream):  # a frozen model leaves as it came
        for p, flag in zip(downstream.model.parameters(), flags):
            p.requires_grad_(flag)
    observation = {float(a): f.val_error(float(a)) for a in s.observation_weights}
    best = min(observation, key=lambda a: (observation[a], a))
    return Fit(FrontEnd(f.ae, best), downstream, f.history, observation)


def arms(downstream: Downstream | BlackBox, fits: dict[str, Fit]) -> dict[str, tuple[FrontEnd | None, Any]]:
    """``{"none": (None, downstream), name: (fit.frontend, fit.downstream), ...}``: what
    :func:`aelib.own.evaluate.evaluate` compares (a fit of a trainable model carries its own fine-tuned copy)."""
    return {"none": (None, downstream), **{k: (f.frontend, f.downstream) for k, f in fits.items()}}
