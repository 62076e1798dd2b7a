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
# # 01 · Train and evaluate one run
#
# One (task, paradigm, seed) run of the study: an audio-enhancement (AE) front-end in front of a
# computer-audition (CA) model, trained under one of the paradigms and evaluated over an SNR grid.
#
# Reproduces: M. Milling, S. Liu, A. Triantafyllopoulos, I. Aslan, B. W. Schuller, *Audio Enhancement
# for Computer Audition — An Iterative Training Paradigm Using Sample Importance*, Journal of Computer
# Science and Technology 39(4), 2024 ([arXiv:2408.06264](https://arxiv.org/abs/2408.06264)).
#
# The study runner (`python -m aelib.study`) executes this notebook once per run with papermill and keeps
# the executed copy in the run folder (`runs/<study>/<task>/<paradigm>/seed<k>/train.ipynb`). On its own:
#
# ```
# mkdir -p runs/notebook   # papermill does not create the output's folder
# papermill notebooks/01_train.ipynb runs/notebook/out.ipynb -p task asr -p paradigm joint -p preset small
# papermill notebooks/01_train.ipynb runs/notebook/out.ipynb -p task kws -p preset smoke -p config_json '{"ca_epochs": 2}'
# ```
#
# The parameters are what a person edits by hand; every other knob (any field of `aelib.config.Config`:
# epochs, SNRs, loss weights, importance, ...) is set through `config_json`, a JSON object of Config
# fields. The study runner passes the run's whole resolved Config there, so the executed notebook in a
# run folder holds everything that made the run.
#
# Everything below is a thin layer over `aelib`: the notebook holds no training logic.

# %% tags=["parameters"]
task = "kws"  # kws | asr | ser | asc
paradigm = "iterative"  # clean | noisy | cascade | joint | iterative | noisereduce
preset = "smoke"  # smoke (about a minute on 2 cores) | small (the CPU study) | paper (GPU, real corpora)
seed = 0  # set before any model is built; part of the run path
study = "notebook"  # runs/<study>/<task>/<paradigm>/seed<k>; the study runner passes its own
data_dir = ""  # corpus root with <task>.csv and noise.csv; empty: the preset's embedded corpus, built if missing
run_root = ""  # folder of the studies; empty: <repository>/runs
config_json = ""  # any other Config field(s) as a JSON object, e.g. '{"ca_epochs": 2, "test_snrs": [-5, 0, 5]}'
threads = 0  # torch CPU threads; 0: torch default (the study runner sets cores / workers)
progress = True  # tqdm progress bars

# %% [markdown]
# ## Resolve the configuration
# The parameters above (and `config_json`) only *override* the preset: every default lives once, in
# `aelib/config.py`. The resolved `Config` is saved into the run folder as `params.json` (with the git
# commit and package versions).

# %%
import json
import textwrap

import matplotlib.pyplot as plt
import pandas as pd
import torch

from aelib import plots, results, runs
from aelib.device import seed_everything
from aelib.study import config_from_parameters, ensure_corpus

cfg = config_from_parameters(task=task, paradigm=paradigm, preset=preset, seed=seed, study=study, data_dir=data_dir,
                             run_root=run_root, config_json=config_json)
if threads:
    torch.set_num_threads(int(threads))
ensure_corpus(cfg.preset, data_dir, tasks=(cfg.task,), progress=progress)
seed_everything(cfg.seed)
print(f"run folder: {cfg.run_dir}")
print(f"corpus:     {cfg.data_dir}")
print(textwrap.fill(", ".join(f"{k}={v}" for k, v in cfg.to_dict().items() if k not in ("run_root", "data_dir")), 110))

