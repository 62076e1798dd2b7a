"""Shared front-ends of the CA models: log-mel features, frame lengths and masked pooling.

One implementation so that every 2-D model (asr, ser, asc) sees the same features: 25 ms windows,
10 ms hop, ``n_mels`` bands, ``log(max(mel_power, floor))``, optionally normalised per utterance:
``utterance`` is CMVN (mean and variance per band over the valid frames), ``gain`` one mean and
variance over all bands and valid frames. Both remove the input gain (a constant in log-mel); CMVN
also removes every static spectral shape, e.g. the spectral tilt that marks vocal effort.
"""
from __future__ import annotations

import torch
import torchaudio
from torch import nn

from ..config import SER_FEATURE_NORMS as NORMALIZE  # declared with Config.ser_feature_norm


def valid_mask(lengths: torch.Tensor | None, n: int, batch: int, device: torch.device) -> torch.Tensor:
    """Bool [B, n]: True where a step lies inside the utterance (all True when lengths is None)."""
    if lengths is None:
        return torch.ones(batch, n, dtype=torch.bool, device=device)
    return torch.arange(n, device=device)[None, :] < lengths.to(device)[:, None]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x [B, C, N] over N where mask [B, N] is True -> [B, C]."""
    m = mask[:, None, :].to(x.dtype)
    return (x * m).sum(-1) / m.sum(-1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max of x [B, C, N] over N where mask [B, N] is True -> [B, C]."""
    return x.masked_fill(~mask[:, None, :], torch.finfo(x.dtype).min).amax(-1)


def pooled_lengths(lengths: torch.Tensor | None, factor: int, n: int) -> torch.Tensor | None:
    """Lengths after a down-sampling by ``factor`` (ceil, at least 1, at most n)."""
    if lengths is None:
        return None
    return ((lengths + factor - 1) // factor).clamp(1, n)


class LogMel(nn.Module):
    """Log-mel spectrogram [B, T] -> [B, n_mels, frames], plus frame lengths.

    Args:
        sample_rate, n_fft, win_ms, hop_ms, n_mels: the usual; defaults are 16 kHz, 512, 25 ms, 10 ms, 64.
        floor: power floor inside the log.
        normalize: "utterance" (per-band mean/variance over valid frames), "gain" (one mean/variance
            over all bands and valid frames) or "none".
    """

    def __init__(self, sample_rate: int = 16_000, n_mels: int = 64, n_fft: int = 512, win_ms: float = 25.0,
                 hop_ms: float = 10.0, floor: float = 1e-6, normalize: str = "utterance") -> None:
        super().__init__()
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        self.hop = int(round(sample_rate * hop_ms / 1000))
        self.floor, self.normalize = floor, normalize
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=int(round(sample_rate * win_ms / 1000)),
            hop_length=self.hop, n_mels=n_mels, power=2.0, center=True, pad_mode="constant",
        )

    def frame_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """Frames that hold signal (``center=True``: length // hop + 1)."""
        return None if lengths is None else lengths // self.hop + 1

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None):
        feats = torch.log(self.mel(wave).clamp_min(self.floor))  # [B, M, N]
        flen = self.frame_lengths(lengths)
        if flen is not None:
            flen = flen.clamp(1, feats.shape[-1])
        if self.normalize != "none":
            mask = valid_mask(flen, feats.shape[-1], feats.shape[0], feats.device)
            mean = masked_mean(feats, mask)[..., None]  # [B, M, 1]
            if self.normalize == "gain":
                mean = mean.mean(1, keepdim=True)  # every band has the same number of valid frames
            var = masked_mean((feats - mean) ** 2, mask)[..., None]
            if self.normalize == "gain":
                var = var.mean(1, keepdim=True)
            feats = (feats - mean) / (var + 1e-5).sqrt()
            feats = feats * mask[:, None, :]  # padding frames are exactly 0 after normalisation
        return feats, flen
