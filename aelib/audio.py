"""Audio I/O and validation: the one place where files become float32 mono tensors at the study rate.

Everything that reads audio goes through :func:`load_audio`, so that the bad-input policy
(corrupt file, stereo, wrong rate, silence) is applied once and reported the same way everywhere.
Audio is read and written with soundfile (``torchaudio.load`` needs torchcodec, which we avoid).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from .files import atomic_write_with

SAMPLE_RATE = 16_000  # the study rate: every model and manifest works at 16 kHz mono
SILENCE_RMS = 1e-5  # below this RMS (about -100 dBFS) a clip is treated as silent


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the fix."""


def resample(wave: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling with torchaudio's sinc filter (float32 in, float32 out)."""
    if sr_in == sr_out:
        return wave.astype(np.float32, copy=False)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), sr_in, sr_out)
    return out.numpy()


def to_mono(wave: np.ndarray) -> np.ndarray:
    """Average channels of a (time, channels) array; a 1-D array is returned as is."""
    return wave if wave.ndim == 1 else wave.mean(axis=1)


def load_audio(
    path: str | os.PathLike,
    sr: int = SAMPLE_RATE,
    *,
    mono: bool = True,
    warn: bool = True,
) -> np.ndarray:
    """Read a file as float32 mono at ``sr``, mixing down and resampling when needed.

    Why warnings rather than errors for stereo and rate: real corpora mix formats, and the fix
    (mix down, resample) is unambiguous. Unreadable and empty files are errors: nothing sensible
    can be done with them.

    Raises:
        FileNotFoundError: the path does not exist.
        AudioError: the file cannot be decoded or holds no samples.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path} (check the corpus path or rebuild the corpus)")
    try:
        wave, file_sr = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises several types for corrupt data
        raise AudioError(f"cannot decode audio file {path}: {exc}. Re-create or remove the file.") from exc
    if wave.size == 0:
        raise AudioError(f"audio file {path} holds no samples; remove it from the corpus or manifest.")
    if wave.ndim == 2 and mono:
        if warn and wave.shape[1] > 1:
            warnings.warn(f"{path}: {wave.shape[1]} channels, mixing down to mono", stacklevel=2)
        wave = to_mono(wave)
    if file_sr != sr:
        if warn:
            warnings.warn(f"{path}: sample rate {file_sr} Hz, resampling to {sr} Hz", stacklevel=2)
        wave = resample(wave, file_sr, sr)
    if not np.all(np.isfinite(wave)):
        raise AudioError(f"audio file {path} contains NaN or Inf samples; re-create the file.")
    return np.ascontiguousarray(wave, dtype=np.float32)


def rms(wave: np.ndarray | torch.Tensor) -> float:
    """Root mean square over the whole clip."""
    if isinstance(wave, torch.Tensor):
        return float(wave.detach().double().pow(2).mean().sqrt())
    return float(np.sqrt(np.mean(np.asarray(wave, dtype=np.float64) ** 2)))


def is_silent(wave: np.ndarray | torch.Tensor, threshold: float = SILENCE_RMS) -> bool:
    """True if the clip's RMS is below ``threshold`` (SNR would be undefined)."""
    return rms(wave) < threshold


def write_audio(path: str | os.PathLike, wave: np.ndarray, sr: int = SAMPLE_RATE, subtype: str = "PCM_16") -> None:
    """Write a wav atomically (temporary file, then rename), clipping to [-1, 1].

    Atomic so that an interrupted corpus build never leaves a truncated file under the final name.
    """
    wave = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0)
    atomic_write_with(path, lambda tmp: sf.write(str(tmp), wave, sr, subtype=subtype, format="WAV"), suffix=".wav")


def fit_length(wave: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """Crop from ``offset`` or zero-pad at the end to exactly ``n`` samples."""
    if len(wave) >= n:
        return wave[offset : offset + n]
    return np.pad(wave, (0, n - len(wave)))
