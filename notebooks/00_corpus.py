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
# # 00 · The corpus
#
# *Milling et al. 2024, "Audio Enhancement for Computer Audition: An Iterative Training Paradigm
# Using Sample Importance" (JCST 39(4); [arXiv 2408.06264](https://arxiv.org/abs/2408.06264)).*
#
# Every run of the study reads one corpus root: a manifest per task (`kws.csv`, `asr.csv`, `ser.csv`,
# `asc.csv`) and two noise banks (`noise.csv` for the speech tasks, `noise_asc.csv` for scene
# classification, where **speech is the interferer**). This notebook builds the offline embedded
# corpus when the root holds none, then shows what is in it: clips, durations and voices per split,
# which audio is synthetic and which is real, the SER trivial-cue check, the noise types per split,
# and a few clips per task to look at and listen to.
#
# Run it in JupyterLab, or headless:
# `papermill notebooks/00_corpus.ipynb runs/corpus/00_corpus.ipynb -p size small`.

# %% tags=["parameters"]
data_dir = ""  # corpus root with <task>.csv and noise.csv; empty: aelib.config.default_data_dir(size)
size = "small"  # embedded corpus size to build when data_dir holds no corpus: smoke | small
seed = 0  # build seed of the embedded corpus (same seed, same bytes)
build_if_missing = True  # build the embedded corpus when data_dir holds no manifests
clips_per_task = 2  # example test clips per task (spectrogram + player)
player_seconds = 3.0  # length of the noise-type players
out_dir = ""  # folder for the tables and figures of this notebook; empty: save nothing

# %%
import json
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Audio, Markdown, display

from aelib.audio import load_audio
from aelib.config import default_data_dir
from aelib.corpora.embedded import MANIFESTS, build_corpus, read_build_info
from aelib.corpora.manifest import NOISE_COLUMNS, TASK_COLUMNS, TASKS, read_manifest
from aelib.corpora.ser_proxy import trivial_cue_check
from aelib.demo import playable
from aelib.plots import save_figure, show, spectrogram_panels

SR = 16_000
pd.set_option("display.max_colwidth", 120)
root = Path(data_dir or default_data_dir(size)).expanduser().resolve()
out = Path(out_dir).expanduser().resolve() if out_dir else None
if out is not None:
    out.mkdir(parents=True, exist_ok=True)

if not all((root / f"{m}.csv").exists() for m in MANIFESTS):
    if not build_if_missing:
        raise FileNotFoundError(f"{root} holds no corpus manifests; set build_if_missing=True or point data_dir "
                                "at a corpus (python -m aelib.corpora build / adapt)")
    print(f"building the embedded corpus ({size}, seed {seed}) in {root} ...")
    build_corpus(root, size=size, seed=seed)
info = read_build_info(root)  # None for a corpus made by a real-corpus adapter
if info:
    print(f"embedded corpus: size={info['size']} seed={info['seed']} builder version={info['version']}")
else:
    print("no build_info.json: a corpus made by an adapter (real corpora)")
print("root:", root)

# %% [markdown]
# ## Clips per task and split
# `sources` counts voices for the speech tasks and source recordings for `asc`; splits are disjoint by
# source, so every test voice is unheard in training.

# %%
# NBVAL_CHECK_OUTPUT
tasks = pd.concat([pd.DataFrame(read_manifest(root / f"{t}.csv", TASK_COLUMNS)).assign(task=t) for t in TASKS],
                  ignore_index=True)
counts = (tasks.groupby(["task", "split"], sort=False)
          .agg(clips=("path", "size"), minutes=("duration", lambda d: round(d.sum() / 60, 2)),
               mean_s=("duration", lambda d: round(d.mean(), 2)), sources=("source", "nunique"),
               labels=("label", "nunique"), kinds=("kind", lambda k: ",".join(sorted(set(k)))))
          .reset_index())
display(counts)

# %% [markdown]
# ## Synthetic or real?
# * **synthetic**: speech made by the text-to-speech engines (espeak-ng, flite, festival). All training
#   and validation speech is synthetic, and so is every SER clip: the SER task is a synthetic
#   **acted-prosody proxy** (pitch, range, rate, effort), not real emotion.
# * **real**: recordings of people or places. The real-speech test rows of `kws` and `asr` are the
#   asterisk prompts (one professional speaker); the `asc` scenes are cut from recorded game-ambience
#   loops (ufoai), an *ambience-type proxy* for DCASE; the noise bank is recorded ambience (ufoai),
#   music on hold (asterisk moh) and real babble; the unseen speech interferers of `asc` are real
#   recorded speech (asterisk, hedgewars voice packs).

# %%
kinds = tasks.pivot_table(index=["task", "kind"], columns="split", values="path", aggfunc="size", fill_value=0)
display(kinds[[c for c in ("train", "val", "test") if c in kinds.columns]])
if info:
    print("TTS engines (synthetic):", ", ".join(info.get("engines", {})))
    print("real speakers:", "; ".join(info.get("real_speakers", [])))
    for note in info.get("notes", []):
        print("note:", note)

# %% [markdown]
# ## Voices and sources
# The base voices of each split (a voice with variants counts once); no voice is on two sides.

# %%
def _short(names, k=8):
    names = sorted(names)
    return ", ".join(names[:k]) + (f", ... (+{len(names) - k})" if len(names) > k else "")


