"""aelib.plots: spectrogram scale, one shared colour scale per figure, atomic PNGs, the results figures."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aelib import plots
from tests.fake_study import make_study

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


def test_save_figure_is_readable_by_everyone(tmp_path):
    import os

    fig = plots.triptych(np.zeros(SR // 4), np.zeros(SR // 4), np.zeros(SR // 4), SR)
    umask = os.umask(0o022)
    try:
        out = plots.save_figure(fig, tmp_path / "t.png")
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_results_figures(tmp_path):
    from aelib import results

    study = make_study(tmp_path)
    out = tmp_path / "out"
    df = results.collect(study)
    fig = plots.plot_metric_vs_snr(df, "asr", path=out / "asr.png")
    assert (out / "asr.png").stat().st_size > 1000 and fig.axes[0].get_ylabel() == "wer"
    plots.plot_importance(results.importance_weights(study), path=out / "imp.png")
    assert (out / "imp.png").exists()
    cross = pd.DataFrame({"ae_task": ["none", "kws", "none", "kws"], "ca_task": ["kws", "kws", "asr", "asr"],
                          "metric": ["accuracy", "accuracy", "wer", "wer"], "value": [0.5, 0.7, 0.6, 0.4]})
    plots.plot_cross_task(cross, path=out / "cross.png")
    assert (out / "cross.png").exists()
