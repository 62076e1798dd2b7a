"""Measure the levers of the pre-trained AE (issue 23): train the U-Net alone for one setting, report its cost and
its SI-SDR improvement at 0 dB.

This script owns only the measurement harness of ``docs/levers.md``: it trains the ``ae_pretrain`` phase of
paradigm ``cascade`` with the library's own trainer (:meth:`aelib.train.Trainer.run_phase`, the same loop,
seeds, loss and best-epoch choice as a study) and then scores the AE at 0 dB input on

- ``val``: each speech task's validation clips mixed with the *val* noise files (the basis for any choice);
- ``test_seen`` / ``test_unseen``: each task's synthetic test clips with those noise splits (outcome measures
  only, never to choose). The test mixtures are exactly those of a study run of seed 0 (``DataBundle.test_set``).

Every setting is scored on the same mixtures: the evaluation bundles are built from the whole corpus with fixed
seeds, independently of the training settings.

Levers prototyped here only (nothing in ``aelib/`` changes):

- ``--pool``: one speech AE trained on the pooled training clips of kws + asr + ser (random ``--segment`` s crops
  per clip and epoch, so longer clips contribute all their audio over the epochs);
- ``--augment``: synthetic noise files added to the *training* noise bank (never built from val or test audio):
  ``babble`` (3-6 training voices summed), ``colored`` (white / pink / brown), ``tonal`` (harmonic notes and chords
  with percussive bursts), ``crackle`` (clicks, gated hiss bursts); see :func:`synth_noise`;
- ``--extra-noise DIR [--extra-kinds K ...]``: recorded noise files of other kinds (every ``.wav``/``.ogg`` under
  DIR whose name, less its suffix, is one of the kinds; identical files once) added to the *training* noise bank,
  typed by that name (see :func:`add_recorded`); docs/levers.md uses megaglest's tileset ambience;
- ``--val-other DIR [--val-other-kinds K ...]``: such files as a validation cell of other kinds instead
  (``val_other``: the validation clips at 0 dB with them), to choose on kinds the AE never heard
  (:func:`add_val_other`).

Usage: ``.venv/bin/python scripts/ae_levers.py --task kws --epochs 3 --max-train-clips 1200 --out row.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their thread pools
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aelib.audio import fit_length, load_audio  # noqa: E402
from aelib.config import make_config, parse_sets  # noqa: E402
from aelib.data import MixtureDataset, NoiseBank, _rng, clip_seconds, load_data, speed_perturb, subset  # noqa: E402
from aelib.device import seed_everything  # noqa: E402
from aelib.metrics import si_sdr  # noqa: E402
from aelib.runs import build_ae  # noqa: E402
from aelib.tasks import get_task  # noqa: E402
from aelib.train import Trainer  # noqa: E402

SPEECH = ("kws", "asr", "ser")
SR = 16_000
FAMILIES = ("babble", "colored", "tonal", "crackle")


# ---- pooled speech training clips ------------------------------------------------------------------
class CropMixtureDataset(MixtureDataset):
    """A MixtureDataset whose clips are cropped to ``n_samples`` at an offset drawn per (epoch, clip)."""

    def clean(self, i: int) -> np.ndarray:
        wave = self.cache(self.rows[i]["path"])
        if self.speed_perturb > 0:  # the library's draw (same key), then the crop
            factor = float(_rng(self.seed, self.split_key, self.epoch, i, 7).choice(
                [1 - self.speed_perturb, 1.0, 1 + self.speed_perturb]))
            wave = speed_perturb(wave, factor)
        n = self.n_samples
        if len(wave) > n:
            off = int(_rng(self.seed, self.split_key, self.epoch, i, 11).integers(len(wave) - n + 1))
            return np.asarray(wave[off:off + n])
        return fit_length(wave, n)


def pool_speech(data, cfg, segment: float, max_clips: int) -> None:
    """Replace ``data``'s training rows by the pooled train rows of kws + asr + ser (labels unused by the AE)."""
    rows = []
    for t in SPEECH:
        c = make_config("small", task=t, seed=cfg.seed, max_train_clips=0, data_dir=cfg.data_dir)
        rows += [{**r, "label": data.labels[0]} for r in load_data(c, get_task(t)).rows["train"]]
    data.rows["train"] = subset(rows, max_clips, cfg.seed)
    plain = data.train_set

    def train_set(clean_only: bool = False) -> MixtureDataset:
        ds = plain(clean_only)
        out = CropMixtureDataset(ds.rows, ds.task, ds.labels, ds.cache, ds.noise, snr_range=ds.snr_range,
                                 seed=ds.seed, rir_prob=ds.rir_prob, split_key=ds.split_key, clip_seconds=segment,
                                 speed_perturb=ds.speed_perturb)
        return out

    data.train_set = train_set


