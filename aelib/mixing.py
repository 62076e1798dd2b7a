"""Mixing clean audio with noise at an exact SNR, with records that regenerate any mixture.

SNR is ``10 log10(P_clean / P_noise)`` with power averaged over the whole clip (DESIGN.md); the
``active`` mode uses the power of the clip's active frames instead, the usual choice when clips
carry long pauses. Every random choice (noise file, segment offset, SNR, room response) comes from a
``numpy.random.Generator`` the caller seeds, and is written into a :class:`MixRecord`, so a mixture
can be rebuilt from its record alone (:func:`remix`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import fftconvolve

from .audio import SILENCE_RMS, AudioError, load_audio

FRAME = 400  # 25 ms at 16 kHz: frame size of the active-level estimate


@dataclass(frozen=True)
class MixRecord:
    """Everything needed to rebuild one mixture: see :func:`remix`."""

    clean_path: str
    noise_path: str
    noise_offset: int  # first noise sample used (the segment wraps around the file's end)
    snr_db: float
    n_samples: int
    rir_seed: int = -1  # -1: no room response; otherwise the seed of simulate_rir
    snr_mode: str = "total"  # total | active

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def power(x: np.ndarray, mode: str = "total") -> float:
    """Mean power of ``x``; ``active`` averages only frames within 40 dB of the loudest frame."""
    x = np.asarray(x, dtype=np.float64)
    if mode == "total":
        return float(np.mean(x**2))
    if mode != "active":
        raise ValueError(f"snr mode must be 'total' or 'active', got {mode!r}")
    n = len(x) // FRAME
    if n == 0:
        return float(np.mean(x**2))
    frames = (x[: n * FRAME].reshape(n, FRAME) ** 2).mean(axis=1)
    active = frames[frames >= frames.max() * 1e-4]
    return float(active.mean())


def noise_segment(noise: np.ndarray, n: int, offset: int) -> np.ndarray:
    """``n`` samples of ``noise`` starting at ``offset``, wrapping around (noise loops are periodic)."""
    if len(noise) == 0:
        raise AudioError("noise clip is empty")
    offset %= len(noise)
    if offset + n <= len(noise):  # no wrap: a slice (a copy, like the indexed path); 36x cheaper for 1 s
        return noise[offset:offset + n].copy()
    idx = (offset + np.arange(n)) % len(noise)
    return noise[idx]


def scale_to_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float, mode: str = "total") -> np.ndarray:
    """Return ``noise`` scaled so that ``10 log10(P(clean)/P(scaled)) == snr_db`` exactly.

    Raises:
        AudioError: clean or noise is silent, where the SNR is undefined.
    """
    p_clean, p_noise = power(clean, mode), power(noise, mode)
    if p_clean < SILENCE_RMS**2:
        raise AudioError("clean audio is silent: the SNR is undefined. Remove the clip or check its gain.")
    if p_noise < SILENCE_RMS**2:
        raise AudioError("noise segment is silent: the SNR is undefined. Check the noise file.")
    gain = np.sqrt(p_clean / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (np.asarray(noise, dtype=np.float64) * gain).astype(np.float32)


def measured_snr(clean: np.ndarray, noise: np.ndarray, mode: str = "total") -> float:
    """The SNR in dB of a clean/noise pair, as this module defines it."""
    return 10.0 * np.log10(power(clean, mode) / power(noise, mode))


@lru_cache(maxsize=64)
def simulate_rir(seed: int, sr: int = 16_000) -> np.ndarray:
    """A seeded shoebox-room impulse response (pyroomacoustics image method), peak-normalised."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    dims = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
    rt60 = float(rng.uniform(0.2, 0.8))
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(absorption), max_order=min(max_order, 20))
    src = rng.uniform(0.5, dims - 0.5)
    mic = rng.uniform(0.5, dims - 0.5)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    return (rir / np.abs(rir).max()).astype(np.float32)


def reverberate(clean: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir``, aligned on its direct path so that labels stay in time, same length."""
    start = int(np.argmax(np.abs(rir)))
    wet = fftconvolve(clean, rir[start:])[: len(clean)]
    return wet.astype(np.float32)


def mix(
    clean: np.ndarray,
    noise: np.ndarray,
    snr_db: float,
    offset: int,
    *,
    rir_seed: int = -1,
    mode: str = "total",
    sr: int = 16_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Mix ``clean`` with the noise segment at ``offset`` at exactly ``snr_db``.

    Returns ``(noisy, target)``; the target is the (optionally reverberant) clean signal that the
    SNR is measured against, so ``noisy - target`` is the scaled noise.
    """
    target = reverberate(clean, simulate_rir(rir_seed, sr)) if rir_seed >= 0 else np.asarray(clean, np.float32)
    seg = noise_segment(noise, len(target), offset)
    scaled = scale_to_snr(target, seg, snr_db, mode)
    return (target + scaled).astype(np.float32), target


def draw_mixture(
    rng: np.random.Generator,
    clean_path: str,
    n_samples: int,
    noise_paths: list[str],
    noise_lengths: list[int],
    snr_db: float,
    *,
    rir_prob: float = 0.0,
    mode: str = "total",
) -> MixRecord:
    """Draw the random parts of a mixture (noise file, offset, room) into a record."""
    k = int(rng.integers(len(noise_paths)))
    offset = int(rng.integers(max(noise_lengths[k], 1)))
    rir_seed = int(rng.integers(2**31)) if rng.random() < rir_prob else -1
    return MixRecord(clean_path, noise_paths[k], offset, float(snr_db), n_samples, rir_seed, mode)


def remix(record: MixRecord, sr: int = 16_000) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild ``(noisy, target)`` from a record, reading both files from disk."""
    clean = load_audio(record.clean_path, sr)[: record.n_samples]
    clean = np.pad(clean, (0, record.n_samples - len(clean)))
    noise = load_audio(record.noise_path, sr)
    return mix(clean, noise, record.snr_db, record.noise_offset, rir_seed=record.rir_seed, mode=record.snr_mode, sr=sr)
