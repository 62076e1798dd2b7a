"""Keyword spotting: 1-s clips, accuracy; the model is the paper's raw-audio 1-D CNN (Fig. 3) or, with
``kws_features="logmel"``, a 2-D CNN on log-mel features."""
from typing import Any, Sequence

from torch import nn

from .. import metrics
from ..models import KWSLogMelNet
from .base import TaskSpec, register


class KWSSpec(TaskSpec):
    def build_model(self, cfg: Any, labels: Sequence[str], texts: Sequence[str] = ()) -> nn.Module:
        if cfg.kws_features == "logmel":
            return KWSLogMelNet(len(labels), width=cfg.ca_width, n_mels=cfg.n_mels, sample_rate=cfg.sample_rate)
        return super().build_model(cfg, labels, texts)

    def score(self, preds: Sequence[str], refs: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        return {"accuracy": metrics.accuracy(preds, refs)}


KWS = register(KWSSpec(
    name="kws", clip_seconds=1.0, interferer="noise", primary_metric="accuracy", higher_is_better=True,
    model="kws", description="keyword spotting (accuracy)", voiceless_labels=("_silence_",),
))