# ---- synthetic training noise ----------------------------------------------------------------------
def _norm(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    x = x - x.mean()
    return (0.1 * x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def _colored(rng, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with a 1/f**exponent power spectrum (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    return np.fft.irfft(spec * f ** (-exponent / 2), n)


def synth_noise(family: str, k: int, seconds: float, voices: list[list[np.ndarray]], seed: int) -> np.ndarray:
    """The ``k``-th synthetic noise file of ``family``, ``seconds`` long, from a generator seeded by (seed, family, k).

    - babble: 3-6 streams, each a distinct training voice's clips (DC removed, equal RMS) concatenated in random
      order to the file's length; streams summed with gains uniform in +-3 dB.
    - colored: 1/f^a Gaussian noise, a = 0, 1, 2 (white, pink, brown) in turn, with a slow sinusoidal level
      modulation (0.1-2 Hz, depth 0-0.5).
    - tonal: notes at onsets every 0.12-0.6 s, each a chord of 1-3 notes with f0 = 110 * 2**(m/12), m in [0, 36),
      8 harmonics of amplitude h**-r (r in 0.7-2 per file), 10 ms attack, exponential decay (tau 0.1-0.8 s);
      every other file adds percussive white-noise bursts (30 ms decay) at 90-150 beats per minute.
    - crackle: Poisson clicks (20-400 /s, Laplace amplitudes, 1-3 ms decaying) plus white hiss gated on and off
      in bursts of 20-300 ms (duty 0.3-0.8), mixed at a random ratio.
    """
    rng = np.random.default_rng([seed, FAMILIES.index(family), k, 4242])
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if family == "babble":
        out = np.zeros(n)
        picks = rng.choice(len(voices), size=min(int(rng.integers(3, 7)), len(voices)), replace=False)
        for v in picks:
            clips, stream = voices[v], []
            while sum(map(len, stream)) < n:
                c = np.asarray(clips[int(rng.integers(len(clips)))], np.float64)
                c = c - c.mean()
                stream.append(c / (np.sqrt(np.mean(c**2)) + 1e-9))
            out += 10 ** (rng.uniform(-3, 3) / 20) * np.concatenate(stream)[:n]
        return _norm(out)
    if family == "colored":
        x = _colored(rng, n, float(k % 3))
        mod = 1 + rng.uniform(0, 0.5) * np.sin(2 * np.pi * rng.uniform(0.1, 2) * t + rng.uniform(0, 6.3))
        return _norm(x * mod)
    if family == "tonal":
        out = np.zeros(n)
        r, pos = rng.uniform(0.7, 2.0), 0.0
        while pos < seconds:
            start = int(pos * SR)
            tau = rng.uniform(0.1, 0.8)
            m = min(n - start, int(5 * tau * SR))
            tt = np.arange(m) / SR
            env = np.minimum(tt / 0.01, 1) * np.exp(-tt / tau)
            for _ in range(int(rng.integers(1, 4))):
                f0 = 110 * 2 ** (int(rng.integers(36)) / 12)
                note = sum(h**-r * np.sin(2 * np.pi * h * f0 * tt + rng.uniform(0, 6.3))
                           for h in range(1, 9) if h * f0 < SR / 2)
                out[start:start + m] += rng.uniform(0.3, 1) * env * note
            pos += rng.uniform(0.12, 0.6)
        if k % 2:
            beat = 60 / rng.uniform(90, 150)
            m = int(0.15 * SR)
            burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.03 * SR))
            for b in np.arange(0, seconds, beat):
                s = int(b * SR)
                out[s:s + m] += 0.5 * np.abs(out).max() * burst[: n - s] / np.abs(burst).max()
        return _norm(out)
    if family == "crackle":
        clicks = np.zeros(n)
        idx = rng.choice(n, size=int(rng.uniform(20, 400) * seconds), replace=False)
        clicks[idx] = rng.laplace(size=len(idx))
        m = int(rng.uniform(0.001, 0.003) * SR)
        clicks = np.convolve(clicks, np.exp(-np.arange(4 * m) / m))[:n]
        gate, pos, duty = np.zeros(n), 0, rng.uniform(0.3, 0.8)
        while pos < n:
            length = int(rng.uniform(0.02, 0.3) * SR)
            gate[pos:pos + length] = rng.random() < duty
            pos += length
        hiss = rng.standard_normal(n) * gate
        w = rng.uniform(0.2, 0.8)
        return _norm(w * _norm(clicks) + (1 - w) * _norm(hiss))
    raise ValueError(f"unknown noise family {family!r}; choose from {FAMILIES}")


def _add_to_bank(data, path: str, wave: np.ndarray, typ: str) -> None:
    """One more training noise file: ``wave`` under ``path`` in the audio cache only, of noise type ``typ``."""
    bank = data.noise["train"]
    data.cache._cache[path] = wave
    bank.rows.append({"path": path, "split": "train", "type": typ})
    bank.paths.append(path)
    bank.types[path] = typ
    bank.lengths.append(len(wave))


def augment_bank(data, families: list[str], files: int, seconds: float, seed: int) -> dict[str, int]:
    """Add ``files`` synthetic noise files of each family to the training noise bank (in the audio cache only)."""
    by_voice: dict[str, list[np.ndarray]] = {}
    for r in data.rows["train"]:  # the setting's own training voices
        by_voice.setdefault(r["source"], []).append(r["path"])
    voice_paths = sorted(by_voice.values(), key=lambda ps: ps[0])
    voices = [[data.cache(p) for p in ps[:20]] for ps in voice_paths] if "babble" in families else []
    bank = data.noise["train"]
    for fam in families:
        for k in range(files):
            _add_to_bank(data, f"synth://{fam}/{k}", synth_noise(fam, k, seconds, voices, seed), f"synth_{fam}")
    return {"real_files": len(bank) - len(families) * files, "synthetic_files": len(families) * files}


def recorded(folder: Path, kinds: list[str] | None = None) -> list[tuple[str, np.ndarray, str]]:
    """(cache key, RMS-normalised wave, noise type) of the audio files under ``folder`` named after one of ``kinds``
    (all when None; ``.../rain.ogg`` is kind ``rain``, type ``extra_rain``), byte-identical files once."""
    out, seen = [], set()
    for f in sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".wav", ".ogg")):
        digest = hashlib.md5(f.read_bytes()).hexdigest()
        if (kinds and f.stem not in kinds) or digest in seen:
            continue
        seen.add(digest)
        out.append((f"extra://{f.relative_to(folder)}", _norm(load_audio(f, warn=False)), f"extra_{f.stem}"))
    if not out:
        raise SystemExit(f"error: no .wav or .ogg file of kinds {kinds or 'any'} under {folder}")
    return out


