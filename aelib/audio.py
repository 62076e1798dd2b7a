"""Audio I/O and validation: the one place where files become float32 mono tensors at the study rate.

Everything that reads audio goes through :func:`load_audio`, and every wave a user hands to a model
(:class:`aelib.runs.Pipeline`) through :func:`as_waveform`, so that the bad-input policy (corrupt file,
stereo, wrong rate, integer PCM, NaN, too short or too long) is applied once and reported the same way
everywhere. Audio is read and written with soundfile (``torchaudio.load`` needs torchcodec, which we avoid).
"""
from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from .errors import UserError
from .files import atomic_write_with

SAMPLE_RATE = 16_000  # the study rate: every model and manifest works at 16 kHz mono
SILENCE_RMS = 1e-5  # below this RMS (about -100 dBFS) a clip is treated as silent


MAX_CHANNELS = 8  # the shorter axis of a 2-D wave is channels (7.1 surround at most); more is a batch of clips
MAX_PEAK = 100.0  # float samples are full scale at 1.0; a peak 40 dB above that is PCM counts passed as float


class AudioError(UserError, ValueError):
    """Audio that cannot be used (a file, or a wave passed in); the message names the problem and the fix.

    The message is made one line ending with a single full stop, whatever its parts end with (a decoder's
    own message ends with one: ``"Format not recognised."`` + ``". Re-create ..."`` must not read ``..``).
    """

    def __init__(self, message: object) -> None:
        super().__init__(sentence(str(message)))


def sentence(text: str) -> str:
    """``text`` on one line, with no doubled punctuation, ending with exactly one ``.`` (or ``?``/``!``)."""
    text = re.sub(r"([.!?])\.+", r"\1", " ".join(text.split()))
    return text if text.endswith((".", "!", "?")) else f"{text}."


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
        raise AudioError(f"cannot decode audio file {path}: {str(exc).rstrip(' .')}. Re-create or remove the "
                         "file.") from exc
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


def check_rate(sr: object, what: str = "sample rate") -> int:
    """``sr`` as an int: a positive whole number of Hz (an integral float such as 44100.0 counts)."""
    ok = isinstance(sr, numbers.Real) and not isinstance(sr, bool) and math.isfinite(sr) and sr > 0 and sr == int(sr)
    if not ok:
        raise AudioError(f"{what} must be a positive whole number of Hz such as 16000, got {sr!r}")
    return int(sr)


def pcm_to_float(wave: np.ndarray) -> np.ndarray:
    """int16 / int32 PCM to float in [-1, 1) by 2**15 / 2**31 (soundfile's convention: ``sf.read(f, dtype="int16")
    / 32768`` equals ``sf.read(f)``); float arrays are returned as they are. Other dtypes are an AudioError."""
    if wave.dtype in (np.int16, np.int32):
        return wave.astype(np.float64) / float(-np.iinfo(wave.dtype).min)
    if wave.dtype in (np.float16, np.float32, np.float64):
        return wave
    raise AudioError(f"wave has dtype {wave.dtype}; pass float samples (full scale 1.0) or int16 / int32 PCM")


def _array(wave: object) -> np.ndarray:
    """A numpy view of a numpy array, torch tensor (any device, detached) or nested list of samples."""
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu()
        if wave.dtype in (torch.bfloat16, torch.float16):  # numpy has no bfloat16
            wave = wave.float()
        return wave.numpy()
    if isinstance(wave, (str, bytes, os.PathLike)):
        raise AudioError(f"wave is a {type(wave).__name__}, not an array of samples: read a file with "
                         "aelib.audio.load_audio (or soundfile.read) first")
    try:
        return np.asarray(wave)
    except (ValueError, TypeError):  # ragged lists
        raise AudioError(f"wave is not an array of samples (a {type(wave).__name__} of uneven or non-numeric "
                         "items)") from None


def as_waveform(wave: object, sr: object, target_sr: int = SAMPLE_RATE, *, min_samples: int = 1,
                max_seconds: float | None = None) -> np.ndarray:
    """A wave as a model takes it: float32, 1-D, at ``target_sr``; an AudioError naming the problem otherwise.

    Conversions (each documented, none silent about a loss):

    * numpy arrays, torch tensors and lists; float16/32/64 samples as they are (full scale 1.0, not clipped),
      int16 / int32 PCM scaled by 2**15 / 2**31 (:func:`pcm_to_float`);
    * 1-D (time), or 2-D: the longer axis is time, the shorter (at most :data:`MAX_CHANNELS`) channels,
      averaged to mono, so that (T, 2), (2, T), (1, T) and (T, 1) all work;
    * any positive whole sample rate, resampled to ``target_sr`` (:func:`resample`);
    * digital silence is a valid input and passes through unchanged.

    Errors: a sample rate that is not a positive whole number; another dtype or number of dimensions; more
    than :data:`MAX_CHANNELS` channels (a batch of clips); NaN or inf samples (their count is named); a float
    peak above :data:`MAX_PEAK` (unscaled PCM); fewer than ``min_samples`` at ``target_sr`` (the message
    gives the minimum in samples and milliseconds); more than ``max_seconds``.
    """
    sr = check_rate(sr)
    x = _array(wave)
    if x.ndim not in (1, 2):
        raise AudioError(f"wave must be 1-D (time) or 2-D (time x channels, or channels x time), got shape {x.shape}")
    need = f"at least {min_samples} samples at {target_sr} Hz ({1000 * min_samples / target_sr:.1f} ms)"
    if x.size == 0:
        raise AudioError(f"wave holds no samples (shape {x.shape}); this model needs {need}")
    if x.ndim == 2 and min(x.shape) > MAX_CHANNELS:
        raise AudioError(f"wave of shape {x.shape} has {min(x.shape)} channels (at most {MAX_CHANNELS}): a batch of "
                         "clips? pass one clip at a time")
    x = pcm_to_float(x)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise AudioError(f"wave holds {bad} NaN or infinite samples of {x.size}; replace them (np.nan_to_num) "
                         "or drop the clip")
    peak = float(np.max(np.abs(x)))
    if peak > MAX_PEAK:
        raise AudioError(f"wave peaks at {peak:.4g}, full scale is 1.0: PCM counts passed as float? divide by 32768 "
                         "(16-bit) or pass the int16 array itself")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = to_mono(x if x.shape[0] > x.shape[1] else x.T)
    n = len(x)
    if n * target_sr < min_samples * sr:  # exact: the resampled length is ceil(n * target_sr / sr)
        raise AudioError(f"wave is too short: {n} samples at {sr} Hz ({1000 * n / sr:.1f} ms); this model needs "
                         f"{need}")
    if max_seconds is not None and n > max_seconds * sr:
        raise AudioError(f"wave is {n / sr:.1f} s long; this model takes at most {max_seconds:g} s per call (its "
                         "memory grows with the length): split the recording into shorter clips")
    return resample(x, sr, target_sr)
