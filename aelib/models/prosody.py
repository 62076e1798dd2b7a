"""Prosodic statistics of an utterance: pitch level, range and movement, voicing, vocal effort, rhythm.

The few numbers an emotion is acted through (the eGeMAPS idea of openSMILE, much reduced), computed from the
waveform in torch so that they run inside a model (``SERNet(prosody=True)``, ``Config.ser_prosody``):

- pitch from the normalised autocorrelation of 40 ms frames (20 ms hop, Hann window), its peak between
  70 and 450 Hz; a frame is voiced when that peak exceeds 0.45 and it is active: its mean power lies within
  26 dB (6 nepers) of the clip's loudest frame;
- over the voiced frames: the median log-F0, its standard deviation, the 10-90 % range, and the mean
  absolute change of log-F0 between consecutive voiced frames; the voiced share of the valid frames and the
  voicing changes per second;
- over the active frames: the mean and standard deviation of the spectral tilt (log power
  of 2-5 kHz against 100 Hz-1 kHz); the standard deviation of the log energy; and the peaks of the smoothed
  log energy per second (a syllable-rate proxy).

``N_PROSODY`` numbers per clip, computed without gradient: pitch is an argmax. On the embedded ser proxy's
clean validation clips a linear model on these statistics alone, speaker-normalised and fitted on 400 training
clips, reaches 0.785 UAR (`scripts/prosody_probe.py`); added to the ser CNN, the `clean` CA's validation UAR
goes from 0.586 to 0.711 (docs/levers.md).
"""
from __future__ import annotations

import math

import torch

from .frontends import masked_mean

N_PROSODY = 10
FRAME, HOP = 640, 320  # at 16 kHz: 40 ms frames, 20 ms hop
N_FFT = 1024  # >= FRAME + the longest lag (228): the autocorrelation up to it is not circular
SMOOTH = 3  # frames of the log-energy smoothing (the rhythm proxy)
F_MIN, F_MAX = 70.0, 450.0
VOICING = 0.45  # normalised autocorrelation peak
ACTIVE = 6.0  # a frame is active within this many nepers of mean power of the clip's loudest frame
UNVOICED_LOG_F0 = math.log(150.0)  # a clip with fewer than 4 voiced frames


def _masked_quantile(x: torch.Tensor, mask: torch.Tensor, q: float) -> torch.Tensor:
    """Per row of x [B, N], the q-quantile (lower) of the entries where mask is True (rows with none: +inf)."""
    s = x.masked_fill(~mask, math.inf).sort(dim=1).values
    count = mask.sum(1)
    idx = ((count - 1).clamp_min(0).to(x.dtype) * q).floor().long()
    return s.gather(1, idx[:, None])[:, 0]


def _masked_mean_std(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of x [B, N], the mean and standard deviation of the entries where mask is True."""
    mean = masked_mean(x[:, None], mask)[:, 0]
    return mean, masked_mean((x - mean[:, None])[:, None] ** 2, mask)[:, 0].sqrt()


@torch.no_grad()
def prosody(wave: torch.Tensor, lengths: torch.Tensor | None = None, sample_rate: int = 16_000) -> torch.Tensor:
    """The prosodic statistics of each clip of ``wave`` [B, T] (``lengths`` [B] valid samples) -> [B, N_PROSODY]."""
    if sample_rate != 16_000:
        raise ValueError(f"prosody(): frames are sized for 16 kHz, got {sample_rate} Hz")
    b, t = wave.shape
    x = wave.float()
    if t < FRAME:
        x = torch.nn.functional.pad(x, (0, FRAME - t))
    frames = x.unfold(1, FRAME, HOP)  # [B, N, FRAME]
    n = frames.shape[1]
    valid = torch.ones(b, n, dtype=torch.bool, device=x.device)
    if lengths is not None:
        last = ((lengths.to(x.device) - FRAME) // HOP + 1).clamp_min(1)
        valid = torch.arange(n, device=x.device)[None, :] < last[:, None]
    seconds = (valid.sum(1).to(x.dtype) * HOP / sample_rate).clamp_min(HOP / sample_rate)
    frames = frames - frames.mean(-1, keepdim=True)
    spec = torch.fft.rfft(frames * torch.hann_window(FRAME, device=x.device), N_FFT)
    power = spec.real ** 2 + spec.imag ** 2  # [B, N, N_FFT // 2 + 1]
    ac = torch.fft.irfft(power)[..., :FRAME]
    ac = ac / ac[..., :1].clamp_min(1e-12)
    lo, hi = int(sample_rate // F_MAX), int(sample_rate // F_MIN)
    peak, lag = ac[..., lo:hi].max(-1)
    log_f0 = math.log(sample_rate) - torch.log((lag + lo).to(x.dtype))
    log_energy = torch.log(frames.pow(2).mean(-1) + 1e-10)
    loudest = log_energy.masked_fill(~valid, -math.inf).amax(1, keepdim=True)
    active = valid & (log_energy > loudest - ACTIVE)
    voiced = active & (peak > VOICING)
    enough = voiced.sum(1) >= 4
    f0_mask = torch.where(enough[:, None], voiced, valid)
    log_f0 = torch.where(enough[:, None], log_f0, torch.full_like(log_f0, UNVOICED_LOG_F0))
    median = _masked_quantile(log_f0, f0_mask, 0.5)
    _, f0_std = _masked_mean_std(log_f0, f0_mask)
    f0_range = _masked_quantile(log_f0, f0_mask, 0.9) - _masked_quantile(log_f0, f0_mask, 0.1)
    step_mask = voiced[:, 1:] & voiced[:, :-1]
    f0_move, _ = _masked_mean_std((log_f0[:, 1:] - log_f0[:, :-1]).abs(), step_mask)
    voiced_share = voiced.sum(1).to(x.dtype) / valid.sum(1).clamp_min(1).to(x.dtype)
    voicing_changes = (voiced[:, 1:] != voiced[:, :-1]).logical_and(valid[:, 1:]).sum(1).to(x.dtype) / seconds
    freqs = torch.fft.rfftfreq(N_FFT, 1 / sample_rate).to(x.device)
    high = power[..., (freqs > 2000) & (freqs < 5000)].sum(-1)
    low = power[..., (freqs > 100) & (freqs < 1000)].sum(-1)
    tilt_mean, tilt_std = _masked_mean_std(torch.log(high + 1e-10) - torch.log(low + 1e-10), active)
    _, energy_std = _masked_mean_std(log_energy, valid)
    box = lambda v: torch.nn.functional.avg_pool1d(v[:, None], SMOOTH, 1, SMOOTH // 2)[:, 0]  # noqa: E731
    weight = valid.to(x.dtype)
    smooth = box(log_energy * weight) / box(weight).clamp_min(1e-6)  # over the valid frames only
    mid = smooth[:, 1:-1]
    peaks = (mid > smooth[:, :-2]) & (mid > smooth[:, 2:]) & (mid > loudest - 4.0)
    peaks &= valid[:, 2:]  # both neighbours valid (valid frames are a prefix)
    peak_rate = peaks.sum(1).to(x.dtype) / seconds
    return torch.stack([median, f0_std, f0_range, f0_move, voiced_share, tilt_mean, tilt_std, peak_rate,
                        voicing_changes, energy_std], dim=1)
