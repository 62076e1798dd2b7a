"""A user's own clips and noises: loaded, checked, split, and mixed at exact SNRs.

:class:`ClipSet` holds clean clips with their targets (a class label, a transcript, anything the user's
loss takes), from a folder (targets from sub-folder names, or a callable of the path) or a manifest CSV
(``path`` and ``target`` columns; an optional ``group`` column, e.g. the speaker, keeps a group in one
split). :class:`NoiseSet` holds noise files. Both are 16 kHz mono float32 (other rates and channels are
converted by :func:`aelib.audio.load_audio`, with a warning); an unreadable or silent file is an error
that names it. ``split`` cuts them by file (or group), deterministically, so that test clips and test
noise files are never seen in training. :func:`mixtures` draws (noisy, clean) pairs with
:func:`aelib.mixing.mix`: every SNR exact.
"""
from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..audio import AudioError, is_silent, load_audio
from ..errors import UserError
from ..mixing import mix

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
SR = 16_000


class OwnDataError(UserError, FileNotFoundError):
    """A folder, manifest or file of the user's data that cannot be used."""


def _audio_files(folder: str | Path) -> list[Path]:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise OwnDataError(f"no folder at {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise OwnDataError(f"{root} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files


def _load(paths: Sequence[Path], what: str) -> list[np.ndarray]:
    waves, bad = [], []
    for p in paths:
        try:
            w = load_audio(p, SR, warn=False)
        except (AudioError, RuntimeError) as e:
            bad.append(f"{p.name} ({e})")
            continue
        if is_silent(w):
            bad.append(f"{p.name} (silent)")
            continue
        waves.append(w)
    if bad:
        raise OwnDataError(f"{len(bad)} {what} file(s) cannot be used: " + "; ".join(bad[:5])
                           + (" ..." if len(bad) > 5 else ""))
    return waves


def _split_keys(keys: Sequence[str], val: float, test: float, seed: int) -> dict[str, str]:
    """Each distinct key -> train | val | test, by a stable hash (the same on every machine and run)."""
    uniq = sorted(set(keys), key=lambda k: (zlib.crc32(f"{seed}:{k}".encode()), k))
    n = len(uniq)
    n_test, n_val = max(1, round(test * n)), max(1, round(val * n))
    if n_test + n_val >= n:
        raise OwnDataError(f"{n} distinct files/groups cannot make train, val and test splits; bring more")
    return {k: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, k in enumerate(uniq)}


@dataclass
class ClipSet:
    """Clean 16 kHz clips, their targets, names and groups (the unit that stays in one split)."""

    waves: list[np.ndarray]
    targets: list[Any]
    names: list[str]
    groups: list[str]

    def __len__(self) -> int:
        return len(self.waves)

    @classmethod
    def from_folder(cls, folder: str | Path, target: Callable[[Path], Any] | None = None) -> "ClipSet":
        """Every audio file under ``folder``; targets from ``target(path)``, else the parent folder's name."""
        files = _audio_files(folder)
        targets = [target(p) if target else p.parent.name for p in files]
        return cls(_load(files, "clip"), targets, [str(p.relative_to(Path(folder).expanduser())) for p in files],
                   [p.name for p in files])

    @classmethod
    def from_manifest(cls, path: str | Path) -> "ClipSet":
        """A CSV with columns ``path`` (relative to the CSV) and ``target``, and optionally ``group``."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise OwnDataError(f"no manifest at {path}")
        rows = list(csv.DictReader(path.open()))
        if not rows or not {"path", "target"} <= set(rows[0]):
            raise OwnDataError(f"{path} needs a header with columns path and target (optional: group)")
        files = [path.parent / r["path"] for r in rows]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise OwnDataError(f"{len(missing)} file(s) of {path} are missing, e.g. {missing[0]}")
        return cls(_load(files, "clip"), [r["target"] for r in rows], [r["path"] for r in rows],
                   [r.get("group") or r["path"] for r in rows])

    @classmethod
    def from_corpus(cls, data_dir: str | Path, task: str, split: str, limit: int = 0, kind: str = "") -> "ClipSet":
        """The clips of an aelib corpus manifest (``<data_dir>/<task>.csv``: the embedded corpus, or one made by
        an adapter) in ``split`` (and of ``kind``, e.g. synthetic or real, when given), their ``label`` as target
        and ``source`` (the voice) as group; ``limit`` > 0 keeps that many, spread evenly over the split."""
        from ..corpora.manifest import read_manifest

        rows = [r for r in read_manifest(Path(data_dir).expanduser() / f"{task}.csv")
                if r["split"] == split and (not kind or r.get("kind") == kind)]
        if not rows:
            raise OwnDataError(f"{data_dir}/{task}.csv has no {split!r} rows" + (f" of kind {kind!r}" if kind else ""))
        if limit and len(rows) > limit:
            rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, limit)]
        return cls(_load([Path(r["path"]) for r in rows], "clip"), [r["label"] for r in rows],
                   [Path(r["path"]).name for r in rows], [r.get("source") or r["path"] for r in rows])

    def subset(self, idx: Sequence[int]) -> "ClipSet":
        return ClipSet([self.waves[i] for i in idx], [self.targets[i] for i in idx], [self.names[i] for i in idx],
                       [self.groups[i] for i in idx])

    def split(self, val: float = 0.15, test: float = 0.15, seed: int = 0) -> tuple["ClipSet", "ClipSet", "ClipSet"]:
        """(train, val, test) by group, deterministic."""
        where = _split_keys(self.groups, val, test, seed)
        return tuple(self.subset([i for i, g in enumerate(self.groups) if where[g] == s])
                     for s in ("train", "val", "test"))  # type: ignore[return-value]


@dataclass
class NoiseSet:
    """Noise waves (16 kHz) and their names."""

    waves: list[np.ndarray]
    names: list[str]

    @classmethod
    def from_folder(cls, folder: str | Path) -> "NoiseSet":
        files = _audio_files(folder)
        return cls(_load(files, "noise"), [str(p.relative_to(Path(folder).expanduser())) for p in files])

    @classmethod
    def from_corpus(cls, data_dir: str | Path, split: str, manifest: str = "noise.csv") -> "NoiseSet":
        """The noise files of an aelib corpus in ``split`` (train, val, test_seen, test_unseen)."""
        from ..corpora.manifest import read_manifest

        rows = [r for r in read_manifest(Path(data_dir).expanduser() / manifest) if r["split"] == split]
        if not rows:
            raise OwnDataError(f"{data_dir}/{manifest} has no {split!r} rows")
        return cls(_load([Path(r["path"]) for r in rows], "noise"), [f"{r['type']}:{Path(r['path']).name}" for r in rows])

    def split(self, val: float = 0.2, test: float = 0.3, seed: int = 0) -> tuple["NoiseSet", "NoiseSet", "NoiseSet"]:
        """(train, val, test) by file: test noise files are never heard in training."""
        where = _split_keys(self.names, val, test, seed)
        pick = lambda s: NoiseSet([w for w, n in zip(self.waves, self.names) if where[n] == s],  # noqa: E731
                                  [n for n in self.names if where[n] == s])
        return pick("train"), pick("val"), pick("test")


def mixtures(clips: ClipSet, noises: NoiseSet, snrs: Sequence[float] | tuple[float, float], seed: int,
             *, grid: bool = False, clip_samples: int = 0) -> list[dict[str, Any]]:
    """(noisy, clean) pairs. ``grid``: every clip at every SNR of ``snrs``, with one noise file per clip;
    else one mixture per clip at an SNR drawn uniformly from the range ``snrs`` = (low, high). Noise file,
    offset and SNR come from ``seed``; ``clip_samples`` > 0 crops (randomly) or pads each clip to that length."""
    if not noises.waves:
        raise OwnDataError("no noise files for these mixtures")
    rng = np.random.default_rng(seed)
    out = []
    for i, (clean, target) in enumerate(zip(clips.waves, clips.targets)):
        if clip_samples and len(clean) > clip_samples:
            start = int(rng.integers(0, len(clean) - clip_samples + 1))
            clean = clean[start:start + clip_samples]
        k = int(rng.integers(len(noises.waves)))
        offset = int(rng.integers(0, 1 << 30))
        levels = list(snrs) if grid else [float(rng.uniform(*snrs))]
        for snr in levels:
            noisy, ref = mix(clean, noises.waves[k], float(snr), offset)
            if clip_samples and len(ref) < clip_samples:
                noisy, ref = (np.pad(w, (0, clip_samples - len(w))) for w in (noisy, ref))
            out.append({"clip": i, "name": clips.names[i], "target": target, "noise": noises.names[k],
                        "snr": float(snr), "noisy": noisy, "clean": ref, "length": min(len(clean), len(ref))})
    return out
