"""Models and their (de)serialisation: the AE (``unet``) and one CA model per task.

Every model stores its constructor arguments in ``self.model_args`` and names itself with the class
attribute ``model_name``, so that :func:`serialize` gives a self-describing checkpoint
(asteroid style) and :func:`deserialize` rebuilds it without knowing the class in advance.
"""
from __future__ import annotations

import platform
from typing import Any

import torch
from torch import nn

from .asc import ASCNet
from .asr import ASRNet
from .frontends import LogMel
from .gate import SpectralGate
from .kws import KWSLogMelNet, KWSNet
from .ser import SERNet
from .unet import UNET_PRESETS, UNetEnhancer

MODELS: dict[str, type[nn.Module]] = {
    "unet": UNetEnhancer,
    "kws": KWSNet,
    "kws_logmel": KWSLogMelNet,
    "asr": ASRNet,
    "ser": SERNet,
    "asc": ASCNet,
    "gate": SpectralGate,  # noisereduce spectral gating (no weights): the peer front-end
}

__all__ = ["MODELS", "UNET_PRESETS", "UNetEnhancer", "KWSNet", "KWSLogMelNet", "ASRNet", "SERNet", "ASCNet",
           "SpectralGate", "LogMel", "serialize", "deserialize", "build_from_serialized", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def serialize(model: nn.Module) -> dict[str, Any]:
    """``{model_name, model_args, state_dict, software_versions}`` of a registered model (CPU tensors)."""
    name = getattr(model, "model_name", None)
    if name not in MODELS or not isinstance(model, MODELS[name]):
        raise TypeError(f"{type(model).__name__} is not a registered model; known: {sorted(MODELS)}")
    import torchaudio

    return {
        "model_name": name,
        "model_args": dict(model.model_args),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "software_versions": {"torch": torch.__version__, "torchaudio": torchaudio.__version__,
                              "python": platform.python_version()},
    }


def deserialize(d: dict[str, Any]) -> nn.Module:
    """Rebuild a model from :func:`serialize`'s dict (strict state-dict loading)."""
    try:
        cls = MODELS[d["model_name"]]
    except KeyError as exc:
        raise ValueError(f"unknown or missing model_name in {sorted(d)}; known: {sorted(MODELS)}") from exc
    model = cls(**d["model_args"])
    model.load_state_dict(d["state_dict"])
    return model


build_from_serialized = deserialize
