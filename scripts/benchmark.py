"""Speed and memory benchmark of the AE and the four CA models (a script, not a timed test).

For each model at its default size (``make_config(preset)``), on synthetic audio of its task's clip length:

* training throughput: clips/s of one forward + backward + grad-clip + Adam step at the default batch size,
  through :func:`aelib.paradigms.step_loss` (the trainer's own loss path: wSDR for the AE, the task loss with
  synthetic targets for a CA, plausible character transcripts for asr's CTC); warm-up, then the median.
  Data loading and on-the-fly mixing are not included;
* the AE's real-time factor on ONE thread for 10 s of audio (eval mode, median; target <= 0.01);
* achieved GFLOP/s of the forward (and of the training step), FLOPs counted by ``FlopCounterMode``, as a
  fraction of a float32 matmul peak measured in the same run on the same number of threads;
* peak memory (``ru_maxrss``) of a short training of each model, and of the joint paradigm's AE + CA step,
  each in a fresh process so that one model's high-water mark does not hide the next one's (target < 4 GB);
* optionally (``--study-dir runs/<study>``) the study's wall time and each run's training time.

Usage::

    python scripts/benchmark.py [--threads N] [--repeats R] [--quick] [--out runs/benchmark.json]
                                [--study-dir runs/default] [--profile]

A Markdown report goes to stdout, the full numbers (with every repeat) to ``--out``. Timings on a shared
machine are noisy: the report gives the min-max spread and the load average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aelib.errors import guard  # noqa: E402
from aelib import results  # noqa: E402
from aelib.config import Config, make_config  # noqa: E402
from aelib.files import atomic_write_json  # noqa: E402
from aelib.layout import relative_to_repo  # noqa: E402
from aelib.measure import (ae_rtf, bench_model, bench_specs, machine_info, matmul_peak, memory_child,  # noqa: E402
                           profile_ae)
from aelib.study.report import portable_info  # noqa: E402


# ---- one process per memory measurement ------------------------------------------------------
def peak_memory(cfg: Config, what: str, batch_size: int, steps: int, threads: int) -> dict[str, Any]:
    """Peak RSS of ``steps`` training steps of ``what`` ("unet@4s", "kws", "joint:asr", ...) in a fresh process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", what, "--batch-size", str(batch_size),
           "--steps", str(steps), "--threads", str(threads),
           "--config-json", json.dumps({"preset": cfg.preset, "ae_width": cfg.ae_width, "ae_depth": cfg.ae_depth,
                                        "ca_width": cfg.ca_width, "n_mels": cfg.n_mels, "data_dir": cfg.data_dir})]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"what": what, "error": out.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- a finished study ------------------------------------------------------------------------
def study_times(study_dir: str | Path) -> dict[str, Any]:
    """Study wall time (study_info.json) and per-run training time (:func:`aelib.results.run_times`); paths as a
    committed file records them (:func:`aelib.study.report.portable_info`)."""
    root = Path(study_dir)
    info = results.study_info(root)
    runs = []
    for r in results.run_times(root).to_dict("records"):
        own = r["epochs"] > 0
        runs.append({"run": r["run"], "train_seconds": _json_value(r["train_seconds"]), "epochs": r["epochs"],
                     "reused_epochs": r["reused_epochs"], "epoch_seconds_sum": round(r["epoch_seconds_sum"], 2) if own else 0,
                     "epoch_seconds_mean": round(r["epoch_seconds_mean"], 2) if own else None})
    total = sum(r["train_seconds"] or 0.0 for r in runs)
    return {"study_dir": relative_to_repo(root), "study_info": portable_info(info),
            "wall_seconds": results.study_wall_seconds(info), "runs": runs,
            "train_seconds_total": round(total, 2)}


def _json_value(v: Any) -> Any:
    """A frame's missing value (NaN) as JSON's null."""
    return None if isinstance(v, float) and v != v else v


