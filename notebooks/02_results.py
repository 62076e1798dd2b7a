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
# # 02 · Study results
#
# Paper-style tables and figures over the runs of one study (`runs/<study>/`): the task metric per SNR and
# paradigm, seen vs unseen noise, synthetic vs real speech, the AE's enhancement quality, paired tests of
# the iterative paradigm against every other, the importance-weight distributions, and the cross-task
# matrix. Means and 95 % confidence intervals are over seeds (Student t; one seed gives no interval).
#
# Reproduces the evaluation of Milling et al., *Audio Enhancement for Computer Audition — An Iterative
# Training Paradigm Using Sample Importance*, JCST 39(4), 2024
# ([arXiv:2408.06264](https://arxiv.org/abs/2408.06264)).
#
# The study runner executes this notebook into `runs/<study>/results.ipynb` after the grid; on its own:
#
# ```
# papermill notebooks/02_results.ipynb runs/default/results.ipynb -p study_dir runs/default
# ```
#
# Tables go to `<study_dir>/results/` as CSV (numbers) and Markdown (formatted), figures as PNG. Works on
# a partial study (one seed, some tasks): what is missing is listed first.

# %% tags=["parameters"]
study_dir = "runs/default"  # the study folder; a relative path is taken from the cwd, else the repository root
cross_task = True  # evaluate the cross-task matrix (AE of task A in front of the CA of task B)
cross_task_paradigm = "iterative"  # whose AE and CA take part in the matrix
cross_task_seed = 0  # which seed's runs
cross_task_snrs = "0"  # comma-separated test SNRs in dB for the matrix
cross_task_max_clips = 40  # test clips per cell (0: all); the matrix re-evaluates every (A, B) pair
digits = 3  # decimals in the Markdown tables

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from aelib import plots, results
from aelib.crosstask import cross_task_matrix

study_dir = results.resolve_study_dir(study_dir)
out_dir = study_dir / "results"
out_dir.mkdir(parents=True, exist_ok=True)
df = results.collect(study_dir)
inv = results.inventory(study_dir)
print(f"study: {study_dir}")
print(f"finished runs: {(inv['status'] == 'finished').sum()} of {len(inv)} expected; {len(df)} evaluation cells")
tasks = [t for t in ("kws", "asr", "ser", "asc") if not df.empty and t in set(df["task"])]

# %% [markdown]
# ## What is there, and what is missing
# Expected runs (the grid of `study_info.json`, else the tasks and seeds found × all paradigms) that are not
# finished. `failed`: the executed notebook in the run folder holds the error; `unfinished`: re-run the
# study to resume; `missing`: never started.

# %%
missing = inv[inv["status"] != "finished"]
if missing.empty:
    print("every expected run is finished")
else:
    print(f"{len(missing)} run(s) not finished; the tables below use what exists:")
    display(missing.pivot_table(index=["task", "paradigm"], columns="seed", values="status", aggfunc="first")
            .fillna(""))

# %% [markdown]
# ## Task metric per SNR and paradigm
# The primary metric of each task (kws and asc: accuracy; asr: WER, lower is better; ser: UAR) on synthetic
# test voices, seen and unseen noise pooled; `avg` is the mean over the noisy SNRs. Entries are
# `mean ± 95 % CI` over seeds.

# %%
for task in tasks:
    t = results.table_by_snr(df, task, digits=digits)
    better = "higher" if t.attrs["higher_is_better"] else "lower"
    display(Markdown(f"**{task}** — {t.attrs['metric']} ({better} is better)"))
    display(t)
    plots.plot_metric_vs_snr(df, task, path=out_dir / f"{task}_vs_snr.png")
    plt.show()
if not tasks:
    print("no finished runs yet")

# %% [markdown]
# ## Seen vs unseen noise types
# Mean over the noisy SNRs for held-out files of the training noise types (`seen`) and for noise types
# never heard in training (`unseen`); `gap` = unseen − seen.

# %%
t = results.seen_vs_unseen(df) if tasks else pd.DataFrame()
display(Markdown(results.to_markdown(t, digits=digits)))

# %% [markdown]
# ## Synthetic vs real speech
# The embedded corpus tests kws and asr also on real recorded speakers (`real`), which the models never
# heard in training: clean and noisy-average scores side by side.

