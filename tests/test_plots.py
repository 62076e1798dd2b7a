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
    plots.plot_cross_task(_cross(), path=out / "cross.png")
    assert (out / "cross.png").exists()


def _cross() -> pd.DataFrame:
    """A cross-task matrix as cross_task_matrix returns it: the kws AE helps both CAs by 0.2 (accuracy up,
    WER down), the asc AE hurts both by 0.1."""
    rows = [("none", "kws", "accuracy", 0.5, True), ("kws", "kws", "accuracy", 0.7, True),
            ("asc", "kws", "accuracy", 0.4, True),
            ("none", "asr", "wer", 0.6, False), ("kws", "asr", "wer", 0.4, False), ("asc", "asr", "wer", 0.7, False)]
    return pd.DataFrame(rows, columns=["ae_task", "ca_task", "metric", "value", "higher_is_better"])


def _cell_colours(ax, shape) -> np.ndarray:
    mesh = ax.collections[0]
    return mesh.cmap(mesh.norm(np.asarray(mesh.get_array()).reshape(shape)))


def test_cross_task_colours_an_improvement_alike_for_wer_and_accuracy():
    import matplotlib.pyplot as plt

    values, change, gain, higher = plots.cross_task_change(_cross())
    assert list(values.index) == ["none", "kws", "asc"] and list(values.columns) == ["kws", "asr"]
    assert change.loc["kws", "asr"] == pytest.approx(-0.2) and gain.loc["kws", "asr"] == pytest.approx(0.2)
    assert gain.loc["kws", "kws"] == pytest.approx(0.2) and (gain.loc["asc"] < 0).all()
    assert (gain.loc["none"] == 0).all() and not higher["asr"] and higher["kws"]

    fig = plots.plot_cross_task(_cross())
    ax = fig.axes[0]
    rgba = _cell_colours(ax, values.shape)
    better, worse, same = rgba[1, 0], rgba[2, 0], rgba[0, 0]
    np.testing.assert_allclose(rgba[1, 1], better)  # WER 0.6 -> 0.4 has the colour of accuracy 0.5 -> 0.7
    np.testing.assert_allclose(rgba[2, 1], worse)  # and 0.6 -> 0.7 that of accuracy 0.5 -> 0.4
    assert better[2] > better[0] and worse[0] > worse[2]  # blue is better, red is worse
    assert np.all(same[:3] > 0.9)  # the `none` row: no change, (near) white
    lo, hi = ax.collections[0].get_clim()
    assert lo == -hi  # centred at zero
    texts = {t.get_text() for t in ax.texts}
    assert {"0.400\n(-0.200)", "0.700\n(+0.200)", "0.600\n(no AE)", "0.700\n(+0.100)"} <= texts
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["kws\naccuracy\n(higher is better)", "asr\nwer\n(lower is better)"]
    plt.close(fig)
    no_none = plots.plot_cross_task(_cross().query("ae_task != 'none'"))  # no baseline: values, no colour
    assert {"0.400\n", "0.700\n"} <= {t.get_text() for t in no_none.axes[0].texts}
    plt.close(no_none)
    with pytest.raises(KeyError, match="higher_is_better"):
        plots.cross_task_change(_cross().drop(columns="higher_is_better"))


def test_cross_task_redraws_from_its_csv(tmp_path):
    import matplotlib.pyplot as plt

    _cross().to_csv(tmp_path / "cross_task.csv", index=False)  # as results.write_tables writes it
    fig = plots.plot_cross_task_csv(tmp_path / "cross_task.csv", path=tmp_path / "cross_task.png")
    assert (tmp_path / "cross_task.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_allclose(_cell_colours(fig.axes[0], (3, 2)), _cell_colours(plots.plot_cross_task(_cross()).axes[0], (3, 2)))
    plt.close("all")


def test_triptych_shows_a_long_transcript_whole_inside_its_panel():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    label = "show me the forecast for monday and then turn on the garden television in the kitchen please"
    titles = (f"clean ({label})", "noisy: machinery noise, 0 dB", "enhanced (iterative AE)")
    wave = 0.1 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    fig = plots.triptych(wave, wave, wave, SR, titles=titles, suptitle=f"Figure 4 (asr): {label}")
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax, title in zip(fig.axes, titles):
        assert ax.get_title().replace("\n", " ") == title  # wrapped, nothing dropped
        box, panel = ax.title.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert panel.x0 - 1 <= box.x0 and box.x1 <= panel.x1 + 1, (ax.get_title(), box, panel)
    assert "\n" in fig.axes[0].get_title()  # the long one was wrapped
    sup = fig.get_suptitle()
    assert sup.replace("\n", " ") == f"Figure 4 (asr): {label}"
    box = fig._suptitle.get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    assert plots.wrap_to_width("a b", 1.0, 10) == "a b" and plots.wrap_to_width("x" * 80, 1.0, 10) == "x" * 80
