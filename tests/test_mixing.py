"""SNR exactness, determinism, regeneration from records, and silent-input errors."""
import numpy as np
import pytest

from aelib.audio import AudioError, write_audio
from aelib.mixing import draw_mixture, measured_snr, mix, noise_segment, remix, scale_to_snr, simulate_rir


def _signals(seed=0, n=16000):
    rng = np.random.default_rng(seed)
    clean = (0.1 * rng.standard_normal(n) * np.hanning(n)).astype(np.float32)
    noise = (0.05 * rng.standard_normal(3 * n)).astype(np.float32)
    return clean, noise


@pytest.mark.parametrize("snr", [-10.0, -5.0, 0.0, 5.0, 10.0, 20.0, 37.5])
@pytest.mark.parametrize("mode", ["total", "active"])
def test_snr_is_exact(snr, mode):
    clean, noise = _signals()
    noisy, target = mix(clean, noise, snr, offset=123, mode=mode)
    assert abs(measured_snr(target, noisy - target, mode) - snr) < 0.01


def test_noise_segment_wraps():
    seg = noise_segment(np.arange(5.0), 7, 3)
    assert seg.tolist() == [3, 4, 0, 1, 2, 3, 4]


@pytest.mark.parametrize("offset", [0, 7, 99, 150, 250])
@pytest.mark.parametrize("n", [1, 30, 100, 260])
def test_noise_segment_slice_path_equals_modular_indexing(offset, n):
    """The no-wrap fast path (a slice) returns the same samples, as a copy, as indexing modulo the length."""
    noise = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    seg = noise_segment(noise, n, offset)
    np.testing.assert_array_equal(seg, noise[(offset + np.arange(n)) % 100])
    seg[:] = 0  # a copy: the noise bank is not written through
    assert np.abs(noise).min() > 0


def test_silent_clean_raises():
    _, noise = _signals()
    with pytest.raises(AudioError, match="silent"):
        scale_to_snr(np.zeros(1000, np.float32), noise[:1000], 0.0)
    with pytest.raises(AudioError, match="noise segment is silent"):
        scale_to_snr(noise[:1000], np.zeros(1000, np.float32), 0.0)


def test_draw_is_seeded_and_remix_regenerates(tmp_path):
    clean, noise = _signals()
    write_audio(tmp_path / "c.wav", clean, subtype="FLOAT")
    write_audio(tmp_path / "n.wav", noise, subtype="FLOAT")
    recs = [draw_mixture(np.random.default_rng(42), str(tmp_path / "c.wav"), len(clean), [str(tmp_path / "n.wav")],
                         [len(noise)], 3.0) for _ in range(2)]
    assert recs[0] == recs[1]
    noisy, target = remix(recs[0])
    direct, _ = mix(clean, noise, 3.0, recs[0].noise_offset)
    assert np.allclose(noisy, direct, atol=1e-6)
    assert abs(measured_snr(target, noisy - target) - 3.0) < 0.01


def test_rir_is_seeded_and_keeps_length():
    clean, noise = _signals()
    a, b = simulate_rir(5), simulate_rir(5)
    assert np.array_equal(a, b) and np.abs(a).max() == pytest.approx(1.0)
    noisy, target = mix(clean, noise, 5.0, 0, rir_seed=5)
    assert len(noisy) == len(clean) and not np.allclose(target, clean)
    assert abs(measured_snr(target, noisy - target) - 5.0) < 0.01