# %%
t = results.synthetic_vs_real(df) if tasks else pd.DataFrame()
if t.empty:
    print("no run has real-speech test rows")
else:
    display(Markdown(results.to_markdown(t, digits=digits)))

# %% [markdown]
# ## By test voice
# The headline pools every test voice of kws, asr and ser; this splits it by voice. `clean_audio`: the `clean`
# CA on clean audio; the paradigm columns: the mean over the noisy grid. A family of several voices is one
# row (`espeak*`: the unseen espeak voices); `slt` is the unseen CMU speaker, `asterisk-allison` the real one
# (kws's `_silence_` clips have no voice and are left out). A model strong on the unseen espeak voices can
# still fail on the one unseen CMU speaker: the pooled mean hides that.

# %%
t = results.by_source_table(results.collect_sources(study_dir)) if tasks else pd.DataFrame()
if t.empty:
    print("no run has per-source scores (runs made before they were recorded)")
else:
    display(Markdown(results.to_markdown(t, digits=digits, index=False)))

# %% [markdown]
# ## Enhancement quality of the AE
# SI-SDR (dB), STOI and wide-band PESQ (where computed) of the AE output and of the unprocessed input
# (`input_`), and the improvement (`_delta`), averaged over the noisy test conditions.

# %%
t = results.ae_quality_table(df) if tasks else pd.DataFrame()
if t.empty:
    print("no finished run with a front-end (cascade, joint, iterative, noisereduce)")
else:
    display(Markdown(results.to_markdown(t, digits=digits)))

# %% [markdown]
# ## Iterative vs every other paradigm (paired tests)
# `seed`: per-seed means of the primary metric paired by seed (few pairs, low power). `utterance`: the
# same test mixtures (clip, noise split, SNR, seed) scored by both pipelines: correctness per utterance (or
# WER for asr), paired t-test and Wilcoxon signed-rank test. `mean_diff` = iterative − other;
# `reference_better` takes the metric's direction into account.

# %%
utt = results.per_utterance(study_dir) if tasks else pd.DataFrame()
paired = results.paired_vs_iterative(df, utt) if tasks else pd.DataFrame()
if paired.empty:
    print("no task has both an iterative run and another paradigm's run")
else:
    display(paired.round(4))

# %% [markdown]
# ## Importance weights per round
# The per-sample weights of the iterative paradigm's AE phases (seeds pooled). The line at 1 is the uniform
# weight (cascade-style training); the dashed line is the cap `importance_w_max`. The table gives
# quantiles, the share of weights at the cap, and the effective-sample-size fraction (1 = uniform).

# %%
weights = results.importance_weights(study_dir)
if weights.empty:
    print("no iterative run has logged importance weights yet")
else:
    plots.plot_importance(weights, path=out_dir / "importance_weights.png")
    plt.show()
    display(results.importance_summary(weights).round(3))

# %% [markdown]
# ## Cross-task matrix
# Task B's test set through task A's AE, then task B's CA (both from the `iterative` runs of one seed):
# does an AE trained for one task help another? Row `none`: B's CA on the unprocessed mixtures. The
# diagonal is each task's own pipeline (up to the clip subset). Values: B's primary metric over the noisy
# cells at the chosen SNRs, with the change against row `none` below each. The colour is that change in
# the column's better direction (asr's WER: lower is better): blue = better than no front-end, red = worse.

# %%
cross = None
if cross_task:
    snrs = tuple(float(s) for s in str(cross_task_snrs).split(",") if s.strip())
    cross = cross_task_matrix(study_dir, snrs=snrs, max_clips=int(cross_task_max_clips),
                              paradigm=cross_task_paradigm, seed=int(cross_task_seed))
    if cross.empty:
        print(f"no finished {cross_task_paradigm} run of seed {cross_task_seed}: no matrix")
        cross = None
    else:
        plots.plot_cross_task(cross, path=out_dir / "cross_task.png")
        plt.show()
        display(cross.round(3))

# %% [markdown]
# ## Written files

# %%
written = results.write_tables(study_dir, out_dir, df=df, utt=utt if tasks else None, cross_task=cross)
for p in sorted(out_dir.iterdir()):
    print(p.relative_to(study_dir))
