"""Speaker profiles for ``ser_speaker_norm``: a clip's profile is its speaker's mean ``model.profile``
(:meth:`aelib.models.ser.SERNet.profile`, a mean log-mel) over the speaker's *other* clean clips.

:meth:`aelib.data.DataBundle.attach_profiles` computes them for every clip a run sees, and
:meth:`aelib.runs.Pipeline.predict` for the clips a caller passes.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .audio import fit_length


@torch.no_grad()
def clip_profiles(rows: list[dict], cache: Callable[[str], np.ndarray], n_samples: int, model: Any,
                  batch: int = 64) -> list[torch.Tensor]:
    """``model.profile`` of each row's clean clip, as the model sees it (fitted to ``n_samples``, no perturbation)."""
    out: list[torch.Tensor] = []
    for k in range(0, len(rows), batch):
        out.extend(wave_profiles([cache(r["path"]) for r in rows[k:k + batch]], n_samples, model))
    return out


@torch.no_grad()
def wave_profiles(waves: list[np.ndarray], n_samples: int, model: Any) -> torch.Tensor:
    """``model.profile`` of clean waveforms fitted to ``n_samples`` (the clip length the model trains on), [B, D]."""
    x = torch.from_numpy(np.stack([fit_length(w, n_samples) for w in waves]).astype(np.float32))
    return model.profile(x, torch.full((len(waves),), n_samples, dtype=torch.long))


def speaker_profiles(rows: list[dict], means: dict[str, torch.Tensor], prior: torch.Tensor) -> dict[str, torch.Tensor]:
    """Leave-one-out speaker profiles: for each row, the mean of ``means`` over the other rows of its
    ``source``; ``prior`` for a speaker with one row."""
    by_source: dict[str, list[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r["path"])
    out: dict[str, torch.Tensor] = {}
    for paths in by_source.values():
        total = torch.stack([means[p] for p in paths]).sum(0)
        for p in paths:
            out[p] = (total - means[p]) / (len(paths) - 1) if len(paths) > 1 else prior.clone()
    return out