def add_recorded(data, folder: Path, kinds: list[str] | None = None) -> dict[str, int]:
    """Add the files of :func:`recorded` to the training noise bank (in the audio cache only); count them per type."""
    types: dict[str, int] = {}
    for key, wave, typ in recorded(folder, kinds):
        _add_to_bank(data, key, wave, typ)
        types[typ] = types.get(typ, 0) + 1
    return types


def add_val_other(bundles: dict, folder: Path, kinds: list[str] | None) -> dict[str, int]:
    """A validation noise bank of other kinds (``val_other``) in every bundle: the files of :func:`recorded`, to
    be mixed with the validation clips; a choice among settings that change what the AE hears in training can
    then be made on kinds it never heard, as the unseen test kinds are (never the same files as training's)."""
    files = recorded(folder, kinds)
    for b in bundles.values():
        for key, wave, _ in files:
            b.cache._cache[key] = wave
        b.noise["val_other"] = NoiseBank([{"path": k, "split": "val", "type": t} for k, _, t in files], b.cache)
    return {t: sum(1 for *_, u in files if u == t) for t in sorted({t for *_, t in files})}


def shared_files(train: NoiseBank, val_other: NoiseBank) -> list[str]:
    """The ``val_other`` files whose audio is also in the training bank (a leak: the cell would not be unheard)."""
    def digests(bank: NoiseBank) -> dict[str, str]:
        return {hashlib.md5(np.ascontiguousarray(bank.cache(p)).tobytes()).hexdigest(): p for p in bank.paths}
    heard = digests(train)
    return sorted(p for d, p in digests(val_other).items() if d in heard)


