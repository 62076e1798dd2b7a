"""The downstream model a user brings: a torch model with a per-sample loss, or a black box.

Three kinds, and the paradigms that make sense for each (:data:`PARADIGMS`):

``trainable``  a :class:`Downstream` that aelib may update: every paradigm (``noisy`` and ``cascade``
               fine-tune it; ``joint`` trains both; ``iterative`` alternates importance-weighted AE epochs
               and epochs of the model on enhanced audio).
``frozen``     a :class:`Downstream` with ``trainable=False``: its weights never change. ``cascade`` (the AE
               by its own loss), ``joint`` (the AE by L_AE + lambda L_CA, the loss flowing through the
               frozen model into the AE), ``iterative`` (importance-weighted AE rounds alone).
``black box``  a :class:`BlackBox`: a callable from waves (and targets) to per-sample errors, no gradient.
               ``cascade`` and ``iterative`` (importance from its per-sample errors, computed once per
               round on that round's fixed mixtures, since a call may be slow).

The paper's iterative AE phase needs only the downstream model's per-sample loss, never its gradient,
which is why a frozen or black-box recogniser can still get a front-end fitted to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..audio import resample
from ..errors import UserError

PARADIGMS = {"trainable": ("noisy", "cascade", "joint", "iterative"),
             "frozen": ("cascade", "joint", "iterative"),
             "black box": ("cascade", "iterative")}


class DownstreamError(UserError, ValueError):
    """The model, loss or black box a user brought does not keep the contract (shape, finiteness, type)."""


def _per_sample(values: Any, batch: int, what: str) -> torch.Tensor:
    """``values`` as a 1-D float tensor of ``batch`` finite numbers, else a DownstreamError naming the problem."""
    t = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values, dtype=np.float64))
    if t.dim() == 2 and t.shape[1] == 1:
        raise DownstreamError(f"{what} returned shape {tuple(t.shape)}: squeeze it to [batch] ({batch} values)")
    if t.dim() != 1 or t.shape[0] != batch:
        hint = " (a mean over the batch? use reduction='none')" if t.dim() == 0 else ""
        raise DownstreamError(f"{what} must return one value per sample, shape [{batch}], got "
                              f"{tuple(t.shape)}{hint}")
    if not t.is_floating_point():
        t = t.float()
    bad = int((~torch.isfinite(t.detach())).sum())
    if bad:
        raise DownstreamError(f"{what} returned {bad} NaN or infinite value(s) of {batch}")
    return t


@dataclass
class Downstream:
    """A torch model and its per-sample loss.

    Args:
        model: the user's ``nn.Module``; it takes what ``loss`` gives it (aelib never calls it directly).
        loss: ``loss(model, waves, lengths, targets) -> Tensor[batch]``: waves ``[batch, time]`` float at 16 kHz
            (zero-padded after ``lengths``), ``targets`` the batch's targets as a list. Differentiable with
            respect to ``waves`` for ``joint``; a per-sample value, not a mean.
        trainable: whether aelib may update the model's weights.
        error: ``error(model, waves, lengths, targets) -> per-sample errors`` for evaluation (e.g. 0/1 for a
            wrong class, or WER); default: the loss.
        lr: the model's learning rate when it is trained.
    """

    model: nn.Module
    loss: Callable[..., torch.Tensor]
    trainable: bool = True
    error: Callable[..., Any] | None = None
    lr: float = 1e-4

    def __post_init__(self) -> None:
        if not isinstance(self.model, nn.Module):
            raise DownstreamError(f"Downstream.model must be a torch.nn.Module, got {type(self.model).__name__}; "
                                  "for a callable without gradients use aelib.own.BlackBox")
        if not callable(self.loss):
            raise DownstreamError("Downstream.loss must be callable: loss(model, waves, lengths, targets)")

    @property
    def kind(self) -> str:
        return "trainable" if self.trainable else "frozen"

    def losses(self, waves: torch.Tensor, lengths: torch.Tensor, targets: Sequence[Any]) -> torch.Tensor:
        """Per-sample losses, checked: shape [batch], finite."""
        return _per_sample(self.loss(self.model, waves, lengths, list(targets)), len(targets), "the loss")

    @torch.no_grad()
    def errors(self, waves: Sequence[np.ndarray], targets: Sequence[Any]) -> np.ndarray:
        """Per-sample evaluation errors of 16 kHz waves (the ``error`` callable, else the loss), model in eval."""
        was = self.model.training
        self.model.eval()
        try:
            x, lengths = pad(waves)
            fn = self.error or self.loss
            return _per_sample(fn(self.model, x, lengths, list(targets)), len(targets), "the error").numpy()
        finally:
            self.model.train(was)


@dataclass
class BlackBox:
    """A recogniser aelib can only call: ``fn(waves, targets) -> per-sample errors`` (lower is better).

    Args:
        fn: takes a list of 1-D float32 numpy waves at ``sr`` and the list of their targets; returns one
            finite error per wave (per-utterance WER, 1 - confidence, 0/1 wrong ...).
        sr: the rate ``fn`` expects; waves are resampled from 16 kHz to it.
        batch_size: waves per call.
    """

    fn: Callable[[list[np.ndarray], list[Any]], Any]
    sr: int = 16_000
    batch_size: int = 16
    calls: int = field(default=0, init=False)

    kind = "black box"

    def __post_init__(self) -> None:
        if isinstance(self.fn, nn.Module):
            raise DownstreamError("a torch model is a Downstream(model, loss), not a BlackBox: it can give gradients")
        if not callable(self.fn):
            raise DownstreamError("BlackBox.fn must be callable: fn(waves, targets) -> per-sample errors")
        if not isinstance(self.sr, int) or self.sr <= 0:
            raise DownstreamError(f"BlackBox.sr must be a positive whole number of Hz, got {self.sr!r}")

    def errors(self, waves: Sequence[np.ndarray], targets: Sequence[Any]) -> np.ndarray:
        """Per-sample errors of 16 kHz waves, ``batch_size`` per call of ``fn``."""
        out = []
        for i in range(0, len(waves), self.batch_size):
            chunk = [resample(np.asarray(w, np.float32), 16_000, self.sr) for w in waves[i:i + self.batch_size]]
            self.calls += 1
            out.append(_per_sample(self.fn(chunk, list(targets[i:i + self.batch_size])), len(chunk),
                                   "the black box").numpy())
        return np.concatenate(out) if out else np.zeros(0)


def kind_of(downstream: Any) -> str:
    if isinstance(downstream, (Downstream, BlackBox)):
        return downstream.kind
    raise DownstreamError(f"expected an aelib.own.Downstream or BlackBox, got {type(downstream).__name__}")


def check_paradigm(downstream: Any, paradigm: str) -> None:
    """A DownstreamError when ``paradigm`` does not make sense for what the user brought."""
    kind = kind_of(downstream)
    if paradigm not in PARADIGMS[kind]:
        raise DownstreamError(f"paradigm {paradigm!r} needs {'a trainable model' if paradigm == 'noisy' else 'gradients'}"
                              f"; for a {kind} downstream model choose one of {PARADIGMS[kind]}")


def pad(waves: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad 1-D waves into ``[batch, max_len]`` and their lengths."""
    n = max((len(w) for w in waves), default=0)
    x = torch.zeros(len(waves), max(n, 1))
    for i, w in enumerate(waves):
        x[i, : len(w)] = torch.as_tensor(np.asarray(w, np.float32))
    return x, torch.tensor([len(w) for w in waves], dtype=torch.long)
