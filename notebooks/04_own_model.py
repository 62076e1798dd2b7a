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
# # 04 · Your own model: a front-end fitted to a downstream model you bring
#
# `aelib.own` (guide: `docs/own_model.md`). Bring a `Downstream(model, loss)` (trainable, or
# `trainable=False`) or a `BlackBox(fn)` through a factory `module:function` that takes the training
# clips and returns it; bring clips (a folder with one sub-folder per class, a manifest CSV with `path`
# and `target`, or `corpus:<task>` for the embedded corpus) and noise (a folder, or `corpus`). The
# notebook fits each paradigm that makes sense for the model, per seed, and evaluates them with the model
# alone (`none`) over an SNR grid on held-out clips and noise files. The default: pocketsphinx (its
# bundled en-us acoustic model, a frozen black box) on the embedded corpus's asr clips, unseen noise types.

# %% tags=["parameters"]
downstream = "aelib.own.pocketsphinx:from_clips"  # module:factory; factory(train ClipSet) -> Downstream | BlackBox
clips = "corpus:asr"  # a folder (targets = sub-folder names), a manifest .csv, or corpus:<task>
noise = "corpus"  # a folder of noise files, or corpus (test: the unseen noise types)
data_dir = ""  # the corpus root for corpus:... ("" = the small embedded corpus)
paradigms = ""  # comma-separated; "" = every paradigm the model's kind allows
seeds = "0"  # comma-separated
snrs = "0,5,10,20"  # test SNRs (dB), comma-separated
train_clips = 200  # 0 = all (corpus only: a spread-out subset keeps the fit short)
test_clips = 40
ae_epochs = 4
rounds = 2
observation_weights = "0"  # candidates of observation adding, chosen on validation ("0": off)
out_dir = ""  # where rows.csv and summary.md go; "" = runs/own/<factory name>

# %%
import importlib
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from aelib.config import default_data_dir
from aelib.layout import REPO, relative_to_repo
from aelib.results import to_markdown
from aelib.own import PARADIGMS, ClipSet, NoiseSet, arms, evaluate, fit_frontend, paired, summary

torch.set_num_threads(1)
floats = lambda text: tuple(float(x) for x in str(text).split(",") if x.strip())  # noqa: E731
root = data_dir or default_data_dir("small")
if clips.startswith("corpus:"):
    task = clips.split(":", 1)[1]
    train = ClipSet.from_corpus(root, task, "train", limit=train_clips)
    val = ClipSet.from_corpus(root, task, "val", limit=max(10, test_clips // 2))
    test = ClipSet.from_corpus(root, task, "test", limit=test_clips)
else:
    path = Path(clips).expanduser()
    path = path if path.is_absolute() else REPO / path
    train, val, test = (ClipSet.from_manifest(path) if path.suffix == ".csv" else ClipSet.from_folder(path)).split()
if noise == "corpus":
    n_train, n_val, n_test = (NoiseSet.from_corpus(root, s) for s in ("train", "val", "test_unseen"))
else:
    path = Path(noise).expanduser()
    n_train, n_val, n_test = NoiseSet.from_folder(path if path.is_absolute() else REPO / path).split()
module, _, name = downstream.partition(":")
model = getattr(importlib.import_module(module), name)(train)
chosen = [p.strip() for p in paradigms.split(",") if p.strip()] or list(PARADIGMS[model.kind])
print(f"{model.kind} downstream model from {downstream}; paradigms {chosen}")
print(f"clips: train {len(train)}, val {len(val)}, test {len(test)}; noise files: train {len(n_train.waves)}, "
      f"val {len(n_val.waves)}, test {len(n_test.waves)}")

# %%
all_rows = []
for seed in [int(s) for s in seeds.split(",") if s.strip()]:
    fits = {p: fit_frontend(model, train, val, n_train, n_val, paradigm=p, ae_epochs=ae_epochs, rounds=rounds,
                            seed=seed, observation_weights=floats(observation_weights), progress=False)
            for p in chosen}
    all_rows.append(evaluate(arms(model, fits), test, n_test, snrs=floats(snrs), seed=0).assign(seed=seed))
rows = pd.concat(all_rows, ignore_index=True)
table = summary(rows)
display(Markdown("Mean per-utterance error (lower is better) per arm and SNR, over seeds:"))
table

# %%
tests = pd.DataFrame([{"arm": a, "vs": "none", **paired(rows.assign(clip=rows["seed"].astype(str) + ":"
                                                                    + rows["clip"].astype(str)), a, "none")}
                      for a in table.index if a != "none"])
tests

# %%
noisy = rows[~rows["snr"].isna()].groupby(["arm", "snr"])["error"].mean().unstack(0)
ax = noisy.plot(marker="o", figsize=(6, 3.5))
ax.set(xlabel="SNR (dB)", ylabel="mean error", title=f"{downstream}: error vs SNR")
plt.show()
out = Path(out_dir) if out_dir else REPO / "runs" / "own" / name
out.mkdir(parents=True, exist_ok=True)
rows.to_csv(out / "rows.csv", index=False)
(out / "summary.md").write_text(to_markdown(table, digits=4) + "\n")
print(f"rows and summary in {relative_to_repo(out)}")
