"""aelib.plots: spectrogram scale, one shared colour scale per figure, atomic PNGs, the demo material."""
from __future__ import annotations

import numpy as np
import pytest

from aelib import plots

SR = 16_000


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_spectrogram_db_full_scale_sine_peaks_at_0_db():
    t = np.arange(SR) / SR
    db, freqs, times = plots.spectrogram_db(np.sin(2 * np.pi * 1000 * t), SR)
    assert db.shape == (257, len(times)) and freqs[-1] == SR / 2
    assert abs(float(db.max())) < 0.1  # 1 kHz is a bin centre at n_fft 512
    assert freqs[int(np.argmax(db[:, len(times) // 2]))] == 1000.0
    with pytest.raises(TypeError, match="shape"):
        plots.spectrogram_db(np.zeros((2, 100)), SR)


def test_triptych_shares_one_colour_scale_and_one_colourbar():
    rng = np.random.default_rng(0)
    clean = 0.1 * rng.standard_normal(SR).astype(np.float32)
    fig = plots.triptych(clean, clean + 0.3 * rng.standard_normal(SR), 0.5 * clean, SR, suptitle="x")
    images = _images(fig)
    assert len(images) == 3 and len({im.get_clim() for im in images}) == 1
    assert all(im.origin == "lower" for im in images)
    assert len(fig.axes) == 4  # three panels + ONE colourbar
    lo, hi = images[0].get_clim()
    assert hi - lo == plots.DYNAMIC_RANGE_DB
    fig = plots.triptych(clean, clean, clean, SR, vmin=-90, vmax=0)
    assert _images(fig)[0].get_clim() == (-90, 0)


def test_snr_grid_rows_are_snrs(tmp_path):
    clean = 0.1 * np.sin(2 * np.pi * 440 * np.arange(SR // 2) / SR).astype(np.float32)
    mixtures = {snr: (clean + 10 ** (-snr / 20) * 0.05, clean) for snr in (-5.0, 0.0, 10.0)}
    fig = plots.snr_grid_figure(clean, mixtures, SR, notes={0.0: "noisy: a\nenhanced: b"})
    assert len(_images(fig)) == 9 and len({im.get_clim() for im in _images(fig)}) == 1
    out = plots.save_figure(fig, tmp_path / "sub" / "grid.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["grid.png"]  # no temporary file left
    with pytest.raises(ValueError):
        plots.snr_grid_figure(clean, {}, SR)


def test_playable_keeps_relative_loudness():
    a, b = np.full(10, 0.5, np.float32), np.full(10, 2.0, np.float32)
    pa, pb = plots.playable(a, b)
    assert np.abs(pb).max() <= 0.99 and np.isclose(pb[0] / pa[0], 4.0)
    assert np.array_equal(plots.playable(a)[0], a)  # already playable: untouched


def test_make_example_mixes_at_exact_snr(tmp_path):
    from aelib.mixing import measured_snr
    from tests.fake_corpus import make_fake_corpus

    root = make_fake_corpus(tmp_path / "corpus")
    ex = plots.make_example(root, "kws", clip_index=1, noise_split="test_unseen", noise_type="babble", seed=3)
    assert ex.noise_type == "babble" and ex.label in {"yes", "no", "up"} and len(ex.clean) == SR
    for snr in (-10.0, 0.0, 20.0):
        noisy = ex.mix(snr)
        assert abs(measured_snr(ex.clean, noisy - ex.clean) - snr) < 1e-3
    again = plots.make_example(root, "kws", clip_index=1, noise_split="test_unseen", noise_type="babble", seed=3)
    assert again.offset == ex.offset  # fixed offset: only the SNR changes between redraws
    assert plots.make_example(root, "asc", noise_split="test_seen").noise_path.endswith(".wav")
    with pytest.raises(ValueError, match="types there"):
        plots.make_example(root, "kws", noise_type="machinery")
    assert abs(plots.sisdr_db(ex.mix(5.0), ex.clean) - 5.0) < 0.5


def test_find_and_pick_runs(tmp_path):
    for rel in ("asr/cascade/seed0", "asr/iterative/seed1", "asc/noisy/seed0", "asr/_shared/seed0"):
        (tmp_path / rel / "checkpoints").mkdir(parents=True)
        (tmp_path / rel / "checkpoints" / "best.th").write_bytes(b"")
    (tmp_path / "kws/cascade/seed0").mkdir(parents=True)  # unfinished: no checkpoint
    runs = plots.find_runs(tmp_path)
    assert sorted(runs) == ["asc/noisy/seed0", "asr/cascade/seed0", "asr/iterative/seed1"]
    assert plots.pick_run(runs, "asr") == "asr/iterative/seed1"
    assert plots.pick_run(runs, "asr", seed=0) == "asr/cascade/seed0"
    assert plots.pick_run(runs, "asc") is None  # no AE paradigm
    assert plots.pick_run(runs, "asc", ("noisy",)) == "asc/noisy/seed0"
