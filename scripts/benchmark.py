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
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from aelib.errors import guard  # noqa: E402
from aelib import results  # noqa: E402
from aelib.config import Config, make_config  # noqa: E402
from aelib.files import atomic_write_json  # noqa: E402
from aelib.layout import relative_to_repo  # noqa: E402
from aelib.paradigms import Phase, step_loss  # noqa: E402
from aelib.runs import build_ae  # noqa: E402
from aelib.study.report import portable_info  # noqa: E402
from aelib.tasks import get_task  # noqa: E402

RTF_TARGET = 0.01  # 10 s of audio in <= 0.1 s on one thread (unet.py's design target)
MEMORY_TARGET_MB = 4096.0  # any default run must fit in 4 GB
FALLBACK_CLASSES = {"kws": 22, "ser": 4, "asc": 7}  # the embedded small corpus, when no manifest is found
CA_TASKS = ("kws", "asr", "ser", "asc")
PHASES = {"ae": Phase("ae_pretrain", "ae", 1), "ca": Phase("ca_noisy", "ca", 1),
          "joint": Phase("joint", "joint", 1)}
WORDS = ("the", "a", "cat", "sat", "on", "mat", "it", "was", "seven", "o'clock", "and", "rain", "fell",
         "quietly", "over", "hills", "we", "don't", "know", "where", "she", "went")


# ---- small helpers ---------------------------------------------------------------------------
def machine_info(threads: int) -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "torch": torch.__version__, "threads": threads, "interop_threads": torch.get_num_interop_threads(),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_avg_start": [round(x, 2) for x in os.getloadavg()]}


def timed(fn: Callable[[], Any], repeats: int, warmup: int) -> dict[str, Any]:
    """Wall seconds per call of ``fn`` (median, min, max, every repeat) after ``warmup`` untimed calls, and the
    median process CPU seconds (``cpu_median``): on a busy machine wall time includes waiting for a core,
    CPU time does not (with one thread it is the work itself, less cache and memory-bandwidth interference)."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "all": [round(t, 5) for t in times], "cpu_median": statistics.median(cpu)}


def count_flops(fn: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n float32 matmul on ``threads`` threads (best of ``repeats``: a peak, not a typical)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        t = timed(lambda: torch.mm(a, b), repeats, warmup=2)
    finally:
        torch.set_num_threads(old)
    return 2 * n**3 / t["min"] / 1e9


# ---- models and synthetic batches ------------------------------------------------------------
def manifest_rows(cfg: Config, task_name: str) -> list[dict] | None:
    """The task's manifest rows when the corpus has a readable one, else None."""
    manifest = Path(cfg.data_dir) / f"{task_name}.csv"
    if not manifest.exists():
        return None
    from aelib.corpora.manifest import read_manifest

    try:
        return read_manifest(manifest)
    except Exception:  # noqa: BLE001 - a malformed manifest must not stop a benchmark
        return None


def task_labels(cfg: Config, task_name: str, rows: list[dict] | None = None) -> list[str]:
    """The training labels from the corpus manifest (``rows``, read when not given) when there is one, else
    the embedded corpus's count."""
    task = get_task(task_name)
    rows = manifest_rows(cfg, task_name) if rows is None else rows
    if rows is not None:
        try:
            return task.labels_from_manifest(rows, cfg)
        except Exception:  # noqa: BLE001 - a malformed manifest must not stop a benchmark
            pass
    if task_name == "asr":
        return task.labels_from_manifest([])  # the fixed character vocabulary
    return [f"class{i}" for i in range(FALLBACK_CLASSES[task_name])]


def bench_specs(cfg: Config, models: list[str] | None = None) -> list[dict[str, Any]]:
    """What to measure: the AE at each distinct task clip length, then each CA at its task's clip length."""
    clip = {t: get_task(t).clip_seconds for t in CA_TASKS}
    specs = [{"name": f"unet@{s:g}s", "kind": "ae", "task": next(t for t in CA_TASKS if clip[t] == s),
              "clip_seconds": s} for s in sorted(set(clip.values()))]
    specs += [{"name": t, "kind": "ca", "task": t, "clip_seconds": clip[t]} for t in CA_TASKS]
    if models:  # "unet" selects every AE row, "unet@4s" one of them, "kws" the kws CA model
        specs = [s for s in specs if s["name"] in models or s["name"].split("@")[0] in models]
    return specs


def build_ca(cfg: Config, task_name: str) -> torch.nn.Module:
    """The task's CA with its text resources: the manifest's training transcripts (asr's decoder; they take
    no part in a training step), else the labels themselves."""
    rows = manifest_rows(cfg, task_name)
    labels = task_labels(cfg, task_name, rows)
    texts = [r["label"] for r in rows or [] if r.get("split") == "train"]
    texts = texts or [u for u in labels if u.strip() and not u.startswith("<")] or ["a"]
    return get_task(task_name).build_model(cfg, labels, texts)


