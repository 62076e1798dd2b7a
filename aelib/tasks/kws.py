"""Keyword spotting: 1-s clips, raw-audio 1-D CNN (the paper's Fig. 3), accuracy."""
from typing import Sequence

from .. import metrics
from .base import TaskSpec, register


class KWSSpec(TaskSpec):
    def score(self, preds: Sequence[str], refs: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        return {"accuracy": metrics.accuracy(preds, refs)}


KWS = register(KWSSpec(
    name="kws", clip_seconds=1.0, interferer="noise", primary_metric="accuracy", higher_is_better=True,
    model="kws", description="keyword spotting (accuracy)", voiceless_labels=("_silence_",),
))
