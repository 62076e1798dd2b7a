"""An exponential moving average of a model's weights within one training phase (the ``ca_ema_halflife`` knob).

:class:`WeightAverage` wraps :class:`torch.optim.swa_utils.AveragedModel` (EMA of parameters and buffers,
``get_ema_multi_avg_fn``) with the decay set from a half-life in epochs, so that one value means the same on
every task whatever its steps per epoch. The trainer updates it after each optimizer step, validates the
averaged weights (:meth:`WeightAverage.swapped`) and keeps them as the phase's best state; the raw weights
go on training. Its state goes into the run's checkpoint, so a resumed run averages as an unbroken one.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def decay_for(halflife_epochs: float, steps_per_epoch: int) -> float:
    """The per-step decay whose weight on a step halves after ``halflife_epochs`` epochs."""
    return 0.5 ** (1.0 / (halflife_epochs * max(steps_per_epoch, 1)))


class WeightAverage:
    """EMA of ``model``'s weights; built on the first :meth:`update`, when the steps per epoch are known."""

    def __init__(self, model: nn.Module, halflife_epochs: float) -> None:
        self.model, self.halflife = model, halflife_epochs
        self.avg: AveragedModel | None = None
        self.steps_per_epoch = 0

    def _build(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        fn = get_ema_multi_avg_fn(decay_for(self.halflife, steps_per_epoch))
        self.avg = AveragedModel(self.model, multi_avg_fn=fn, use_buffers=True)

    def update(self, steps_per_epoch: int) -> None:
        """Average in the model's current weights (call after each optimizer step)."""
        if self.avg is None:
            self._build(steps_per_epoch)
        self.avg.update_parameters(self.model)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; its own are put back on leaving."""
        if self.avg is None:
            yield
            return
        own = copy.deepcopy(self.model.state_dict())
        self.model.load_state_dict(self.avg.module.state_dict())
        try:
            yield
        finally:
            self.model.load_state_dict(own)

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.avg is None else {"steps_per_epoch": self.steps_per_epoch, "avg": self.avg.state_dict()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state:
            self._build(state["steps_per_epoch"])
            self.avg.load_state_dict(state["avg"])