# ---- evaluation at 0 dB ----------------------------------------------------------------------------
def eval_bundles(data_dir: str, n: int) -> dict:
    """Per speech task: a bundle of the whole corpus (seed 0) whose test rows are ``n`` synthetic clips."""
    out = {}
    for t in SPEECH:
        cfg = make_config("small", task=t, seed=0, max_train_clips=0, max_eval_clips=n, data_dir=data_dir)
        out[t] = load_data(cfg, get_task(t))
    return out


def cells(b, n: int) -> dict[str, MixtureDataset]:
    cfg, task = b.cfg, b.task
    val = {name: MixtureDataset(subset(b.rows["val"], n, 0), task, b.labels, b.cache, b.noise[name], snr=0.0, seed=0,
                                split_key=5, clip_seconds=clip_seconds(cfg, task))
           for name in ("val", "val_other") if name in b.noise}
    return {**val, "test_seen": b.test_set("synthetic", "test_seen", 0.0),
            "test_unseen": b.test_set("synthetic", "test_unseen", 0.0)}


@torch.no_grad()
def improvement(enhance, b, ds: MixtureDataset) -> dict[str, float]:
    """Mean SI-SDR of ``enhance(batch)`` minus noisy (dB) over the cell's clips, on each clip's true length."""
    deltas = []
    for batch in b.loader(ds, shuffle=False):
        enh = enhance(batch)
        for j, n in enumerate(batch["length"].tolist()):
            c = batch["clean"][j:j + 1, :n]
            deltas.append(float(si_sdr(enh[j:j + 1, :n], c)[0] - si_sdr(batch["noisy"][j:j + 1, :n], c)[0]))
    return {"delta": round(float(np.mean(deltas)), 3), "n": len(deltas)}


def oracle_mask(ae: nn.Module):
    """``batch -> enhanced`` by the oracle mask min(|S|/|X|, 1) on the noisy phase, in ``ae``'s STFT: the ceiling
    of the U-Net's model class (a bounded magnitude mask), no training."""
    def enhance(batch: dict) -> torch.Tensor:
        x, s = ae.stft(batch["noisy"]), ae.stft(batch["clean"])
        return ae.istft((s.abs() / x.abs().clamp_min(1e-8)).clamp(max=1.0) * x, batch["noisy"].shape[-1])
    return enhance


def score(enhance, bundles: dict, n: int) -> dict:
    """``improvement`` of ``enhance`` in every cell of every speech task (the same mixtures for every setting)."""
    return {t: {c: improvement(enhance, b, ds) for c, ds in cells(b, n).items()} for t, b in bundles.items()}


def report(row: dict, scores: dict, out: str) -> dict:
    """Print the scores, add them to ``row`` and write it to ``out`` (if given); return the row."""
    for t, s in scores.items():
        print(f"  {t}: " + "  ".join(f"{c} {v['delta']:+.2f} (n={v['n']})" for c, v in s.items()))
    row["scores"] = scores
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(row, indent=1))
    return row