def build_model(spec: dict[str, Any], cfg: Config) -> torch.nn.Module:
    if spec["kind"] == "ae":
        return build_ae(cfg)
    return build_ca(cfg, spec["task"])


def make_batch(cfg: Config, task_name: str, clip_seconds: float, batch_size: int, seed: int = 0) -> dict[str, Any]:
    """A trainer-shaped batch of synthetic (noisy, clean) pairs at 5 dB SNR with synthetic targets.

    asr gets plausible transcripts: words at ~14 characters per second of audio, encoded by the task.
    """
    g = torch.Generator().manual_seed(seed)
    n = int(round(clip_seconds * cfg.sample_rate))
    clean = 0.1 * torch.randn(batch_size, n, generator=g)
    noisy = clean + 0.056 * torch.randn(batch_size, n, generator=g)
    task, labels = get_task(task_name), task_labels(cfg, task_name)
    if task_name == "asr":
        from aelib.tasks.asr import is_word_vocab

        chars = int(14 * clip_seconds)
        vocab = list(labels[1:]) if is_word_vocab(labels) else WORDS  # word units: the task's own words
        texts = []
        for _ in range(batch_size):
            words: list[str] = []
            while sum(len(w) + 1 for w in words) < chars:
                words.append(vocab[int(torch.randint(len(vocab), (1,), generator=g))])
            texts.append(" ".join(words))
        targets = [task.encode(t, labels) for t in texts]
    else:
        targets = [torch.tensor(int(i)) for i in torch.randint(len(labels), (batch_size,), generator=g)]
    return {"clean": clean, "noisy": noisy, "length": torch.full((batch_size,), n, dtype=torch.long),
            **task.collate_targets(targets)}


