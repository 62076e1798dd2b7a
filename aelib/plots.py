"""Figures of the study: spectrograms of the demo and of Figure 4, and the plots of the results tables.

This module owns how a waveform becomes a picture: the log spectrogram (:func:`spectrogram_db`),
panels of spectrograms on one colour scale (:func:`spectrogram_panels`), the Figure-4 triptych of
the paper (clean | noisy | enhanced with ONE shared colour scale, :func:`triptych`), the SNR grid of
the demo (rows = SNRs, :func:`snr_grid_figure`), notebook display (:func:`show`) and atomic PNG
writing (:func:`save_figure`). It also draws the frames of :mod:`aelib.results`: a task's metric
over the SNR grid (:func:`plot_metric_vs_snr`), the importance weights per round
(:func:`plot_importance`), the cross-task matrix (:func:`plot_cross_task`) and a run's training
history (:func:`plot_history`). The material the demo shows (clips, noises, runs) is :mod:`aelib.demo`.
Titles are wrapped to their panel (:func:`wrap_to_width`), never cut: a transcript is shown whole.

Spectrograms are in dB re full scale (a full-scale sine peaks at 0 dB), never normalised per
panel: a shared ``vmin``/``vmax`` keeps loudness differences between the panels visible.
"""
from __future__ import annotations

import json
import math
import os
import textwrap
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .config import PARADIGMS, TASKS
from .files import atomic_write_with
from .results import summary_by_snr

DYNAMIC_RANGE_DB = 80.0  # default colour range below the loudest bin of all panels
FLOOR_DB = -120.0  # power floor of log10: digital silence shows as the darkest colour
CMAP = "magma"
CHAR_EM = 0.6  # mean advance of a DejaVu Sans character in em, rounded up: text wrapped at this width fits
CROSS_CMAP = "RdBu"  # diverging: red = worse than no front-end, white = no change, blue = better