# ---- the report ------------------------------------------------------------------------------
def run_benchmark(cfg: Config, *, threads: int, repeats: int, warmup: int, batch_size: int | None,
                  models: list[str] | None = None, rtf_seconds: float = 10.0, rtf_repeats: int = 10,
                  memory_steps: int = 3, memory: bool = True, joint_memory: bool = True,
                  matmul_n: int = 2048, profile: bool = False, study_dir: str | None = None) -> dict[str, Any]:
    torch.set_num_threads(threads)
    report: dict[str, Any] = {"machine": machine_info(threads), "preset": cfg.preset,
                              "config": {k: getattr(cfg, k) for k in ("ae_width", "ae_depth", "n_fft", "hop",
                                                                       "ca_width", "n_mels", "batch_size")}}
    peak = {"threads": threads, "gflops": matmul_peak(threads, matmul_n)}
    peak["gflops_1_thread"] = peak["gflops"] if threads == 1 else matmul_peak(1, matmul_n)
    report["matmul_peak"] = {**peak, "n": matmul_n}
    specs = bench_specs(cfg, models)
    report["models"] = [bench_model(s, cfg, batch_size, repeats, warmup, peak["gflops"]) for s in specs]
    rtf = ae_rtf(cfg, rtf_seconds, rtf_repeats, threads=1)
    rtf["peak_fraction"] = rtf["gflops"] / peak["gflops_1_thread"]
    report["ae_rtf"] = rtf
    if profile or not rtf["meets_target"]:
        report["ae_profile"] = profile_ae(cfg, rtf_seconds)
    if memory:
        whats = [s["name"] for s in specs]
        if joint_memory:
            whats += [f"joint:{s['task']}" for s in specs if s["kind"] == "ca"]
        report["memory"] = [peak_memory(cfg, w, batch_size or cfg.batch_size, memory_steps, threads) for w in whats]
    if study_dir:
        report["study"] = study_times(study_dir)
    report["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def markdown(report: dict[str, Any]) -> str:
    m, pk = report["machine"], report["matmul_peak"]
    lines = [f"## aelib benchmark ({report['preset']} preset)", "",
             f"{m['cpu']}; {m['usable_cores']} usable cores; torch {m['torch']}; {m['threads']} threads; "
             f"load average {m['load_avg_start'][0]} -> {m['load_avg_end'][0]}. "
             f"Matmul peak (fp32, n={pk['n']}): {pk['gflops']:.1f} GFLOP/s on {pk['threads']} threads, "
             f"{pk['gflops_1_thread']:.1f} on 1.", ""]
    if max(m["load_avg_start"][0], m["load_avg_end"][0]) > m["usable_cores"]:
        lines += [f"**Busy machine** (load average above {m['usable_cores']} cores): timings are noisy and "
                  "multi-threaded ones suffer most (OpenMP threads wait on descheduled peers); read the "
                  "min-max spread, and prefer --threads 1 for comparisons.", ""]
    lines += ["| model | clip s | batch | params | train clips/s (min-max) | fwd MFLOP/clip | fwd GFLOP/s "
              "(% peak) | train GFLOP/s (% peak) | clips per CPU-s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["models"]:
        lo, hi = r["train_clips_per_s_range"]
        lines.append(f"| {r['name']} | {r['clip_seconds']:g} | {r['batch_size']} | {r['params']:,} | "
                     f"{r['train_clips_per_s']:.1f} ({lo:.1f}-{hi:.1f}) | {r['forward_mflop_per_clip']:.1f} | "
                     f"{r['forward_gflops']:.1f} ({100 * r['forward_peak_fraction']:.0f}%) | "
                     f"{r['train_gflops']:.1f} ({100 * r['train_peak_fraction']:.0f}%) | "
                     f"{r['train_clips_per_cpu_s']:.1f} |")
    a = report["ae_rtf"]
    lines += ["", f"AE real-time factor, 1 thread, {a['audio_seconds']:g} s of audio (width {a['width']}, depth "
              f"{a['depth']}): **{a['rtf']:.4f}** (min {a['rtf_min']:.4f}, max {a['rtf_max']:.4f}; target <= "
              f"{a['target']}: {'met' if a['meets_target'] else 'MISSED'}); by CPU time {a['rtf_cpu']:.4f}; "
              f"{a['gflop']:.2f} GFLOP, "
              f"{a['gflops']:.1f} GFLOP/s = {100 * a['peak_fraction']:.0f}% of the 1-thread matmul peak."]
    if "ae_profile" in report:
        lines += ["", "| AE op (1 thread, by input shapes) | shapes | calls/run | self ms/run | share |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {o['op']} | {o['shapes'][:60]} | {o['calls']} | {o['self_ms_per_run']:.1f} | "
                  f"{100 * o['share']:.0f}% |" for o in report["ae_profile"]["top_ops"]]
    if report.get("memory"):
        lines += ["", "| training (fresh process) | batch | clip s | peak RSS MB | RSS before "
                  "training MB | peak during training MB | < 4 GB |", "|---|---:|---:|---:|---:|---:|---|"]
        mb = lambda v: "n/a" if v is None else f"{v:.0f}"  # noqa: E731
        for r in report["memory"]:
            if "error" in r:
                lines.append(f"| {r['what']} | | | error: {r['error']} | | | |")
            else:
                lines.append(f"| {r['what']} | {r['batch_size']} | {r['clip_seconds']:g} | {r['peak_mb']:.0f} | "
                             f"{mb(r['rss_before_training_mb'])} | {mb(r['training_peak_mb'])} | "
                             f"{'yes' if r['meets_target'] else 'NO'} |")
    if "study" in report:
        s = report["study"]
        wall = "unknown (no study_info.json wall time)" if s["wall_seconds"] is None else f"{s['wall_seconds']:.0f} s"
        lines += ["", f"Study {s['study_dir']}: wall time {wall}; training time summed over runs "
                  f"{s['train_seconds_total']:.0f} s.", "",
                  "| run | train s | own epochs | reused epochs | mean s/epoch |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {r['run']} | {r['train_seconds']} | {r['epochs']} | {r['reused_epochs']} | "
                  f"{r['epoch_seconds_mean']} |" for r in s["runs"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="threads for training and "
                   "forward timings (the RTF always uses 1); default: torch's default (%(default)s here)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (default 5; quick 3)")
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter memory runs, smaller matmul")
    p.add_argument("--preset", default="small", help="config preset whose default sizes are measured")
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's batch size")
    p.add_argument("--models", nargs="*", default=None, help="subset, e.g. unet kws (default: all)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--profile", action="store_true", help="profile the AE even when its RTF meets the target")
    p.add_argument("--study-dir", default=None, help="runs/<study>: also report study and per-run times")
    p.add_argument("--out", default="runs/benchmark.json", help="JSON report path (default %(default)s)")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    p.add_argument("--config-json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.memory_child:
        overrides = json.loads(args.config_json or "{}")
        cfg = make_config(overrides.pop("preset", args.preset), **overrides)
        print(json.dumps(memory_child(cfg, args.memory_child, args.batch_size or cfg.batch_size, args.steps)))
        return None
    cfg = make_config(args.preset)
    repeats = args.repeats or (3 if args.quick else 5)
    report = run_benchmark(
        cfg, threads=args.threads, repeats=repeats, warmup=1 if args.quick else 2,
        batch_size=args.batch_size, models=args.models, rtf_repeats=5 if args.quick else 10,
        memory_steps=2 if args.quick else 3, memory=not args.no_memory, joint_memory=True,
        matmul_n=1536 if args.quick else 2048, profile=args.profile, study_dir=args.study_dir)
    report["args"] = vars(args)
    print(markdown(report))
    atomic_write_json(args.out, report)
    print(f"\nJSON: {args.out}")
    return report


if __name__ == "__main__":
    sys.exit(guard(main)())
