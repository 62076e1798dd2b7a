"""Shared front-ends of the CA models: log-mel features, frame lengths and masked pooling.

One implementation so that every 2-D model (asr, ser, asc) sees the same features: 25 ms windows,
10 ms hop, ``n_mels`` bands, ``log(max(mel_power, floor))``, optionally normalised per utterance:
``utterance`` is CMVN (mean and variance per band over the valid frames), ``gain`` one mean and
variance over all bands and valid frames. Both remove the input gain (a constant in log-mel); CMVN
also removes every static spectral shape, e.g. the spectral tilt that marks vocal effort.

Two training-time augmentations act here, in training mode only, and are off unless
:func:`set_feature_augment` turns them on (``Config.ca_vtlp``, ``Config.ca_specaug``): vocal tract length
perturbation (the linear spectrum's frequency axis scaled by a factor drawn per clip in [1 - v, 1 + v], a
cheap new speaker; Jaitly and Hinton 2013) and SpecAugment's masks (two bands and two time spans set to the
clip's mean feature; Park et al. 2019). They draw from torch's generator, which the trainer seeds per epoch.
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
        self.vtlp, self.specaug = 0.0, 0.0  # training-time augmentation, off (set_feature_augment)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=int(round(sample_rate * win_ms / 1000)),
            hop_length=self.hop, n_mels=n_mels, power=2.0, center=True, pad_mode="constant",
        )

    def frame_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """Frames that hold signal (``center=True``: length // hop + 1)."""
        return None if lengths is None else lengths // self.hop + 1

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None):
        if self.training and self.vtlp > 0:
            mel = self.mel.mel_scale(warp_frequencies(self.mel.spectrogram(wave), self.vtlp))
        else:
            mel = self.mel(wave)
        feats = torch.log(mel.clamp_min(self.floor))  # [B, M, N]
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
        if self.training and self.specaug > 0:
            feats = spec_augment(feats, flen, self.specaug)
        return feats, flen


def warp_frequencies(spec: torch.Tensor, v: float) -> torch.Tensor:
    """VTLP: each clip's linear spectrum [B, F, N] read at bin f / a, a ~ U(1 - v, 1 + v) per clip, linearly
    interpolated; the bins that would come from above Nyquist repeat the top bin (a < 1: a few % of the band)."""
    b, f = spec.shape[0], spec.shape[1]
    alpha = 1 + v * (2 * torch.rand(b, 1, device=spec.device) - 1)  # [B, 1]
    src = (torch.arange(f, device=spec.device, dtype=spec.dtype)[None, :] / alpha).clamp(max=f - 1)
    lo = src.floor().long()
    hi = (lo + 1).clamp(max=f - 1)
    frac = (src - lo.to(src.dtype))[..., None]  # [B, F, 1]
    take = lambda idx: spec.gather(1, idx[..., None].expand(-1, -1, spec.shape[-1]))  # noqa: E731
    return take(lo) * (1 - frac) + take(hi) * frac


def spec_augment(feats: torch.Tensor, flen: torch.Tensor | None, strength: float) -> torch.Tensor:
    """SpecAugment's masks on [B, M, N]: two bands of up to ``strength * M`` bands and two spans of up to
    ``strength`` of each clip's valid frames, set to the clip's mean feature over its valid frames; padding
    frames are left as they are. A new tensor."""
    b, m, n = feats.shape
    dev = feats.device
    valid = valid_mask(flen, n, b, dev)  # [B, N]
    frames = valid.sum(1).float()
    fill = masked_mean(feats, valid).mean(1)[:, None, None]  # [B, 1, 1]
    hit_any = torch.zeros(b, m, n, dtype=torch.bool, device=dev)
    for axis, size, extent in ((1, torch.full((b,), float(m), device=dev), m), (2, frames, n)):
        for _ in range(2):
            width = (torch.rand(b, device=dev) * strength * size).floor()
            start = (torch.rand(b, device=dev) * (size - width).clamp_min(0)).floor()
            pos = torch.arange(extent, device=dev, dtype=torch.float32)[None, :]
            hit = (pos >= start[:, None]) & (pos < (start + width)[:, None])  # [B, extent]
            hit_any |= hit[:, :, None] if axis == 1 else hit[:, None, :]
    return torch.where(hit_any & valid[:, None, :], fill, feats)


def set_feature_augment(model: nn.Module, vtlp: float = 0.0, specaug: float = 0.0) -> int:
    """Turn the training-time augmentation of every :class:`LogMel` inside ``model`` on (or off with 0);
    returns how many front-ends it set (0: the model has no log-mel front-end, e.g. the raw kws CNN)."""
    fronts = [m for m in model.modules() if isinstance(m, LogMel)]
    for f in fronts:
        f.vtlp, f.specaug = float(vtlp), float(specaug)
    return len(fronts)
