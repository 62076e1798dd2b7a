"""The classical peer front-end: spectral gating from the ``noisereduce`` package.

What many practitioners reach for before training anything: estimate a per-frequency noise
threshold from the signal itself and attenuate the STFT bins below it. We use noisereduce's own
PyTorch implementation (``noisereduce.torchgate.TorchGate``, batched, same algorithm family as
``noisereduce.reduce_noise``). Stationary gating is the study's default: on validation mixtures it
lost less SI-SDR than the non-stationary mode on every task (``scripts/choose_gate.py``).
It has no weights; wrapping it as a registered model lets a run save and reload it like the U-Net
(:func:`aelib.models.serialize`) and lets evaluation treat it as "the AE" of the run.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .unet import check_wave


class SpectralGate(nn.Module):
    """Batched spectral gating; output has exactly the input's length.

    Args:
        sample_rate: of the input waveform.
        nonstationary: noisereduce's non-stationary gating (a moving noise estimate) instead of a per-clip one.
        prop_decrease: 1.0 removes the gated bins fully (noisereduce's default).

    Shape:
        wave [B, T] -> [B, T]
    """

    model_name = "gate"

    def __init__(self, sample_rate: int = 16_000, nonstationary: bool = False, prop_decrease: float = 1.0) -> None:
        super().__init__()
        from noisereduce.torchgate import TorchGate

        self.model_args = dict(sample_rate=sample_rate, nonstationary=nonstationary, prop_decrease=prop_decrease)
        self.gate = TorchGate(sr=sample_rate, nonstationary=nonstationary, prop_decrease=prop_decrease)

    @torch.no_grad()  # nothing to learn; never part of a graph
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        check_wave(wave)
        n = wave.shape[-1]
        with warnings.catch_warnings():  # TorchGate's own 'same'-padding notice, once per call otherwise
            warnings.simplefilter("ignore", UserWarning)
            out = self.gate(wave.float())
        if out.shape[-1] < n:  # TorchGate's iSTFT drops the last partial frame
            out = F.pad(out, (0, n - out.shape[-1]))
        return out[..., :n].to(wave.dtype)