def train_step_fn(kind: str, cfg: Config, task_name: str, ae: torch.nn.Module | None, ca: torch.nn.Module | None,
                  batch: dict[str, Any]) -> Callable[[], float]:
    """One trainer step (step_loss, backward, grad clip, Adam) of phase ``kind`` (ae | ca | joint)."""
    phase, task = PHASES[kind], get_task(task_name)
    trained = [m for k, m in (("ae", ae), ("ca", ca)) if k in phase.trains]
    for m in trained:
        m.train()
    params = [p for m in trained for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step() -> float:
        loss, _ = step_loss(phase, batch, ae, ca, task, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        return float(loss.detach())

    return step


def forward_fn(spec: dict[str, Any], model: torch.nn.Module, batch: dict[str, Any]) -> Callable[[], Any]:
    """The eval-mode, no-grad forward that inference and evaluation run."""
    model.eval()
    task = get_task(spec["task"])

    def fwd() -> Any:
        with torch.inference_mode():
            return model(batch["noisy"]) if spec["kind"] == "ae" else task.forward(model, batch["noisy"],
                                                                                    batch["length"])

    return fwd


# ---- the measurements ------------------------------------------------------------------------
def bench_model(spec: dict[str, Any], cfg: Config, batch_size: int | None, repeats: int, warmup: int,
                peak_gflops: float) -> dict[str, Any]:
    """Training throughput and forward / training-step GFLOP/s of one model.

    The model and batch size are those of the spec's task on the preset (its per-task refinements, e.g.
    asr's width and batch on ``small``), unless ``batch_size`` is given.
    """
    torch.manual_seed(0)
    cfg = make_config(cfg.preset, task=spec["task"])
    batch_size = batch_size or cfg.batch_size
    model = build_model(spec, cfg)
    batch = make_batch(cfg, spec["task"], spec["clip_seconds"], batch_size)
    ae, ca = (model, None) if spec["kind"] == "ae" else (None, model)
    step = train_step_fn(spec["kind"], cfg, spec["task"], ae, ca, batch)
    step_flops = count_flops(step)  # also a first warm-up step
    t_step = timed(step, repeats, warmup)
    fwd = forward_fn(spec, model, batch)
    fwd_flops = count_flops(fwd)
    t_fwd = timed(fwd, repeats, warmup=1)
    return {
        **spec, "batch_size": batch_size, "params": sum(p.numel() for p in model.parameters()),
        "train_step_s": t_step, "train_clips_per_s": batch_size / t_step["median"],
        "train_clips_per_s_range": [batch_size / t_step["max"], batch_size / t_step["min"]],
        "train_clips_per_cpu_s": batch_size / t_step["cpu_median"],
        "forward_s": t_fwd, "forward_mflop_per_clip": fwd_flops / batch_size / 1e6,
        "forward_gflops": fwd_flops / t_fwd["median"] / 1e9,
        "forward_peak_fraction": fwd_flops / t_fwd["median"] / 1e9 / peak_gflops,
        "train_gflop_per_step": step_flops / 1e9, "train_gflops": step_flops / t_step["median"] / 1e9,
        "train_peak_fraction": step_flops / t_step["median"] / 1e9 / peak_gflops,
    }


def ae_rtf(cfg: Config, seconds: float = 10.0, repeats: int = 10, threads: int = 1) -> dict[str, Any]:
    """Real-time factor of the eval-mode AE on ``threads`` threads (same protocol as unet.real_time_factor),
    plus its FLOPs and the achieved fraction of the single-thread matmul peak."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = build_ae(cfg).eval()
        x = 0.1 * torch.randn(1, int(seconds * cfg.sample_rate), generator=torch.Generator().manual_seed(0))

        def run() -> None:
            with torch.inference_mode():
                model(x)

        t = timed(run, repeats, warmup=2)  # two warm-ups: oneDNN primitive creation
        flops = count_flops(run)
    finally:
        torch.set_num_threads(old)
    return {"threads": threads, "audio_seconds": seconds, "width": cfg.ae_width, "depth": cfg.ae_depth,
            "seconds": t, "rtf": t["median"] / seconds, "rtf_min": t["min"] / seconds,
            "rtf_max": t["max"] / seconds, "rtf_cpu": t["cpu_median"] / seconds, "target": RTF_TARGET, "meets_target": t["median"] / seconds <= RTF_TARGET,
            "gflop": flops / 1e9, "gflops": flops / t["median"] / 1e9}


def profile_ae(cfg: Config, seconds: float = 10.0, threads: int = 1, top: int = 15) -> dict[str, Any]:
    """Where the AE's single-thread inference time goes: torch.profiler, ops by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = build_ae(cfg).eval()
        x = 0.1 * torch.randn(1, int(seconds * cfg.sample_rate), generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            for _ in range(2):
                model(x)
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                for _ in range(3):
                    model(x)
    finally:
        torch.set_num_threads(old)
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    rows = [{"op": e.key, "shapes": str(e.input_shapes)[:120], "calls": e.count // 3,
             "self_ms_per_run": e.self_cpu_time_total / 3 / 1e3, "share": e.self_cpu_time_total / total}
            for e in events[:top]]
    return {"threads": threads, "audio_seconds": seconds, "top_ops": rows}


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


def _status_mb(field: str) -> float | None:
    """``VmRSS`` (current) or ``VmHWM`` (high-water mark) of this process from /proc, in MB."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) / 1024 for ln in f if ln.startswith(field + ":"))
    except (OSError, StopIteration):
        return None


def _memory_child(cfg: Config, what: str, batch_size: int, steps: int) -> dict[str, Any]:
    """Build, reset the RSS high-water mark (Linux clear_refs), train ``steps`` steps, report the peaks.

    ``peak_mb`` is the process's own peak RSS, imports included (VmHWM before the reset and after the
    steps). ``ru_maxrss_mb`` is getrusage's value, kept for reference: on Linux it also counts the parent's
    RSS at fork time (exec records the forked address space), so a child of a big process reads high.
    ``training_peak_mb`` is the high-water mark from just before the first step to the end.
    """
    torch.manual_seed(0)
    if what.startswith("joint:"):
        task = what.split(":", 1)[1]
        ae, ca = build_ae(cfg), build_ca(cfg, task)
        kind, clip = "joint", get_task(task).clip_seconds
    else:
        spec = next(s for s in bench_specs(cfg) if s["name"] == what)
        model, kind, task, clip = build_model(spec, cfg), spec["kind"], spec["task"], spec["clip_seconds"]
        ae, ca = (model, None) if kind == "ae" else (None, model)
    step = train_step_fn(kind, cfg, task, ae, ca, make_batch(cfg, task, clip, batch_size))
    before, import_peak = _status_mb("VmRSS"), _status_mb("VmHWM")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    for _ in range(steps):
        step()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    train_peak = _status_mb("VmHWM") if reset else None
    known = [v for v in (import_peak, train_peak) if v is not None]
    peak = max(known) if reset and known else maxrss
    return {"what": what, "batch_size": batch_size, "clip_seconds": clip, "steps": steps,
            "rss_before_training_mb": before, "training_peak_mb": train_peak, "peak_mb": peak,
            "ru_maxrss_mb": maxrss, "meets_target": peak < MEMORY_TARGET_MB}


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
        print(json.dumps(_memory_child(cfg, args.memory_child, args.batch_size or cfg.batch_size, args.steps)))
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
