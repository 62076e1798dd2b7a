"""Speech emotion recognition: 3-s clips, log-mel CNN, unweighted average recall (UAR)."""
from typing import Sequence

from .. import metrics
from .base import TaskSpec, register


class SERSpec(TaskSpec):
    def score(self, preds: Sequence[str], refs: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        return {"uar": metrics.uar(preds, refs, labels), "accuracy": metrics.accuracy(preds, refs)}


SER = register(SERSpec(
    name="ser", clip_seconds=3.0, interferer="noise", primary_metric="uar", higher_is_better=True,
    model="ser", description="speech emotion recognition (UAR)",
))
