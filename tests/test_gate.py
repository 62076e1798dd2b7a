"""The noisereduce peer front-end: a weightless registered model that keeps lengths and reloads."""
from __future__ import annotations

import torch

from aelib.models import deserialize, serialize
from aelib.models.gate import SpectralGate


def test_gate_keeps_length_reduces_stationary_noise_and_round_trips():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16_000) / 16_000
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * t) * (t > 0.5)  # a tone in the second half only
    noise = 0.05 * torch.randn(2, 16_000, generator=g)
    x = tone + noise
    gate = SpectralGate(16_000)
    y = gate(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    first_half_in, first_half_out = x[:, :8000].pow(2).mean(), y[:, :8000].pow(2).mean()
    assert first_half_out < 0.5 * first_half_in, "noise-only part should be attenuated"
    again = deserialize(serialize(gate))
    assert isinstance(again, SpectralGate) and again.model_args == gate.model_args
    assert torch.allclose(again(x), y)


def test_gate_matches_torchgate_with_its_2d_smoothing():
    """The banded-product smoothing is a speed-up only: same output as noisereduce's TorchGate."""
    import warnings

    g = torch.Generator().manual_seed(1)
    t = torch.arange(24_000)
    x = 0.1 * torch.randn(3, 24_000, generator=g) + 0.3 * torch.sin(t / 7.0) * (t > 12_000)
    for nonstationary in (False, True):
        gate = SpectralGate(16_000, nonstationary=nonstationary)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ref = gate.gate(x)
        n = ref.shape[-1]
        assert torch.allclose(gate(x)[..., :n], ref, atol=1e-6)
