"""Figures of the study, and the demo material they are drawn from.

This module owns how a waveform becomes a picture: the log spectrogram (:func:`spectrogram_db`),
panels of spectrograms on one colour scale (:func:`spectrogram_panels`), the Figure-4 triptych of
the paper (clean | noisy | enhanced with ONE shared colour scale, :func:`triptych`), the SNR grid of
the demo (rows = SNRs, :func:`snr_grid_figure`), notebook display (:func:`show`) and atomic PNG
writing (:func:`save_figure`). It also owns the demo material those figures show: one test clip of a
run's corpus with one test noise file at a fixed offset (:class:`DemoExample`, :func:`make_example`),
remixed at any SNR with :func:`aelib.mixing.mix`, and the run folders of a study (:func:`find_runs`).

Spectrograms are in dB re full scale (a full-scale sine peaks at 0 dB), never normalised per
panel: a shared ``vmin``/``vmax`` keeps loudness differences between the panels visible.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

DYNAMIC_RANGE_DB = 80.0  # default colour range below the loudest bin of all panels
FLOOR_DB = -120.0  # power floor of log10: digital silence shows as the darkest colour
CMAP = "magma"
AE_PARADIGMS = ("iterative", "cascade", "joint")  # paradigms whose runs have an AE, in Figure-4 preference


# ---- spectrograms and figures ---------------------------------------------------------------
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
    fig = Figure(figsize=(panel_size[0] * ncols + 1.0, panel_size[1] * nrows + (0.4 if suptitle else 0.0)),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        if k >= len(specs):
            ax.set_axis_off()
            continue
        db, f, t = specs[k]
        im = _panel(ax, db, f, t, lo, hi)
        ax.set_title(titles[k], fontsize=10)
        ax.set_xlabel("time (s)")
        if k % ncols == 0:
            ax.set_ylabel("frequency (Hz)")
    fig.colorbar(im, ax=axes.tolist(), label="dB re full scale", pad=0.01, shrink=min(1.0, 0.4 + 0.6 / nrows))
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def triptych(clean: np.ndarray, noisy: np.ndarray, enhanced: np.ndarray, sr: int, *,
             titles: Sequence[str] = ("clean", "noisy", "enhanced"), suptitle: str | None = None,
             vmin: float | None = None, vmax: float | None = None, n_fft: int = 512, hop: int = 128):
    """Figure 4 of the paper: clean | noisy | enhanced log spectrograms on one colour scale.

    Args:
        clean, noisy, enhanced: 1-D waveforms at ``sr`` (lengths may differ slightly).
        titles: the three panel titles.
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a figure is for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


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


# ---- demo material --------------------------------------------------------------------------
@dataclass
class DemoExample:
    """One test clip and one noise file at a fixed offset: :meth:`mix` only changes the SNR."""

    task: str
    clip_path: str
    label: str  # class name or transcript: the reference
    kind: str  # synthetic | real
    clean: np.ndarray
    noise_path: str
    noise_type: str
    noise_source: str
    noise: np.ndarray
    offset: int
    sr: int = 16_000

    def mix(self, snr_db: float) -> np.ndarray:
        """The noisy mixture at exactly ``snr_db`` (aelib.mixing.mix, this example's noise offset)."""
        from .mixing import mix

        return mix(self.clean, self.noise, float(snr_db), self.offset, sr=self.sr)[0]


def demo_clips(data_dir: str | os.PathLike, task: str) -> list[dict]:
    """The test rows of ``<data_dir>/<task>.csv`` in manifest order: synthetic speech first, and filler
    classes such as kws ``_silence_`` / ``_unknown_`` (labels starting with "_") after the real classes."""
    from .corpora.manifest import TASK_COLUMNS, read_manifest

    rows = [r for r in read_manifest(Path(data_dir) / f"{task}.csv", TASK_COLUMNS) if r["split"] == "test"]
    return sorted(rows, key=lambda r: (r["label"].startswith("_"), r["kind"] != "synthetic"))


