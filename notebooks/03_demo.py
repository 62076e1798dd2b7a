# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Demo: listen to the enhancement, and Figure 4
#
# *Milling et al. 2024, "Audio Enhancement for Computer Audition: An Iterative Training Paradigm
# Using Sample Importance" (JCST 39(4); [arXiv 2408.06264](https://arxiv.org/abs/2408.06264)).*
#
# Pick a trained run, a test clip and a test noise file, then move the SNR slider: the clip is re-mixed
# at exactly that SNR (`aelib.mixing.mix`, fixed noise offset), enhanced by the run's AE, and shown as
# clean | noisy | enhanced spectrograms on one colour scale, with players that keep the real loudness
# and the CA's prediction on the noisy and on the enhanced audio next to the reference.
# The slider needs a live kernel (JupyterLab, or this notebook as a Voila page:
# `voila notebooks/03_demo.ipynb`); a static SNR grid below shows the same for several SNRs without
# one. The last section draws Figure 4 of the paper from the study's runs and saves it as PNG.
#
# Voila cannot pass parameters: empty run parameters are filled from the environment
# (`AELIB_DEMO_RUN_DIR`, `AELIB_DEMO_STUDY_DIR`, `AELIB_DEMO_TASK`, `AELIB_DEMO_PARADIGM`,
# `AELIB_DEMO_SAVE_DIR`) or from a JSON file named by `AELIB_DEMO_CONFIG`.

# %% tags=["parameters"]
run_dir = ""  # a finished run folder runs/<study>/<task>/<paradigm>/seed<k>; empty: chosen in study_dir
study_dir = ""  # runs/<study> holding the runs (relative: to the repository); empty: the run's study, else
#   the first of runs/first-look (what `make study` trains here) and runs/default that has trained runs
task = ""  # task of the run shown first; empty: the first task that has a run
paradigm = ""  # paradigm of the run shown first; empty: iterative, then cascade, joint, noisy, clean
seed = 0  # seed of the run shown first; also seeds the noise offset
clip_index = 0  # test clip of the task (synthetic speech first, then real; filler classes last)
noise_split = "test_seen"  # noise files of the demo: test_seen | test_unseen
noise_type = ""  # noise type of the demo (e.g. machinery); empty: the first file of the split
snr_db = 0.0  # first slider position in dB, one of -10, -5, 0, 5, 10, 15, 20
grid_snrs = "-10,-5,0,5,10,20"  # SNRs of the static grid in dB, comma-separated
figure4_snr = 0.0  # SNR of the Figure-4 mixtures in dB
save_dir = ""  # folder of the PNGs; empty: <study_dir>/results

# %%
import json
import os
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch
from IPython.display import HTML, Audio, Markdown, display

from aelib import load_run
from aelib.layout import REPO
from aelib.demo import (FIGURE4_PARADIGMS, ca_predict, demo_clips, demo_noises, find_runs, make_example, pick_run,
                        playable, sisdr_db)
from aelib.plots import png_bytes, save_figure, show, snr_grid_figure, triptych

# Parameters left empty are filled from the environment or a JSON file (for Voila, which has no parameters).
_fallback = json.loads(Path(os.environ["AELIB_DEMO_CONFIG"]).read_text()) if os.environ.get("AELIB_DEMO_CONFIG") else {}
for _name in ("run_dir", "study_dir", "task", "paradigm", "save_dir"):
    if not globals()[_name]:
        globals()[_name] = os.environ.get(f"AELIB_DEMO_{_name.upper()}") or str(_fallback.get(_name, ""))

torch.set_num_threads(1)  # one clip at a time: one thread is fast, and 10-30x faster than contended threads
SR = 16_000
SLIDER_SNRS = [-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0]
PARADIGM_ORDER = ([paradigm] if paradigm else []) + [*FIGURE4_PARADIGMS, "noisy", "clean"]


def repo_path(p: str) -> Path:
    """A path as typed: absolute as it is, relative to the repository (not to notebooks/, Voila's cwd)."""
    p = Path(p).expanduser()
    return (p if p.is_absolute() else REPO / p).resolve()


if run_dir:
    run_dir = repo_path(run_dir)
    study = repo_path(study_dir) if study_dir else run_dir.parents[2]
else:
    candidates = [repo_path(study_dir)] if study_dir else [REPO / "runs" / "first-look", REPO / "runs" / "default"]
    study = next((p for p in candidates if find_runs(p)), candidates[-1])
