"""The first look's comparison with the committed study: identical runs, runs within the seed noise, runs
made with other settings, and missing runs each say so."""
import json

from aelib.config import make_config
from aelib.layout import run_dir
from aelib.study import first_look as F


def _write(study, task, paradigm, seed, value, **cfg_changes):
    d = run_dir(study, task, paradigm, seed)
    d.mkdir(parents=True)
    pm = "wer" if task == "asr" else "accuracy"
    head = {f"{s}_{pm}": value + i / 100 for i, s in enumerate(F.SPLITS)}
    (d / "metrics.json").write_text(json.dumps({"task": task, "paradigm": paradigm, "seed": seed, "primary_metric": pm,
                                                "headline": head, "cells": [value], "train_seconds": 1.0 + seed}))
    cfg = make_config("small", task=task, paradigm=paradigm, seed=seed, study=study.name, **cfg_changes).to_dict()
    (d / "params.json").write_text(json.dumps({"config": cfg, "versions": {}}))


def test_the_comparison_names_identical_noisy_and_incomparable_runs(tmp_path):
    ref, here = tmp_path / "default", tmp_path / "first-look"
    for t in F.TASKS:
        for p in F.PARADIGMS:
            for s, v in enumerate((0.50, 0.52, 0.54)):  # seed sd 0.02
                _write(ref, t, p, s, v)
    _write(here, "asr", "clean", 0, 0.50)  # every number equal (train_seconds aside)
    _write(here, "asr", "cascade", 0, 0.53)  # 0.03 off: 1.5 seed sd
    _write(here, "asr", "iterative", 0, 0.50, lr=0.5)  # not the reference's settings
    rows, notes = F.compare(here, ref)
    verdict = {(r["run"], r["metric"]): r["verdict"] for r in rows}
    assert verdict[("asr/clean", "clean_wer")] == "identical"
    assert verdict[("asr/cascade", "test_seen_wer")] == "1.5 sd"
    assert verdict[("asr/iterative", "clean_wer")] == "settings differ: lr"
    assert len(notes) == 3 and all("no finished run here" in n for n in notes)  # asc
    text = F.report(here, ref)
    assert "| asr/cascade | clean_wer | 0.530 | 0.500 | +0.030 | 0.020 | 1.5 sd |" in text
    assert "bit-identical only on the same CPU model" in text and "make demo" in text


def test_a_reference_without_a_study_is_one_error_line(tmp_path, capsys):
    assert F.main(["--reference", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: no study at")