# ---- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--task", default="kws", choices=SPEECH, help="training task (ignored with --pool)")
    p.add_argument("--pool", action="store_true", help="train on the pooled kws + asr + ser training clips")
    p.add_argument("--segment", type=float, default=1.0, help="--pool: crop length in seconds")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-train-clips", type=int, default=None, help="0 = all; default: the small preset's")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--snr-low", type=float, default=-5.0)
    p.add_argument("--snr-high", type=float, default=20.0)
    p.add_argument("--augment", default="", help=f"comma-separated families of {FAMILIES}")
    p.add_argument("--extra-noise", default="", help="a folder of recorded noise files added to the training bank")
    p.add_argument("--extra-kinds", nargs="+", default=None, help="only files of these names (e.g. rain day)")
    p.add_argument("--val-other", default="", help="a folder of recorded noise of other kinds: a validation cell")
    p.add_argument("--val-other-kinds", nargs="+", default=None, help="only files of these names")
    p.add_argument("--aug-files", type=int, default=6, help="synthetic files per family")
    p.add_argument("--aug-seconds", type=float, default=16.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-clips", type=int, default=150)
    p.add_argument("--label", default="", help="row name in the output")
    p.add_argument("--oracle", action="store_true",
                   help="no training: score the model class's ceiling, the oracle mask min(|S|/|X|, 1) on the "
                        "noisy phase with the preset's STFT")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other Config field of the training run, e.g. --set ae_lr=3e-3 (repeatable)")
    p.add_argument("--out", default="", help="JSON file for the row (default: print only)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)

    over = dict(task="kws" if a.pool else a.task, paradigm="cascade", seed=a.seed, ae_epochs=a.epochs,
                ae_width=a.width, train_snr_low=a.snr_low, train_snr_high=a.snr_high, study="levers",
                run_root="runs/tmp-levers")
    if a.max_train_clips is not None:
        over["max_train_clips"] = a.max_train_clips
    over.update(parse_sets(a.set))
    cfg = make_config("small", **over)
    bundles = eval_bundles(cfg.data_dir, a.eval_clips)
    other = add_val_other(bundles, Path(a.val_other).expanduser(), a.val_other_kinds) if a.val_other else {}
    if a.oracle:
        row = {"label": a.label or "oracle mask", "argv": sys.argv[1:], "hop": cfg.hop, "val_other": other}
        return report(row, score(oracle_mask(build_ae(cfg)), bundles, a.eval_clips), a.out)
    seed_everything(cfg.seed)
    data = load_data(cfg, get_task(cfg.task))
    if a.pool:
        pool_speech(data, cfg, a.segment, a.max_train_clips or 0)
    aug = augment_bank(data, [f for f in a.augment.split(",") if f], a.aug_files, a.aug_seconds, a.seed) \
        if a.augment else {}
    if a.extra_noise:
        aug["recorded"] = add_recorded(data, Path(a.extra_noise).expanduser(), a.extra_kinds)
    leak = shared_files(data.noise["train"], bundles[cfg.task].noise["val_other"]) if other else []
    if leak:
        raise SystemExit(f"error: --val-other files are in the training noise too: {', '.join(leak)}")
    ae = build_ae(cfg)
    run_dir = Path(cfg.run_root) / f"run-{os.getpid()}"
    trainer = Trainer(cfg, data, ae, nn.Identity(), run_dir, progress=False)
    t0 = time.time()
    trainer.run_phase(0)  # phases(cascade)[0] is ae_pretrain: the study's own loop, seeds and best-epoch choice
    total = time.time() - t0
    shutil.rmtree(run_dir, ignore_errors=True)
    hist = [{k: h[k] for k in ("epoch", "train_loss", "val_ae_loss", "seconds")} for h in trainer.history]

    t1 = time.time()
    trainer.ae.eval()
    scores = score(lambda batch: trainer.ae(batch["noisy"]), bundles, a.eval_clips)
    row = {"label": a.label or " ".join(sys.argv[1:]), "argv": sys.argv[1:], "train_clips": len(data.rows["train"]),
           "epochs": a.epochs, "width": a.width, "threads": a.threads,
           "s_per_epoch": round(float(np.mean([h["seconds"] for h in hist])), 1), "total_s": round(total, 1),
           "eval_s": round(time.time() - t1, 1), "augment": aug, "val_other": other, "history": hist}
    print(json.dumps({k: row[k] for k in ("label", "train_clips", "s_per_epoch", "total_s", "eval_s")}))
    return report(row, scores, a.out)


if __name__ == "__main__":
    main()