runs = find_runs(study)
if run_dir:
    runs.setdefault("/".join(run_dir.parts[-3:]), run_dir)
    first = next(k for k, v in runs.items() if Path(v).resolve() == run_dir)
else:
    tasks_with_runs = sorted({k.split("/")[0] for k in runs})
    first = pick_run(runs, task or (tasks_with_runs[0] if tasks_with_runs else ""), PARADIGM_ORDER, seed) \
        or pick_run(runs, task or (tasks_with_runs[0] if tasks_with_runs else ""), PARADIGM_ORDER)
out_dir = repo_path(save_dir) if save_dir else study / "results"
print(f"study: {study}\nruns found: {len(runs)}\nfirst run: {first}\nfigures go to: {out_dir}")
if first is None:
    display(Markdown(
        f"**No trained run found** under `{study}` (task={task or 'any'}): the committed runs/default holds "
        "summaries only. `make study` trains the demo's runs here into runs/first-look (found by default); "
        "or train one, e.g. `python -m aelib.runs --task asr --paradigm iterative --preset smoke --study mine`, "
        "and set `study_dir` / `run_dir` (or `AELIB_DEMO_STUDY_DIR` for Voila; relative to the repository)."))

# %%
_pipes: dict = {}


def pipeline(key: str):
    """The run's models, loaded once (CPU)."""
    if key not in _pipes:
        _pipes[key] = load_run(runs[key])
    return _pipes[key]


def outcome(pipe, pred: str, ref: str) -> str:
    """A prediction with its per-utterance score: WER for asr, right/wrong otherwise."""
    if pipe.task == "asr":
        return f"{pred!r} (WER {pipe.task_spec.per_sample_correct(pred, ref):.2f})"
    return f"{pred} ({'right' if pred == ref else 'wrong'})"


def enhance(pipe, noisy: np.ndarray) -> np.ndarray:
    return pipe.enhance(noisy, SR)[: len(noisy)]


def predictions(pipe, ex, noisy: np.ndarray, enhanced: np.ndarray) -> pd.DataFrame:
    """Reference and the CA's predictions on clean, noisy (CA alone) and enhanced (AE, then CA) audio."""
    rows = [{"": "reference", "prediction": ex.label, "SI-SDR (dB)": ""}]
    for name, wave in (("clean", ex.clean), ("noisy", noisy), ("enhanced", enhanced)):
        rows.append({"": f"CA on {name}", "prediction": outcome(pipe, ca_predict(pipe, wave, SR), ex.label),
                     "SI-SDR (dB)": "" if name == "clean" else f"{round(sisdr_db(wave, ex.clean), 1) + 0.0:.1f}"})
    return pd.DataFrame(rows).set_index("")


def players(waves: dict) -> str:
    """HTML of one row of IPython Audio players (normalize=False; one shared gain keeps loudness differences)."""
    scaled = playable(*waves.values())
    cells = "".join(f"<td style='padding:4px 12px'><b>{name}</b><br>{Audio(w, rate=SR, normalize=False)._repr_html_()}</td>"
                    for name, w in zip(waves, scaled))
    return f"<table><tr>{cells}</tr></table>"


# %% [markdown]
# ## The SNR slider
# Choose the run, the test clip and the noise file; the slider re-mixes the same clip and noise segment
# at the chosen SNR. "CA on noisy" is the run's CA alone (no AE); "CA on enhanced" is the run's full
# pipeline (AE, then CA). Runs of the `clean` and `noisy` paradigms have no AE: there enhanced = noisy.

# %%
def clip_options(key: str) -> list[tuple[str, int]]:
    rows = demo_clips(pipeline(key).cfg.data_dir, pipeline(key).task)
    return [(f"{i}: {r['label'][:40]} ({r['kind']}, {r['source'][:18]})", i) for i, r in enumerate(rows[:60])]


def noise_options(key: str, split: str) -> list[tuple[str, int]]:
    rows = demo_noises(pipeline(key).cfg.data_dir, pipeline(key).task, split)
    return [(f"{r['type']}: {r['source'][:40]}", i) for i, r in enumerate(rows)]


def first_noise(key: str, split: str, kind: str) -> int:
    rows = demo_noises(pipeline(key).cfg.data_dir, pipeline(key).task, split)
    return next((i for i, r in enumerate(rows) if r["type"] == kind), 0)


