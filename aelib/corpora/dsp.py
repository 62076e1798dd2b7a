"""Small signal helpers shared by the corpus builder: levels, trimming, placing, seeded generators.

Kept apart from ``aelib.audio`` (file I/O and validation) because these are corpus-making choices:
the frame size and the -40 dB activity threshold define what "active speech" means in the SER
trivial-cue check as well as where words are trimmed.
"""
from __future__ import annotations

import zlib

import numpy as np

FRAME = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms
ACTIVE_DB = 40.0  # a frame is active if within 40 dB of the clip's loudest frame


def rng(seed: int, task: str, *index: int) -> np.random.Generator:
    """The one way the builder makes randomness: a Generator seeded from (seed, task, index...)."""
    return np.random.default_rng([int(seed), zlib.crc32(task.encode()), *(int(i) for i in index)])


def frame_db(wave: np.ndarray, frame: int = FRAME, hop: int = HOP) -> np.ndarray:
    """Frame energies in dB (float64); a clip shorter than one frame is a single frame."""
    x = np.asarray(wave, dtype=np.float64)
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-12)


def active_mask(wave: np.ndarray, top_db: float = ACTIVE_DB) -> np.ndarray:
    db = frame_db(wave)
    return db >= max(db.max() - top_db, -90.0)


def active_seconds(wave: np.ndarray, sr: int = 16_000, top_db: float = ACTIVE_DB) -> float:
    """Seconds of active frames (frames within ``top_db`` of the loudest, counted at the 10 ms hop)."""
    return float(active_mask(wave, top_db).sum() * HOP / sr)


def active_span(wave: np.ndarray, top_db: float = ACTIVE_DB) -> tuple[int, int]:
    """Sample range [start, end) from the first to the last active frame."""
    on = np.flatnonzero(active_mask(wave, top_db))
    if on.size == 0:
        return 0, len(wave)
    return int(on[0] * HOP), int(min(len(wave), on[-1] * HOP + FRAME))


def trim(wave: np.ndarray, margin: int = 480, top_db: float = ACTIVE_DB) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``margin`` samples (30 ms) around the active span."""
    a, b = active_span(wave, top_db)
    return wave[max(0, a - margin) : min(len(wave), b + margin)]


def set_rms_db(wave: np.ndarray, db: float, peak: float = 0.99) -> np.ndarray:
    """Scale to an RMS of ``db`` dBFS; if that would clip, lower the gain to keep the peak at ``peak``."""
    x = np.asarray(wave, dtype=np.float64)
    r = np.sqrt(np.mean(x**2))
    if r <= 0:
        return wave.astype(np.float32)
    g = 10 ** (db / 20) / r
    m = np.abs(x).max() * g
    if m > peak:
        g *= peak / m
    return (x * g).astype(np.float32)


def place(wave: np.ndarray, n: int, gen: np.random.Generator) -> np.ndarray:
    """Put ``wave`` at a random offset inside ``n`` zero samples (crop centrally if longer)."""
    out = np.zeros(n, dtype=np.float32)
    if len(wave) >= n:
        s = (len(wave) - n) // 2
        return wave[s : s + n].astype(np.float32)
    off = int(gen.integers(0, n - len(wave) + 1))
    out[off : off + len(wave)] = wave
    return out


def loop_to(wave: np.ndarray, n: int) -> np.ndarray:
    """Tile a (looped) recording until it has at least ``n`` samples."""
    if len(wave) >= n:
        return wave
    return np.tile(wave, int(np.ceil(n / len(wave))))[: max(n, len(wave))]


def fade(wave: np.ndarray, n: int = 160) -> np.ndarray:
    """10 ms raised-cosine fade in and out, so cut segments do not click."""
    w = wave.astype(np.float32).copy()
    n = min(n, len(w) // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)
        w[:n] *= ramp
        w[-n:] *= ramp[::-1]
    return w
