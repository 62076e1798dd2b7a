"""Datasets and loaders: manifests + noise bank -> seeded (noisy, clean, target) batches.

Mixing happens on the fly. Each item's randomness comes from a generator seeded by
``(seed, epoch, index)`` in training and ``(seed, index, snr, noise split)`` in evaluation, so an
epoch is the same whether or not the run was interrupted, and every test mixture can be rebuilt
from its :class:`aelib.mixing.MixRecord`.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .audio import fit_length, load_audio
from .augment import telephone
from .config import Config
from .corpora.manifest import NOISE_COLUMNS, TASK_COLUMNS, ManifestError, read_manifest
from .distributed import GlobalBatchSampler, rank, world_size
from .mixing import MixRecord, draw_mixture, mix
from .profiles import clip_profiles, speaker_profiles

TRAIN_VAL_SNR_SEED = 7919  # offsets the val generator from training's, so val mixtures are fixed


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


class AudioCache:
    """Decoded audio by path, kept in memory: the embedded corpus fits easily and decoding dominates."""

    def __init__(self, sr: int) -> None:
        self.sr = sr
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, path: str) -> np.ndarray:
        wave = self._cache.get(path)
        if wave is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rate/channel fixes were reported by the corpus build
                wave = load_audio(path, self.sr)
            self._cache[path] = wave
        return wave


class NoiseBank:
    """The noise files of one split (train, val, test_seen, test_unseen), loaded once."""

    def __init__(self, rows: list[dict], cache: AudioCache) -> None:
        if not rows:
            raise ManifestError("noise bank is empty for this split; check noise.csv")
        self.rows = rows
        self.cache = cache
        self.paths = [r["path"] for r in rows]
        self.types = {r["path"]: r["type"] for r in rows}
        self.lengths = [len(cache(p)) for p in self.paths]

    def __len__(self) -> int:
        return len(self.rows)


def load_manifests(cfg: Config, task_name: str, interferer: str) -> tuple[list[dict], list[dict]]:
    """Task rows and noise rows for a task; asc uses speech interferers (noise_asc.csv)."""
    root = Path(cfg.data_dir)
    rows = read_manifest(root / f"{task_name}.csv", TASK_COLUMNS)
    noise_file = "noise_asc.csv" if interferer == "speech" else "noise.csv"
    noise = read_manifest(root / noise_file, NOISE_COLUMNS)
    return rows, noise


def corpus_fingerprint(cfg: Config, task: Any) -> str:
    """12 hex digits naming the data a run of ``task`` sees in ``cfg.data_dir``: the bytes of its task and
    noise manifests, and an embedded build's (size, seed, version), which can change audio without changing
    a manifest. Recorded in ``params.json`` and part of a shared stage's key, so that a corpus rebuilt or
    re-adapted differently in the same folder never silently mixes with runs and stages made on the old one."""
    root = Path(cfg.data_dir)
    h = hashlib.sha1()
    for name in (f"{task.name}.csv", "noise_asc.csv" if task.interferer == "speech" else "noise.csv"):
        path = root / name
        h.update(path.read_bytes() if path.exists() else b"-")
    try:
        info = json.loads((root / "build_info.json").read_text())
        h.update(json.dumps([info.get(k) for k in ("size", "seed", "version")]).encode())
    except (OSError, ValueError):  # not an embedded build (an adapter's folder): the manifests say it all
        pass
    return h.hexdigest()[:12]


def subset(rows: list[dict], n: int, seed: int) -> list[dict]:
    """A seeded random subset of ``n`` rows (all when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(rows):
        return rows
    idx = np.sort(_rng(seed, 17).choice(len(rows), n, replace=False))
    return [rows[i] for i in idx]


class MixtureDataset(Dataset):
    """Clean clips of one split, mixed with a noise bank at a drawn or fixed SNR.

    Args:
        rows: manifest rows of one split.
        task: the TaskSpec (clip length, target encoding).
        labels: class names (or the asr vocabulary).
        noise: the noise bank, or None for clean-only items (noisy == clean).
        snr: a fixed SNR in dB (evaluation), or None to draw uniformly from ``snr_range`` per item.
        seed: base seed; ``set_epoch`` changes the draws of training items.
        profiles: speaker profile by clip path (:func:`aelib.profiles.speaker_profiles`), added to each item when given.
    """

    def __init__(
        self,
        rows: list[dict],
        task: Any,
        labels: list[str],
        cache: AudioCache,
        noise: NoiseBank | None,
        *,
        snr: float | None = None,
        snr_range: tuple[float, float] = (-5.0, 20.0),
        seed: int = 0,
        rir_prob: float = 0.0,
        split_key: int = 0,
        clip_seconds: float = 0.0,
        speed_perturb: float = 0.0,
        telephone_prob: float = 0.0,
        profiles: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.rows, self.task, self.labels, self.cache, self.noise = rows, task, labels, cache, noise
        self.profiles = profiles
        self.snr, self.snr_range, self.seed, self.rir_prob = snr, snr_range, seed, rir_prob
        self.split_key, self.speed_perturb, self.telephone_prob = split_key, speed_perturb, telephone_prob
        self.n_samples = int(round((clip_seconds or task.clip_seconds) * cache.sr))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def clean(self, i: int) -> np.ndarray:
        wave = self.cache(self.rows[i]["path"])
        if self.speed_perturb > 0:
            factor = float(_rng(self.seed, self.split_key, self.epoch, i, 7).choice(
                [1 - self.speed_perturb, 1.0, 1 + self.speed_perturb]))
            wave = speed_perturb(wave, factor)
        draw = _rng(self.seed, self.split_key, self.epoch, i, 11).random() if self.telephone_prob > 0 else 1.0
        if draw < self.telephone_prob:
            wave = telephone(wave, self.cache.sr)
        if self.speed_perturb > 0 and not self.task.fixed_length:  # never crop a transcribed clip
            return wave
        n = self.n_samples if self.task.fixed_length else min(len(wave), self.n_samples)
        return fit_length(wave, n)

    def record(self, i: int, n_samples: int | None = None) -> MixRecord | None:
        """The mixture record of item ``i`` under the current epoch / SNR (None when clean).

        ``n_samples`` is the length of ``self.clean(i)`` when the caller already has it (speed
        perturbation makes computing it again cost a resampling).
        """
        if self.noise is None:
            return None
        if self.snr is None:
            rng = _rng(self.seed, self.split_key, self.epoch, i)
            snr = float(rng.uniform(*self.snr_range))
        else:
            rng = _rng(self.seed, self.split_key, int(round(self.snr * 100)) + 100_000, i)
            snr = self.snr
        n = len(self.clean(i)) if n_samples is None else n_samples
        return draw_mixture(rng, self.rows[i]["path"], n, self.noise.paths, self.noise.lengths, snr,
                            rir_prob=self.rir_prob)

    def __getitem__(self, i: int) -> dict[str, Any]:
        clean = self.clean(i)
        rec = self.record(i, len(clean))
        if rec is None:
            noisy, target_wave = clean, clean
        else:
            noisy, target_wave = mix(clean, self.cache(rec.noise_path), rec.snr_db, rec.noise_offset,
                                     rir_seed=rec.rir_seed, sr=self.cache.sr)
        item = {
            "clean": torch.from_numpy(np.ascontiguousarray(target_wave)),
            "noisy": torch.from_numpy(np.ascontiguousarray(noisy)),
            "target": self.task.encode(self.rows[i]["label"], self.labels),
            "snr": float("inf") if rec is None else rec.snr_db,
            "index": i,
            "noise_path": "" if rec is None else rec.noise_path,
            "noise_offset": -1 if rec is None else rec.noise_offset,
        }
        if self.profiles is not None:
            item["profile"] = self.profiles[self.rows[i]["path"]]
        return item


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``wave`` ``factor`` times faster (pitch and tempo together, Kaldi's 0.9/1.0/1.1 recipe).

    A cheap proxy for new speakers: it moves formants and pitch, which is what a CA trained on few
    voices over-fits to.
    """
    from fractions import Fraction

    from scipy.signal import resample_poly

    if factor == 1.0:
        return wave
    fr = Fraction(factor).limit_denominator(20)
    up, down = fr.denominator, fr.numerator
    wave = np.asarray(wave, dtype=np.float32)
    return resample_poly(wave, up, down, window=_resample_filter(up, down))  # float32 in, float32 out


@lru_cache(maxsize=64)
def _resample_filter(up: int, down: int) -> np.ndarray:
    """The low-pass FIR that ``resample_poly`` designs by default (Kaiser, beta 5, 10 taps per phase), in float32.

    Designed once per ratio instead of once per clip: the design was a third of a speed-perturbed
    item's time (profiled); tests check that the output equals ``resample_poly``'s own to the bit.
    """
    from scipy.signal import firwin

    max_rate = max(up, down)
    h = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
    h.flags.writeable = False  # shared by every call (resample_poly scales a copy)
    return h


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad waveforms (and CTC targets) to the longest item; keep true lengths."""
    lengths = torch.tensor([len(it["clean"]) for it in items], dtype=torch.long)
    T = int(lengths.max())
    pad = lambda x: torch.nn.functional.pad(x, (0, T - len(x)))  # noqa: E731
    batch: dict[str, Any] = {
        "clean": torch.stack([pad(it["clean"]) for it in items]),
        "noisy": torch.stack([pad(it["noisy"]) for it in items]),
        "length": lengths,
        "snr": torch.tensor([it["snr"] for it in items], dtype=torch.float32),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
        "noise_path": [it["noise_path"] for it in items],
        "noise_offset": [it["noise_offset"] for it in items],
    }
    if "profile" in items[0]:
        batch["profile"] = torch.stack([it["profile"] for it in items])
    targets = [it["target"] for it in items]
    if targets[0].dim() == 0:
        batch["target"] = torch.stack(targets)
    else:
        tl = torch.tensor([len(t) for t in targets], dtype=torch.long)
        batch["target"] = torch.nn.utils.rnn.pad_sequence(targets, batch_first=True, padding_value=0)
        batch["target_length"] = tl
    return batch


@dataclass
class DataBundle:
    """Everything a run needs from the corpus, for one task."""

    task: Any
    labels: list[str]
    cache: AudioCache
    rows: dict[str, list[dict]]  # split -> task rows
    noise: dict[str, NoiseBank]  # noise split -> bank
    cfg: Config
    fingerprint: str = ""  # corpus_fingerprint of the manifests read
    profiles: dict[str, torch.Tensor] | None = None  # speaker profile by clip path (ser_speaker_norm), else None
    texts: list[str] = field(default_factory=list)  # every train row's label, before max_train_clips: the text
    #                                                 resources of a model (asr's lexicon and LM), as for labels

    def attach_profiles(self, model: Any) -> None:
        """For a model with ``speaker_norm`` (else nothing): compute the speaker profile of every clip the
        run sees, once (a second call keeps the first), and set the model's prior.

        Each split (train, val, and each test kind's evaluated subset) is its own pool: a clip's profile
        is the mean of ``model.profile`` over the *other* clean clips of its speaker (``source``) in its
        pool, so no clip normalises itself and no split borrows another's speakers. The model's
        ``profile_prior`` becomes the training clips' mean (used for a speaker with one clip, and by
        ``load_run`` for a clip of an unknown speaker).
        """
        if not getattr(model, "speaker_norm", False) or self.profiles is not None:
            return
        n = int(round(clip_seconds(self.cfg, self.task) * self.cache.sr))
        pools = [self.rows["train"], self.rows["val"]] + [self.test_rows(k) for k in self.test_kinds()]
        means = {r["path"]: m for pool in pools for r, m in zip(pool, clip_profiles(pool, self.cache, n, model))}
        prior = torch.stack([means[r["path"]] for r in self.rows["train"]]).mean(0)
        model.profile_prior.copy_(prior)
        self.profiles = {}
        for pool in pools:
            self.profiles.update(speaker_profiles(pool, means, prior))

    def train_set(self, clean_only: bool = False) -> MixtureDataset:
        return MixtureDataset(self.rows["train"], self.task, self.labels, self.cache,
                              None if clean_only else self.noise["train"],
                              snr_range=(self.cfg.train_snr_low, self.cfg.train_snr_high),
                              seed=self.cfg.seed, rir_prob=self.cfg.rir_prob, split_key=1,
                              clip_seconds=clip_seconds(self.cfg, self.task), speed_perturb=self.cfg.speed_perturb,
                              telephone_prob=self.cfg.telephone_prob,
                              profiles=self.profiles)

    def val_set(self, clean_only: bool = False) -> MixtureDataset:
        """Validation mixtures: SNRs drawn once (fixed epoch) from the training range, val noise files."""
        return MixtureDataset(self.rows["val"], self.task, self.labels, self.cache,
                              None if clean_only else self.noise["val"],
                              snr_range=(self.cfg.train_snr_low, self.cfg.train_snr_high),
                              seed=self.cfg.seed + TRAIN_VAL_SNR_SEED, split_key=2,
                              clip_seconds=clip_seconds(self.cfg, self.task), profiles=self.profiles)

    @property
    def test_seed(self) -> int:
        """The seed of the test draw (clips, noise segments, SNR pairing): ``eval_seed``, else the run's seed."""
        return self.cfg.eval_seed if self.cfg.eval_seed >= 0 else self.cfg.seed

    def test_kinds(self) -> list[str]:
        """Speech kinds of the test split, synthetic first."""
        return sorted({r["kind"] for r in self.rows["test"]}, key=lambda k: (k != "synthetic", k))

    def test_rows(self, kind: str) -> list[dict]:
        """The test rows of one speech kind that a run evaluates (``max_eval_clips`` of them, seeded)."""
        return subset([r for r in self.rows["test"] if r["kind"] == kind], self.cfg.max_eval_clips, self.test_seed)

    def test_set(self, kind: str, noise_split: str | None, snr: float | None) -> MixtureDataset:
        """Test rows of one speech kind at a fixed SNR; noise_split None means clean audio."""
        bank = None if noise_split is None else self.noise[noise_split]
        return MixtureDataset(self.test_rows(kind), self.task, self.labels, self.cache, bank, snr=snr,
                              seed=self.test_seed, split_key=3 if noise_split == "test_seen" else 4,
                              clip_seconds=clip_seconds(self.cfg, self.task), profiles=self.profiles)

    def loader(self, ds: MixtureDataset, shuffle: bool, epoch: int = 0) -> DataLoader:
        """Batches of ``cfg.batch_size`` (the global batch); under torchrun, training batches are sharded.

        With ``cfg.length_buckets`` a variable-length task's training batches hold clips of similar
        duration (:class:`aelib.distributed.GlobalBatchSampler`); evaluation order never changes.

        Validation and test loaders are not sharded: every rank sees everything (see aelib.distributed).
        """
        world = world_size() if shuffle else 1
        bucket = shuffle and self.cfg.length_buckets > 0 and not self.task.fixed_length
        sampler = GlobalBatchSampler(len(ds), self.cfg.batch_size, self.cfg.seed * 1000 + epoch, shuffle,
                                     world, rank() if world > 1 else 0,
                                     lengths=[float(r["duration"]) for r in ds.rows] if bucket else None,
                                     buckets=self.cfg.length_buckets)
        return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=self.cfg.num_workers)


def clip_seconds(cfg: Config, task: Any) -> float:
    """The clip length of a run: the config's override, else the task's default."""
    return cfg.clip_seconds or task.clip_seconds


def drop_too_long(rows: list[dict], task: Any, cfg: Config, split: str) -> list[dict]:
    """Variable-length tasks (asr) cannot crop without breaking the transcript: drop longer clips, loudly."""
    if task.fixed_length:
        return rows
    limit = clip_seconds(cfg, task) + 0.01
    kept = [r for r in rows if r["duration"] <= limit]
    if len(kept) < len(rows):
        warnings.warn(f"{task.name} {split}: dropped {len(rows) - len(kept)} of {len(rows)} clips longer than "
                      f"{limit:.2f} s (a crop would cut the transcript); raise clip_seconds to keep them",
                      stacklevel=2)
    return kept


def load_data(cfg: Config, task: Any) -> DataBundle:
    """Read manifests, subset the training split, open the noise banks.

    Raises:
        aelib.corpora.manifest.ManifestError: a manifest is missing or a split is empty.
    """
    rows, noise_rows = load_manifests(cfg, task.name, task.interferer)
    by_split = {s: drop_too_long([r for r in rows if r["split"] == s], task, cfg, s) for s in ("train", "val", "test")}
    for s, rs in by_split.items():
        if not rs:
            raise ManifestError(f"{cfg.data_dir}/{task.name}.csv has no {s!r} rows")
    by_split["train"] = subset(by_split["train"], cfg.max_train_clips, cfg.seed)
    by_split["val"] = subset(by_split["val"], cfg.max_train_clips // 4 if cfg.max_train_clips else 0, cfg.seed)
    labels = task.labels_from_manifest(rows, cfg)
    cache = AudioCache(cfg.sample_rate)
    noise = {}
    for s in ("train", "val", "test_seen", "test_unseen"):
        rs = [r for r in noise_rows if r["split"] == s]
        if rs:
            noise[s] = NoiseBank(rs, cache)
    for s in ("train", "val", "test_seen"):
        if s not in noise:
            raise ManifestError(f"noise manifest in {cfg.data_dir} has no {s!r} files")
    texts = [r["label"] for r in rows if r["split"] == "train"]
    return DataBundle(task, labels, cache, by_split, noise, cfg, corpus_fingerprint(cfg, task), texts=texts)