if first is not None:
    run_w = widgets.Dropdown(options=sorted(runs), value=first, description="run", disabled=len(runs) < 2,
                             layout=widgets.Layout(width="420px"))
    clip_w = widgets.Dropdown(options=clip_options(first), description="test clip", layout=widgets.Layout(width="520px"))
    clip_w.value = clip_index % len(clip_w.options)
    split_w = widgets.ToggleButtons(options=["test_seen", "test_unseen"], value=noise_split, description="noise split",
                                    style={"button_width": "120px"})
    noise_w = widgets.Dropdown(options=noise_options(first, noise_split), description="noise file",
                               value=first_noise(first, noise_split, noise_type), layout=widgets.Layout(width="520px"))
    snr_w = widgets.SelectionSlider(options=[(f"{s:g}", s) for s in SLIDER_SNRS], value=float(snr_db),
                                    description="SNR (dB)", continuous_update=False,
                                    layout=widgets.Layout(width="520px"))
    # The view is made of Image and HTML widgets, not an Output widget: their values are plain state, so
    # the page renders the same in JupyterLab and Voila (Voila 0.5 can stall on Output capture during execution).
    figure_w = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="1200px"))
    players_w, predictions_w = widgets.HTML(), widgets.HTML()
    state = {"busy": False, "example": None}

    def new_example() -> None:
        pipe = pipeline(run_w.value)
        noise = demo_noises(pipe.cfg.data_dir, pipe.task, split_w.value)[noise_w.value]
        same_type = [i for i, r in enumerate(demo_noises(pipe.cfg.data_dir, pipe.task, split_w.value))
                     if r["type"] == noise["type"]]
        state["example"] = make_example(pipe.cfg.data_dir, pipe.task, clip_w.value, split_w.value, noise["type"],
                                        same_type.index(noise_w.value), seed=seed, sr=SR)

    def render(*_) -> None:
        if state["busy"]:
            return
        pipe, ex, snr = pipeline(run_w.value), state["example"], snr_w.value
        noisy = ex.mix(snr)
        enhanced = enhance(pipe, noisy)
        ae = f"{pipe.paradigm} AE" if pipe.ae is not None else "no AE in this paradigm: enhanced = noisy"
        figure_w.value = png_bytes(triptych(ex.clean, noisy, enhanced, SR, titles=("clean", f"noisy ({snr:g} dB)",
                                                                                  f"enhanced ({ae})"),
                                            suptitle=f"{run_w.value}, {ex.noise_type} noise at {snr:g} dB"))
        players_w.value = players({"clean": ex.clean, "noisy": noisy, "enhanced": enhanced})
        predictions_w.value = predictions(pipe, ex, noisy, enhanced).to_html()

    def reset_choices(new_run: bool) -> None:
        """Refill the clip (for a new run) and noise-file menus, then redraw once."""
        state["busy"] = True
        try:
            if new_run:
                clip_w.options = clip_options(run_w.value)
                clip_w.value = 0
            noise_w.options = noise_options(run_w.value, split_w.value)
            noise_w.value = 0
        finally:
            state["busy"] = False
        new_example()
        render()

    def on_run(change) -> None:
        reset_choices(new_run=True)

    def on_split(change) -> None:
        reset_choices(new_run=False)

    def on_example(change) -> None:
        if not state["busy"]:
            new_example()
            render()

    run_w.observe(on_run, names="value")
    split_w.observe(on_split, names="value")
    clip_w.observe(on_example, names="value")
    noise_w.observe(on_example, names="value")
    snr_w.observe(render, names="value")
    new_example()
    render()
    display(widgets.VBox([run_w, clip_w, split_w, noise_w, snr_w, figure_w, players_w, predictions_w]))

# %% [markdown]
# ## Static SNR grid
# The first run, clip and noise file at several SNRs, all panels on one colour scale: what the slider
# shows, for readers without a live kernel. The white note under each enhanced panel gives the CA's
# prediction on the noisy and on the enhanced audio.

