"""Smoke test of scripts/benchmark.py and aelib.measure: every measurement at tiny sizes, the report's structure
(no timing asserts)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aelib import measure
from aelib.config import make_config

from .scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmark")


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _fake_study(root: Path) -> Path:
    study = root / "study"
    run = study / "kws" / "noisy" / "seed0"
    run.mkdir(parents=True)
    (study / "study_info.json").write_text(json.dumps({"wall_seconds": 12.5}))
    (run / "metrics.json").write_text(json.dumps({"train_seconds": 3.0}))
    (run / "history.json").write_text(json.dumps([{"epoch": 1, "seconds": 1.0}, {"epoch": 2, "seconds": 2.0},
                                                  {"epoch": 1, "seconds": 5.0, "reused": "x.th"}]))
    return study


def test_specs_cover_every_model():
    cfg = make_config("smoke")
    names = [s["name"] for s in measure.bench_specs(cfg)]
    assert {"kws", "asr", "ser", "asc"} <= set(names) and any(n.startswith("unet@") for n in names)
    assert [s["name"] for s in measure.bench_specs(cfg, ["unet"])] == [n for n in names if n.startswith("unet@")]


@pytest.mark.parametrize("task", ["kws", "asr", "ser", "asc"])
def test_train_step_runs_with_the_task_loss(task):
    cfg = make_config("smoke")
    spec = next(s for s in measure.bench_specs(cfg, [task]))
    model = measure.build_model(spec, cfg)
    batch = measure.make_batch(cfg, task, 0.5, batch_size=2)
    loss = measure.train_step_fn("ca", cfg, task, None, model, batch)()
    assert torch.isfinite(torch.tensor(loss))
    if task == "asr":  # plausible CTC targets: non-blank characters, several per second
        assert batch["target_length"].min() >= 5 and int(batch["target"].max()) < len(measure.task_labels(cfg, "asr"))


def test_run_benchmark_report_structure(bench, tmp_path):
    cfg = make_config("smoke")
    report = bench.run_benchmark(cfg, threads=1, repeats=1, warmup=0, batch_size=2, models=["unet@1s", "kws"],
                                 rtf_seconds=0.25, rtf_repeats=1, memory=False, matmul_n=64, profile=True,
                                 study_dir=str(_fake_study(tmp_path)))
    assert {"cpu", "cores", "usable_cores", "torch", "threads", "load_avg_start", "load_avg_end"} <= set(report["machine"])
    assert report["matmul_peak"]["gflops"] > 0
    assert [r["name"] for r in report["models"]] == ["unet@1s", "kws"]
    for r in report["models"]:
        for key in ("train_clips_per_s", "forward_gflops", "forward_peak_fraction", "forward_mflop_per_clip",
                    "train_gflops", "train_peak_fraction", "params"):
            assert r[key] > 0, key
    rtf = report["ae_rtf"]
    assert rtf["threads"] == 1 and rtf["rtf"] > 0 and isinstance(rtf["meets_target"], bool)
    assert report["ae_profile"]["top_ops"] and {"op", "self_ms_per_run", "share"} <= set(report["ae_profile"]["top_ops"][0])
    study = report["study"]
    assert study["wall_seconds"] == 12.5 and study["train_seconds_total"] == 3.0
    assert study["runs"] == [{"run": "kws/noisy/seed0", "train_seconds": 3.0, "epochs": 2, "reused_epochs": 1,
                              "epoch_seconds_sum": 3.0, "epoch_seconds_mean": 1.5}]

    # peak memory: one fresh process through the CLI, the joint (AE + CA) step in-process
    report["memory"] = [bench.peak_memory(cfg, "kws", batch_size=2, steps=1, threads=1),
                        measure.memory_child(cfg, "joint:kws", batch_size=2, steps=1)]
    for r in report["memory"]:
        assert "error" not in r, r
        assert r["peak_mb"] > 0 and r["rss_before_training_mb"] > 0 and isinstance(r["meets_target"], bool)

    md = bench.markdown(report)
    assert "| unet@1s |" in md and "| kws |" in md and "real-time factor" in md and "joint:kws" in md
    json.dumps(report)  # JSON-serialisable as written


def test_main_writes_json(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--preset", "smoke", "--batch-size", "2", "--repeats", "1", "--quick", "--models", "kws",
                "--no-memory", "--threads", "1", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == 1 and [r["name"] for r in report["models"]] == ["kws"]
    assert "| kws |" in capsys.readouterr().out