# ---- spectrograms and figures ---------------------------------------------------------------
def wrap_to_width(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken at spaces into lines that fit ``width_in`` inches at ``fontsize`` points.

    Nothing is dropped: joining the lines with spaces gives ``text`` back (a word longer than a line
    stays whole). Existing line breaks are kept.
    """
    chars = max(10, int(width_in * 72 / (CHAR_EM * fontsize)))
    return "\n".join(textwrap.fill(line, chars, break_long_words=False, break_on_hyphens=False) or line
                     for line in text.split("\n"))


def spectrogram_db(wave: np.ndarray, sr: int, n_fft: int = 512, hop: int = 128
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-power spectrogram of a 1-D waveform.

    Args:
        wave: 1-D float waveform in [-1, 1].
        sr: sample rate in Hz.
        n_fft: frame length and FFT size (Hann window); 512 at 16 kHz as the AE.
        hop: frame shift in samples.

    Returns:
        ``(db, freqs, times)``: ``db`` of shape [n_fft // 2 + 1, frames] in dB re full scale, the bin
        frequencies in Hz and the frame centres in seconds.
    """
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise TypeError(f"Inputs must be of shape [time], got {x.shape}")
    x = np.pad(x, (n_fft // 2, n_fft // 2))  # centred frames, as torch.stft(center=True)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    win = np.hanning(n_fft + 1)[:-1]  # periodic Hann
    spec = np.fft.rfft(frames * win, axis=1) / (win.sum() / 2)  # a full-scale sine -> 0 dB
    db = 10.0 * np.log10(np.maximum(np.abs(spec) ** 2, 10 ** (FLOOR_DB / 10)))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    times = np.arange(len(frames)) * hop / sr
    return db.T.astype(np.float32), freqs, times


def shared_limits(spectrograms: Sequence[np.ndarray], vmin: float | None = None, vmax: float | None = None,
                  dynamic_range: float = DYNAMIC_RANGE_DB) -> tuple[float, float]:
    """One colour scale for several panels: ``vmax`` = loudest bin (rounded up to 5 dB), ``vmin`` = vmax - range."""
    if vmax is None:
        vmax = float(np.ceil(max(float(s.max()) for s in spectrograms) / 5.0) * 5.0)
    if vmin is None:
        vmin = vmax - dynamic_range
    return float(vmin), float(vmax)


def _panel(ax, db: np.ndarray, freqs: np.ndarray, times: np.ndarray, vmin: float, vmax: float):
    hop_s = times[1] - times[0] if len(times) > 1 else 0.0
    extent = (0.0, float(times[-1] + hop_s), 0.0, float(freqs[-1]))
    return ax.imshow(db, origin="lower", aspect="auto", extent=extent, vmin=vmin, vmax=vmax, cmap=CMAP,
                     interpolation="nearest")


def spectrogram_panels(waves: Sequence[np.ndarray], sr: int, titles: Sequence[str], *, ncols: int = 3,
                       suptitle: str | None = None, vmin: float | None = None, vmax: float | None = None,
                       n_fft: int = 512, hop: int = 128, panel_size: tuple[float, float] = (4.2, 3.0)):
    """Log spectrograms of several waveforms on ONE colour scale, ``ncols`` per row, one colourbar.

    Titles are wrapped to the panel width (and ``suptitle`` to the figure width), never cut.

    Returns:
        a matplotlib Figure (not registered with pyplot: display it with :func:`show` or save it).
    """
    from matplotlib.figure import Figure

    if len(waves) != len(titles):
        raise ValueError(f"got {len(waves)} waves but {len(titles)} titles")
    specs = [spectrogram_db(w, sr, n_fft, hop) for w in waves]
    lo, hi = shared_limits([s[0] for s in specs], vmin, vmax)
    ncols = max(1, min(ncols, len(waves)))
    nrows = -(-len(waves) // ncols)
    width = panel_size[0] * ncols + 1.0
    fig = Figure(figsize=(width, panel_size[1] * nrows + (0.4 if suptitle else 0.0)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        if k >= len(specs):
            ax.set_axis_off()
            continue
        db, f, t = specs[k]
        im = _panel(ax, db, f, t, lo, hi)
        ax.set_title(wrap_to_width(titles[k], panel_size[0] - 0.6, 10), fontsize=10)  # 0.6 in: ticks, label
        ax.set_xlabel("time (s)")
        if k % ncols == 0:
            ax.set_ylabel("frequency (Hz)")
    fig.colorbar(im, ax=axes.tolist(), label="dB re full scale", pad=0.01, shrink=min(1.0, 0.4 + 0.6 / nrows))
    if suptitle:
        fig.suptitle(wrap_to_width(suptitle, width - 1.0, 12), fontsize=12)
    return fig


def triptych(clean: np.ndarray, noisy: np.ndarray, enhanced: np.ndarray, sr: int, *,
             titles: Sequence[str] = ("clean", "noisy", "enhanced"), suptitle: str | None = None,
             vmin: float | None = None, vmax: float | None = None, n_fft: int = 512, hop: int = 128):
    """Figure 4 of the paper: clean | noisy | enhanced log spectrograms on one colour scale.

    Args:
        clean, noisy, enhanced: 1-D waveforms at ``sr`` (lengths may differ slightly).
        titles: the three panel titles (wrapped to the panel width: a whole transcript fits).
        vmin, vmax: the shared colour limits in dB; default: the loudest bin of the three panels and
            ``DYNAMIC_RANGE_DB`` below it.

    Returns:
        a matplotlib Figure with three panels (Hz over seconds, ``origin="lower"``) and ONE colourbar.
    """
    return spectrogram_panels([clean, noisy, enhanced], sr, titles, ncols=3, suptitle=suptitle, vmin=vmin,
                              vmax=vmax, n_fft=n_fft, hop=hop)


def snr_grid_figure(clean: np.ndarray, mixtures: Mapping[float, tuple[np.ndarray, np.ndarray]], sr: int, *,
                    notes: Mapping[float, str] | None = None, suptitle: str | None = None,
                    vmin: float | None = None, vmax: float | None = None, n_fft: int = 512, hop: int = 128,
                    col_titles: Sequence[str] = ("clean", "noisy", "enhanced"), row_height: float = 2.0):
    """Rows = SNRs, columns = clean | noisy | enhanced, all panels on one colour scale.

    Args:
        clean: the clean (target) waveform, repeated in the first column of every row.
        mixtures: SNR in dB -> ``(noisy, enhanced)`` waveforms, drawn in the mapping's order.
        notes: SNR -> a short text shown under the row's enhanced panel (e.g. the predictions).

    Returns:
        a matplotlib Figure with one colourbar.
    """
    from matplotlib.figure import Figure

    if not mixtures:
        raise ValueError("snr_grid_figure needs at least one SNR")
    snrs = list(mixtures)
    s_clean = spectrogram_db(clean, sr, n_fft, hop)
    rows = [(s_clean, spectrogram_db(mixtures[s][0], sr, n_fft, hop), spectrogram_db(mixtures[s][1], sr, n_fft, hop))
            for s in snrs]
    lo, hi = shared_limits([p[0] for r in rows for p in r], vmin, vmax)
    fig = Figure(figsize=(13.0, row_height * len(snrs) + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(snrs), 3, sharex=True, sharey=True))
    for i, snr in enumerate(snrs):
        for j, (db, f, t) in enumerate(rows[i]):
            ax = axes[i, j]
            im = _panel(ax, db, f, t, lo, hi)
            if i == 0:
                ax.set_title(col_titles[j])
            if j == 0:
                ax.set_ylabel(f"SNR {snr:g} dB\nHz")
            if i == len(snrs) - 1:
                ax.set_xlabel("time (s)")
        if notes and snr in notes:
            axes[i, 2].text(0.01, 0.97, notes[snr], transform=axes[i, 2].transAxes, va="top", ha="left",
                            fontsize=8, color="white", bbox=dict(facecolor="black", alpha=0.5, lw=0))
    fig.colorbar(im, ax=axes.ravel().tolist(), label="dB re full scale", pad=0.01, shrink=0.6)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG atomically (temporary file + rename); returns the path."""
    # mode 0o666 (less the umask): mkstemp makes 0600, and a figure is for everyone to read
    return atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"), suffix=".png", mode=0o666)


def png_bytes(fig, dpi: int = 90) -> bytes:
    """The figure as PNG bytes (for ``IPython.display.Image`` or an ``ipywidgets.Image``)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def show(fig, dpi: int = 90) -> None:
    """Display a Figure of this module in a notebook as a PNG image.

    The figures are not registered with pyplot (no global state, nothing to close), so they are
    rendered here: the same ``<img>`` in JupyterLab, Voila, papermill outputs and nbval.
    """
    from IPython.display import Image, display

    display(Image(data=png_bytes(fig, dpi), format="png"))


# ---- figures of the results tables ------------------------------------------------------------
def _save(fig, path: str | Path | None):
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_metric_vs_snr(df: pd.DataFrame, task: str, metric: str | None = None, kind: str = "synthetic",
                       noise_split: str = "all", path: str | Path | None = None, ax=None):
    """One line per paradigm over the SNR grid (clean at the right), 95 % CI bands over seeds."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = summary_by_snr(df, task, metric, kind, noise_split)
    long = long[long["condition"] != "avg"]
    fig, ax = (plt.subplots(figsize=(5.5, 3.6)) if ax is None else (ax.figure, ax))
    noisy = sorted(s for s in long["snr"].unique() if s != math.inf)
    clean_x = (max(noisy) + 10) if noisy else 0.0
    palette = dict(zip(PARADIGMS, sns.color_palette("colorblind", len(PARADIGMS))))
    for p, g in long.groupby("paradigm", sort=False):
        g = g.assign(x=g["snr"].replace(math.inf, clean_x)).sort_values("x")
        line = g[g["snr"] != math.inf]
        ax.plot(line["x"], line["mean"], marker="o", label=p, color=palette.get(p))
        ax.fill_between(line["x"], line["mean"] - line["ci"], line["mean"] + line["ci"], alpha=0.2, color=palette.get(p))
        c = g[g["snr"] == math.inf]
        ax.errorbar(c["x"], c["mean"], yerr=c["ci"].fillna(0), marker="s", color=palette.get(p), linestyle="none")
    ax.set_xticks(noisy + [clean_x], [f"{s:g}" for s in noisy] + ["clean"])
    ax.set_xlabel("test SNR (dB)")
    ax.set_ylabel(long.attrs.get("metric", metric))
    noise = "seen + unseen noise" if noise_split == "all" else noise_split
    ax.set_title(f"{task}: {long.attrs.get('metric')} vs SNR ({long.attrs.get('kind', kind)} test audio, {noise})",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def plot_importance(weights: pd.DataFrame, path: str | Path | None = None):
    """Distribution of the importance weights per round (one panel per task, seeds pooled)."""
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if t in set(weights["task"])] or ["(none)"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.0), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks):
        g = weights[weights["task"] == task]
        rounds = sorted(g["round"].unique())
        if rounds:
            ax.boxplot([g.loc[g["round"] == r, "weight"] for r in rounds], flierprops={"markersize": 2})
            ax.set_xticks(range(1, len(rounds) + 1), [str(r) for r in rounds])
            cap = g["w_max"].dropna()
            if len(cap):
                ax.axhline(cap.iloc[0], ls="--", lw=0.8, color="grey")
        ax.axhline(1.0, lw=0.8, color="black")
        ax.set_title(task)
        ax.set_xlabel("round")
    axes[0][0].set_ylabel("importance weight w_i")
    fig.tight_layout()
    return _save(fig, path)


def cross_task_change(cross: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """The cross-task matrix against its ``none`` row (the CA on the unprocessed mixture).

    Args:
        cross: the long table of :func:`aelib.crosstask.cross_task_matrix` (or its ``cross_task.csv``):
            ae_task, ca_task, metric, value, higher_is_better.

    Returns:
        ``(values, change, gain, higher)``: pivots with rows = AE task (``none`` first) and columns = CA
        task; ``change`` = value - the column's ``none`` value; ``gain`` = the change in the column's
        better direction (``-change`` for a lower-is-better metric such as WER), so + is always an
        improvement; ``higher`` = higher_is_better per column. Without a ``none`` row both are NaN.
    """
    if "higher_is_better" not in cross:
        raise KeyError("the cross-task table needs a 'higher_is_better' column, as cross_task_matrix writes it")
    values = cross.pivot(index="ae_task", columns="ca_task", values="value")
    order = ["none"] + list(TASKS)
    values = values.reindex(index=[t for t in order if t in values.index],
                            columns=[t for t in TASKS if t in values.columns])
    higher = cross.drop_duplicates("ca_task").set_index("ca_task")["higher_is_better"].astype(bool)
    higher = higher.reindex(values.columns)
    change = values - values.loc["none"] if "none" in values.index else values * math.nan
    gain = change * np.where(higher, 1.0, -1.0)
    return values, change, gain, higher


def plot_cross_task(cross: pd.DataFrame, path: str | Path | None = None):
    """Heatmap of the cross-task matrix (rows: whose AE, columns: whose CA and metric).

    Each cell prints the CA's metric and, below it, its change against the ``none`` row. The colour is
    that change in the column's better direction (:func:`cross_task_change`), one diverging scale
    centred at 0 for all columns: better than no front-end is blue whatever the metric, worse is red.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    values, change, gain, higher = cross_task_change(cross)
    metrics = dict(zip(cross["ca_task"], cross["metric"]))
    text = np.full(values.shape, "", dtype=object)
    for i, row in enumerate(values.index):
        for j, v in enumerate(values.iloc[i]):
            if not np.isfinite(v):
                continue
            d = round(float(change.iloc[i, j]), 3) + 0.0  # + 0.0: a change that rounds to zero shows no "-"
            text[i, j] = f"{v:.3f}\n" + ("(no AE)" if row == "none" else f"({d:+.3f})" if np.isfinite(d) else "")
    lim = float(np.nanmax(np.abs(gain.to_numpy()))) if gain.notna().to_numpy().any() else 0.0
    lim = lim or 1.0  # a matrix without change: every cell white
    fig, ax = plt.subplots(figsize=(1.7 * len(values.columns) + 2.6, 0.75 * len(values.index) + 1.6))
    shown = gain.where(gain.notna() | values.isna(), 0.0)  # no `none` row: white cells, values still printed
    sns.heatmap(shown, annot=text, fmt="", cmap=CROSS_CMAP, vmin=-lim, vmax=lim, linewidths=0.5, ax=ax,
                cbar_kws={"label": "change vs none, in the better direction\n(+ better, - worse)"})
    ax.set_xticklabels([f"{t}\n{metrics.get(t, '')}\n({'higher' if higher[t] else 'lower'} is better)"
                        for t in values.columns])
    ax.set_yticklabels(values.index, rotation=0)
    ax.set_xlabel("CA (test set) of task")
    ax.set_ylabel("AE of task")
    fig.tight_layout()
    return _save(fig, path)


def plot_cross_task_csv(csv_path: str | Path, path: str | Path | None = None):
    """:func:`plot_cross_task` of a written ``cross_task.csv``: redraws the figure from the table alone."""
    return plot_cross_task(pd.read_csv(csv_path), path=path)


def plot_history(run_dir: str | Path, path: str | Path | None = None):
    """A run's training losses (AE steps and CA steps apart: their scales differ) and validation score per epoch."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    h = pd.DataFrame(json.loads((Path(run_dir) / "history.json").read_text()))
    h["epoch_total"] = np.arange(1, len(h) + 1)
    is_ae = h["step"].isin(["ae", "ae_weighted"]) if "step" in h else pd.Series(False, index=h.index)
    panels = [(h[is_ae], "train_loss", "AE training loss (lower is better)"),
              (h[~is_ae], "train_loss", "CA training loss (joint: L_AE + lambda L_CA)"),
              (h, "score", "validation score (higher is better)")]
    panels = [p for p in panels if not p[0].empty]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    colours = dict(zip(dict.fromkeys(h["phase"]), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10))
    for ax, (sub, col, label) in zip(axes[0], panels):
        for phase, g in sub.groupby("phase", sort=False):
            ax.plot(g["epoch_total"], g[col], marker="o", label=phase, color=colours[phase])
        ax.set_xlabel("epoch (all phases)")
        ax.set_title(label, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)