# %%
grid = pd.DataFrame()
if first is not None:
    pipe = pipeline(first)
    ex = make_example(pipe.cfg.data_dir, pipe.task, clip_index, noise_split, noise_type, seed=seed, sr=SR)
    snrs = [float(s) for s in grid_snrs.split(",") if s.strip()]
    mixtures, notes, rows = {}, {}, []
    for snr in snrs:
        noisy = ex.mix(snr)
        enhanced = enhance(pipe, noisy)
        mixtures[snr] = (noisy, enhanced)
        p_noisy, p_enh = ca_predict(pipe, noisy, SR), ca_predict(pipe, enhanced, SR)
        show_pred = (lambda p: repr(p[:30])) if pipe.task == "asr" else str  # an empty transcript stays visible
        notes[snr] = f"noisy: {show_pred(p_noisy)}\nenhanced: {show_pred(p_enh)}"
        db = lambda x: round(float(x), 2) + 0.0  # noqa: E731 (+ 0.0: no "-0.0" in the table)
        rows.append(dict(snr_db=snr, measured_snr_db=db(10 * np.log10(np.mean(ex.clean**2) / np.mean((noisy - ex.clean) ** 2))),
                         sisdr_noisy_db=db(sisdr_db(noisy, ex.clean)), sisdr_enhanced_db=db(sisdr_db(enhanced, ex.clean)),
                         pred_noisy=p_noisy, pred_enhanced=p_enh, reference=ex.label))
    grid = pd.DataFrame(rows)
    fig = snr_grid_figure(ex.clean, mixtures, SR, notes=notes,
                          suptitle=f"{first}: clip {clip_index} ({ex.label[:40]}), {ex.noise_type} noise ({ex.noise_source})")
    show(fig)
    grid_png = save_figure(fig, out_dir / f"demo_grid_{first.replace('/', '_')}_clip{clip_index}.png")
    print("saved", grid_png.name)
    display(grid)

# %%
# NBVAL_CHECK_OUTPUT
# SNRs are exact by construction; the SI-SDR of the enhanced audio is the regression check of the AE.
print((grid[["snr_db", "measured_snr_db", "sisdr_noisy_db", "sisdr_enhanced_db"]].round(1) + 0.0).to_string(index=False)
      if len(grid) else "no run")

# %% [markdown]
# ## Figure 4
# As in the paper: log spectrograms of a clean clip, the noisy mixture and the enhanced audio, for an
# `asc` scene with **speech** as the interferer (`noise_asc.csv`) and an `asr` utterance with
# **machinery** noise (`noise.csv`), at `figure4_snr` dB, each enhanced by the AE of a trained run of
# that task (iterative, else cascade, else joint). Saved as `figure4_<task>.png` under `save_dir`.

# %%
FIGURE4 = [  # (task, noise split, noise type, what the interferer is)
    ("asc", "test_seen", "", "speech (held-out synthetic voice)"),
    ("asr", "test_seen", "machinery", "machinery noise"),
]
made, missing = [], []
for f4_task, f4_split, f4_type, what in FIGURE4:
    key = pick_run(runs, f4_task, ([paradigm] if paradigm in FIGURE4_PARADIGMS else []) + list(FIGURE4_PARADIGMS),
                   seed) or pick_run(runs, f4_task, FIGURE4_PARADIGMS)
    if key is None:
        missing.append(f"{f4_task} (no finished {'/'.join(FIGURE4_PARADIGMS)} run under {study})")
        continue
    pipe = pipeline(key)
    types = {r["type"] for r in demo_noises(pipe.cfg.data_dir, f4_task, f4_split)}
    if f4_type and f4_type not in types:
        what = f"{sorted(types)[0]} noise (this corpus has no {f4_type} files in {f4_split})"
        f4_type = sorted(types)[0]
    ex = make_example(pipe.cfg.data_dir, f4_task, 0, f4_split, f4_type, seed=seed, sr=SR)
    noisy = ex.mix(figure4_snr)
    enhanced = enhance(pipe, noisy)
    fig = triptych(ex.clean, noisy, enhanced, SR,
                   titles=(f"clean ({ex.label})", f"noisy: {what}, {figure4_snr:g} dB", f"enhanced ({pipe.paradigm} AE)"),
                   suptitle=f"Figure 4 ({f4_task}): run {key}")
    show(fig)
    made.append(save_figure(fig, out_dir / f"figure4_{f4_task}.png"))
    display(HTML(players({"clean": ex.clean, "noisy": noisy, "enhanced": enhanced})))
print("Figure 4 written:", ", ".join(p.name for p in made) or "none")
if missing:
    display(Markdown("**Figure 4 runs missing:** " + "; ".join(missing)
                     + ". Train them (e.g. `python -m aelib.runs --task asc --paradigm iterative`) and re-run."))
