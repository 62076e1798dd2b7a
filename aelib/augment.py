"""Channel augmentation of clean training speech: the telephone channel.

This module owns what a training clip may pass through before it is mixed with noise, beyond the speed
perturbation of :func:`aelib.data.speed_perturb`: :func:`telephone` band-limits it to 8 kHz and quantises
it with G.711 mu-law, the channel the embedded corpus's real recorded speaker (asterisk prompts, 8 kHz)
was made through. Training with it (``Config.telephone_prob``) gives that speaker relatives in training
without using any of its clips; the target of the AE is the channel's output, since no front-end can
restore a band that is not there.
"""
from __future__ import annotations

import numpy as np

MU = 255.0  # G.711 mu-law


def mu_law(wave: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise ``wave`` (float, |x| <= 1 after scaling) with mu-law companding at ``bits`` bits."""
    peak = float(np.max(np.abs(wave))) or 1.0
    x = np.clip(wave / peak, -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    levels = 2 ** (bits - 1)
    y = np.round(y * levels) / levels
    x = np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU
    return (x * peak).astype(np.float32)


def telephone(wave: np.ndarray, sr: int = 16_000) -> np.ndarray:
    """The telephone channel at ``sr``: down to 8 kHz (anti-aliased), mu-law, back up; same length, float32."""
    from scipy.signal import resample_poly

    if sr % 8000:
        raise ValueError(f"telephone(): sample rate {sr} is not a multiple of 8 kHz")
    k = sr // 8000  # resample_poly by 1/1 returns a copy: an 8 kHz wave is only quantised
    narrow = resample_poly(np.asarray(wave, dtype=np.float32), 1, k)
    out = resample_poly(mu_law(narrow), k, 1).astype(np.float32)
    n = len(wave)
    return out[:n] if len(out) >= n else np.pad(out, (0, n - len(out)))