# %% [markdown]
# ## What the paradigms do
#
# A CA model (keyword spotting, speech recognition, speech emotion recognition or acoustic scene
# classification) has to work on noisy audio. An AE front-end (a U-Net that predicts a mask on the
# noisy spectrogram) can clean the audio first. The paradigms differ in *what trains on what* and in
# *which loss reaches which weights*:
#
# | paradigm | AE | CA trained on | gradient into the AE |
# |---|---|---|---|
# | `clean` | none | clean audio | — |
# | `noisy` | none | noisy mixtures (data augmentation) | — |
# | `cascade` | trained alone (waveform loss), then frozen | the frozen AE's enhanced audio | AE loss only |
# | `joint` | starts as in cascade, trained together with the CA | enhanced audio | L_AE + λ·L_CA: the CA loss flows into the AE |
# | `iterative` (the paper's) | starts as in cascade; then R rounds | clean audio first, then enhanced audio in each round | AE loss only, **weighted per sample** |
# | `noisereduce` (classical peer) | none: spectral gating from the `noisereduce` package | its gated output | — (nothing to learn) |
#
# **Iterative training with sample importance.** After the AE is pre-trained (as in cascade) and the
# CA is trained on clean audio, each round has two phases:
#
# 1. *AE phase*: the CA is frozen. For every training mixture *i* the AE produces an enhanced signal,
#    the CA computes its task loss *l_i* on it, and that loss becomes an importance weight
#    *w_i* = min(*l_i* / mean of the batch's losses, *w_max*). The AE is then trained with
#    L = Σ *w_i* L_AE,i / Σ *w_i*: samples that the task still finds hard after enhancement count more,
#    so the AE spends its capacity where it matters for the task. The weights are detached: the CA only
#    *scores* the samples, no CA gradient reaches the AE (the difference from `joint`).
# 2. *CA phase*: the AE is frozen and the CA is trained on the enhanced audio by its own loss, so it
#    adapts to what the AE now produces.
#
# Uniform weights (`importance = "uniform"`) make the AE phase plain cascade training: the ablation. The
# exact normalisation of the paper's weights is not published; the ratio with a cap is our default and
# the alternatives (`softmax`, `rank`) are options. The spread of the weights per round is logged and
# shown below.

# %% [markdown]
# ## Train and evaluate
# Resumes from `checkpoints/checkpoint.th` if the run was interrupted; a finished run (its
# `metrics.json` exists) is loaded, not retrained. Shared stages (AE pre-training, clean CA) are computed
# once per task and seed and reused by every paradigm that starts with them.

# %%
metrics = runs.execute(cfg, progress=progress)
print(f"finished: {cfg.run_dir / 'metrics.json'} (training {metrics['train_seconds']:.0f} s)")

# %% [markdown]
# ## Training history
# Loss per epoch (AE and CA losses apart: their scales differ) and the validation score that keeps each
# phase's best state: minus the validation AE loss in AE pre-training, the task's primary metric (on the
# audio the CA sees) in the other phases. Validation data only: the test set is never looked at in training.

# %%
history = pd.DataFrame(json.loads((cfg.run_dir / "history.json").read_text()))
plots.plot_history(cfg.run_dir)
plt.show()
if "reused" in history:  # a shared stage made by another paradigm's run: its path is in history.json
    history["reused"] = history["reused"].notna()
history.round(4)

# %% [markdown]
# ## Test results per SNR
# The primary metric per speech kind (synthetic voices; `real` = real recorded speech where the corpus has
# it) and noise split (`test_seen`: held-out files of the training noise types; `test_unseen`: noise types
# never seen in training), for the clean condition and every test SNR.

# %%
print(f"{metrics['primary_metric']} ({'higher' if metrics['higher_is_better'] else 'lower'} is better)")
results.run_table(cfg.run_dir).round(3)

# %% [markdown]
# For paradigms with an AE: the enhancement quality of the AE output and of the unprocessed input
# (SI-SDR in dB, STOI, and PESQ when enabled), and the improvement (`_delta`).

# %%
cells = pd.DataFrame(metrics["cells"])
quality = [c for c in cells.columns if any(c.startswith(p) or c.startswith(f"input_{p}") for p in ("sisdr", "stoi", "pesq"))]
if quality:
    display(cells.loc[cells["noise_split"] != "clean", ["kind", "noise_split", "snr", "n", *quality]].round(3))
else:
    print(f"{cfg.paradigm}: no AE, so no enhancement quality")

# %% [markdown]
# ## Importance weights (iterative)
# The distribution of the per-sample weights *w_i* in each round's AE phase. Weights near 1 everywhere mean
# the task finds all samples about equally hard; a long tail (or many at the cap) means a few samples
# dominate the AE's training.

# %%
if (cfg.run_dir / "importance.json").exists():
    weights = results.importance_weights(cfg.run_dir)
    plots.plot_importance(weights)
    plt.show()
    display(results.importance_summary(weights).round(3))
else:
    print(f"{cfg.paradigm}: no importance weights (only the iterative paradigm has them)")

# %% [markdown]
# ## Headline metrics
# Rounded, so that the regression check (`pytest --nbval-lax`) compares only what matters. The full
# record is the run's `metrics.json` (read it back with `json.load`, or `aelib.results.collect` for a study).

# %%
# NBVAL_CHECK_OUTPUT
for name, value in sorted(metrics["headline"].items()):
    print(f"{name}: {round(value, 2) + 0.0:.2f}")  # + 0.0: no "-0.00"