sources = (tasks.groupby(["task", "split"], sort=False)["source"]
           .agg(n="nunique", examples=lambda s: _short(set(s))).reset_index())
display(sources)
for split, voices in (info or {}).get("voices", {}).items():
    print(f"synthetic base voices, {split}: {len(voices)}")

# %% [markdown]
# ## SER trivial-cue check
# The SER proxy must not be solvable without listening to prosody. A logistic regression on RMS,
# duration and active-speech duration (and their squares) is trained on the SER training clips; its
# test accuracy must stay within `margin` of chance.

# %%
# NBVAL_CHECK_OUTPUT
cue = (info or {}).get("ser_trivial_cue_check") or trivial_cue_check(root)
verdict = "OK: no trivial cue" if cue["ok"] else "TOO HIGH: a trivial cue gives the label away"
print(f"accuracy {cue['accuracy']:.3f} vs chance {cue['chance']:.3f} (limit +{cue['margin']:.2f}): {verdict}")
print(f"n_train={cue['n_train']} n_test={cue['n_test']} features={cue['features']}")
display(pd.DataFrame(cue["class_means"], index=cue["features"]).T.rename_axis("class (train means)"))

# %% [markdown]
# ## Noise banks
# `noise.csv` (speech tasks): the *seen* types have train, val and test_seen files from disjoint
# recordings (or disjoint time parts of one recording); `test_unseen` holds types never used in
# training. `noise_asc.csv` (asc): speech is the noise; synthetic voices of each split, and real recorded
# speech as the unseen interferer.

# %%
noise = pd.concat([pd.DataFrame(read_manifest(root / f"{n}.csv", NOISE_COLUMNS)).assign(bank=n)
                   for n in ("noise", "noise_asc")], ignore_index=True)
bank = noise.pivot_table(index=["bank", "type"], columns="split", values="duration",
                         aggfunc=lambda d: f"{len(d)} / {d.sum() / 60:.1f} min", fill_value="")
display(Markdown("files / minutes per type and split"))
display(bank[[c for c in ("train", "val", "test_seen", "test_unseen") if c in bank.columns]])
if info and info.get("time_split"):
    print("types split by time:", json.dumps(info["time_split"], indent=1))

# %% [markdown]
# ## Example clips
# Test clips of each task as log spectrograms on one colour scale per task, with players that keep the
# recorded loudness (`normalize=False`).

# %%
def _examples(rows: pd.DataFrame, k: int) -> pd.DataFrame:
    """Up to k test clips: one per kind first (synthetic, real), then one per label; filler classes
    (kws _silence_ / _unknown_) only when nothing else is there."""
    rows = rows[rows.split == "test"]
    if (~rows.label.str.startswith("_")).any():
        rows = rows[~rows.label.str.startswith("_")]
    picked = [rows[rows.kind == kind].index[0] for kind in sorted(rows.kind.unique(), key=lambda x: x != "synthetic")]
    for idx in rows.drop_duplicates("label").index:
        if len(picked) >= k:
            break
        if idx not in picked:
            picked.append(idx)
    return rows.loc[picked[:k]]


for task in TASKS:
    ex = _examples(tasks[tasks.task == task], clips_per_task)
    waves = [load_audio(p, SR, warn=False) for p in ex.path]
    titles = [f"{r.label[:36]} ({r.kind}, {r.source[:20]})" for r in ex.itertuples()]
    fig = spectrogram_panels(waves, SR, titles, ncols=len(waves), suptitle=f"{task}: test clips")
    show(fig)
    if out is not None:
        save_figure(fig, out / f"clips_{task}.png")
    for title, wave in zip(titles, playable(*waves)):
        display(Markdown(f"`{task}` {title}"), Audio(wave, rate=SR, normalize=False))

# %% [markdown]
# One file per noise type (test splits; first seconds), on one colour scale.

# %%
test_noise = noise[noise.split.isin(["test_seen", "test_unseen"])].drop_duplicates(["bank", "type"])
n = int(player_seconds * SR)
waves = [load_audio(p, SR, warn=False)[:n] for p in test_noise.path]
titles = [f"{r.type} ({r.bank}, {r.split})" for r in test_noise.itertuples()]
fig = spectrogram_panels(waves, SR, titles, ncols=4, suptitle="noise types (test files)")
show(fig)
if out is not None:
    save_figure(fig, out / "noise_types.png")
for title, wave in zip(titles, playable(*waves)):
    display(Markdown(title), Audio(wave, rate=SR, normalize=False))

# %% [markdown]
# ## Saved tables
# With `out_dir` set, the tables above are written there (CSV, JSON) next to the figures.

# %%
if out is not None:
    counts.to_csv(out / "corpus_counts.csv", index=False)
    kinds.to_csv(out / "corpus_kinds.csv")
    noise.groupby(["bank", "type", "split"]).agg(files=("path", "size"), seconds=("duration", "sum")).round(2) \
        .to_csv(out / "noise_bank.csv")
    (out / "ser_cue_check.json").write_text(json.dumps(cue, indent=1) + "\n")
    print("saved:", ", ".join(sorted(p.name for p in out.iterdir())))
else:
    print("out_dir is empty: nothing saved")
