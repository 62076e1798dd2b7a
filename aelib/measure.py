"""The measurements behind ``scripts/benchmark.py``, one function each: the machine, a timed call, its FLOPs,
a float32 matmul peak; trainer-shaped synthetic batches and one trainer step (:func:`aelib.paradigms.step_loss`)
for the AE and each CA; a model's training throughput and achieved GFLOP/s; the AE's real-time factor and
profile; and the peak memory of a short training in the calling process (:func:`memory_child`, which the
script runs in a fresh process per model).
"""
from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import Config, make_config
from .paradigms import Phase, step_loss
from .runs import build_ae
from .tasks import get_task

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
    from .corpora.manifest import read_manifest

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
        from .tasks.asr import is_word_vocab

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
            "rtf_max": t["max"] / seconds, "rtf_cpu": t["cpu_median"] / seconds, "target": RTF_TARGET,
            "meets_target": t["median"] / seconds <= RTF_TARGET,
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


def _status_mb(field: str) -> float | None:
    """``VmRSS`` (current) or ``VmHWM`` (high-water mark) of this process from /proc, in MB."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) / 1024 for ln in f if ln.startswith(field + ":"))
    except (OSError, StopIteration):
        return None


def memory_child(cfg: Config, what: str, batch_size: int, steps: int) -> dict[str, Any]:
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
