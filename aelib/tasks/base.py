"""The task contract: what the data pipeline, trainer and evaluation need to know about a task.

A task is one frozen :class:`TaskSpec` instance (a subclass where the defaults for single-label
classification do not fit, as for asr) registered with :func:`register` in its own module under
``aelib/tasks/``. Modules there are discovered automatically, so adding a fifth task is one file.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from .. import metrics
from ..losses import ce_loss
from ..models import MODELS

TASKS: dict[str, "TaskSpec"] = {}


def register(spec: "TaskSpec") -> "TaskSpec":
    """Add ``spec`` to :data:`TASKS` (an error if the name is taken by another spec)."""
    if spec.name in TASKS and TASKS[spec.name] != spec:
        raise ValueError(f"task {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec


@dataclass(frozen=True)
class TaskSpec:
    """Single-label classification defaults; override the methods for other task types.

    Attributes:
        name: registry key, also the manifest name (``<name>.csv``).
        clip_seconds: clips are cropped / zero-padded to this length (asr: cropped only).
        interferer: "noise" (noise.csv) or "speech" (noise_asc.csv: speech is the interferer).
        primary_metric: the key of :meth:`score` that model selection and headlines use.
        higher_is_better: direction of ``primary_metric``.
        fixed_length: pad every clip to ``clip_seconds`` (False: keep shorter clips short).
        model: key of :data:`aelib.models.MODELS` built by :meth:`build_model`.
        description: one line for tables and the README.
        voiceless_labels: classes whose clips have no speaker (kws ``_silence_``): left out of the
            per-voice scores (:func:`aelib.evaluate.by_source`).
    """

    name: str
    clip_seconds: float
    interferer: str = "noise"
    primary_metric: str = "accuracy"
    higher_is_better: bool = True
    fixed_length: bool = True
    model: str = ""
    description: str = ""
    voiceless_labels: tuple[str, ...] = ()

    # ---- labels ----------------------------------------------------------------------------
    def labels_from_manifest(self, rows: Sequence[dict], cfg: Any = None) -> list[str]:
        """Sorted class names of the train rows (``cfg`` lets a task choose its output units)."""
        labels = sorted({r["label"] for r in rows if r.get("split", "train") == "train"})
        if not labels:
            raise ValueError(f"{self.name}: no train rows with labels in the manifest")
        return labels

    def encode(self, label: str, labels: Sequence[str]) -> torch.Tensor:
        """Class index as a 0-d LongTensor."""
        try:
            return torch.tensor(list(labels).index(label), dtype=torch.long)
        except ValueError:
            raise KeyError(f"{self.name}: label {label!r} is not one of the training labels {list(labels)}") from None

    # ---- model -----------------------------------------------------------------------------
    def build_model(self, cfg: Any, labels: Sequence[str], texts: Sequence[str] = ()) -> nn.Module:
        """The task's CA; ``texts`` (the training split's labels) for models with text resources (asr)."""
        cls = MODELS[self.model or self.name]
        accepted = inspect.signature(cls).parameters
        common = dict(width=cfg.ca_width, n_mels=cfg.n_mels, sample_rate=cfg.sample_rate, normalize=cfg.ser_feature_norm,
                      speaker_norm=cfg.ser_speaker_norm, prosody=cfg.ser_prosody)
        for knob, arg in (("ser_speaker_norm", "speaker_norm"), ("ser_prosody", "prosody")):
            if getattr(cfg, knob) and arg not in accepted:
                raise ValueError(f"{knob}: the {cls.__name__} model of task {self.name!r} has no {arg} option")
        kwargs = {k: v for k, v in common.items() if k in accepted}
        return cls(len(labels), **kwargs)

    def forward(self, model: nn.Module, wave: torch.Tensor, lengths: torch.Tensor | None,
                profile: torch.Tensor | None = None) -> Any:
        """The model's raw output (logits here; a (log_probs, lengths) tuple for asr); ``profile`` is the
        batch's speaker profiles, for models built with ``speaker_norm`` (else None)."""
        return model(wave, lengths) if profile is None else model(wave, lengths, profile)

    # ---- training --------------------------------------------------------------------------
    def loss(self, output: Any, batch: dict[str, Any], cfg: Any = None) -> torch.Tensor:
        """Per-sample loss [B] (cross-entropy); ``cfg`` (a Config) for tasks whose loss has options."""
        return ce_loss(output, batch["target"].to(output.device))

    def collate_targets(self, targets: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Batch the outputs of :meth:`encode`: ``{"target": LongTensor [B]}``."""
        return {"target": torch.stack(list(targets))}

    # ---- decoding and scoring --------------------------------------------------------------
    def decode(self, output: Any, labels: Sequence[str], model: nn.Module | None = None) -> list[str]:
        """Predictions as label strings (``model``: the CA that produced ``output``, for its own decoder)."""
        return [labels[i] for i in output.argmax(-1).tolist()]

    def score(self, preds: Sequence[str], refs: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        return {"accuracy": metrics.accuracy(preds, refs), "uar": metrics.uar(preds, refs, labels)}

    def per_sample_correct(self, pred: str, ref: str) -> float:
        """1.0 if right else 0.0 (per-utterance WER for asr): the per-sample score for paired tests."""
        return float(pred == ref)