def demo_noises(data_dir: str | os.PathLike, task: str, split: str = "test_seen") -> list[dict]:
    """Noise rows of one split from the task's noise bank (noise_asc.csv where speech is the interferer)."""
    from .corpora.manifest import NOISE_COLUMNS, read_manifest
    from .tasks import get_task

    name = "noise_asc.csv" if get_task(task).interferer == "speech" else "noise.csv"
    return [r for r in read_manifest(Path(data_dir) / name, NOISE_COLUMNS) if r["split"] == split]


def make_example(data_dir: str | os.PathLike, task: str, clip_index: int = 0, noise_split: str = "test_seen",
                 noise_type: str = "", noise_index: int = 0, seed: int = 0, sr: int = 16_000) -> DemoExample:
    """Test clip ``clip_index`` of ``task`` with a test noise file at a seeded, fixed offset.

    Args:
        noise_type: pick among the files of this type ("" = every file of the split).
        noise_index: which of those files (modulo their number).

    Raises:
        ValueError: no test clips, or no noise file of that split/type (the message lists the types).
    """
    from .audio import fit_length, load_audio
    from .tasks import get_task

    spec = get_task(task)
    clips = demo_clips(data_dir, task)
    if not clips:
        raise ValueError(f"{data_dir}/{task}.csv has no test clips")
    row = clips[clip_index % len(clips)]
    noises = demo_noises(data_dir, task, noise_split)
    pool = [r for r in noises if not noise_type or r["type"] == noise_type]
    if not pool:
        raise ValueError(f"no {noise_type or 'noise'} files in the {noise_split} split of {data_dir}; "
                         f"types there: {sorted({r['type'] for r in noises})}")
    nrow = pool[noise_index % len(pool)]
    wave = load_audio(row["path"], sr, warn=False)
    n = int(round(spec.clip_seconds * sr))
    clean = fit_length(wave, n if spec.fixed_length else min(len(wave), n))  # as aelib.data does
    noise = load_audio(nrow["path"], sr, warn=False)
    offset = int(np.random.default_rng([seed, clip_index, noise_index]).integers(len(noise)))
    return DemoExample(task, row["path"], row["label"], row["kind"], clean, nrow["path"], nrow["type"],
                       nrow["source"], noise, offset, sr)


def playable(*waves: np.ndarray, peak: float = 0.99) -> list[np.ndarray]:
    """Scale all waves by ONE gain so that the loudest peak is at most ``peak`` (for Audio(normalize=False))."""
    top = max(float(np.max(np.abs(w))) for w in waves) if waves else 0.0
    gain = min(1.0, peak / top) if top > 0 else 1.0
    return [np.asarray(w, dtype=np.float32) * gain for w in waves]


def sisdr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    """:func:`aelib.metrics.si_sdr` of one pair of 1-D waves, cut to the shorter length."""
    from .metrics import si_sdr

    n = min(len(estimate), len(reference))
    return float(si_sdr(np.asarray(estimate[:n])[None], np.asarray(reference[:n])[None])[0])


def ca_predict(pipe, wave: np.ndarray, sr: int = 16_000) -> str:
    """The run's CA alone on ``wave`` (no AE in front): the "noisy" prediction of the demo."""
    return pipe.predict(wave, sr, enhance=False)


def find_runs(study_dir: str | os.PathLike) -> dict[str, Path]:
    """Trained runs of a study: ``"<task>/<paradigm>/seed<k>"`` -> run folder (with checkpoints/best.th)."""
    root = Path(study_dir)
    found = sorted(root.glob("*/*/seed*/checkpoints/best.th"))
    return {f"{p.parents[3].name}/{p.parents[2].name}/{p.parents[1].name}": p.parents[1] for p in found
            if not p.parents[2].name.startswith("_")}


def pick_run(runs: Mapping[str, Path], task: str, paradigms: Sequence[str] = AE_PARADIGMS,
             seed: int | None = None) -> str | None:
    """The key of the first run of ``task`` in ``paradigms`` order (and ``seed`` when given), or None."""
    for p in paradigms:
        keys = [k for k in runs if k.split("/")[:2] == [task, p]
                and (seed is None or k.endswith(f"/seed{seed}"))]
        if keys:
            return sorted(keys)[0]
    return None
