"""What every real-corpus adapter shares: probing files, seeded group splits, and writing manifests.

An adapter reads a dataset folder it is given (never downloads) and writes manifests that point at
the original files by absolute path. The helpers here make four policies the same for every adapter:

* a folder that is missing or lacks the expected files raises a clear error (what, where, why);
* one unreadable file is skipped with a warning naming it, never a crash in a 100k-file scan;
* splits are drawn from a generator seeded by ``(seed, corpus, group)``, so the same input gives the
  same manifest bytes, and adding one group (a noise type, a scene) does not reshuffle the others;
* an existing manifest that holds rows of another corpus is never silently overwritten: the caller
  chooses ``merge`` (add rows, replacing those with the same path) or ``overwrite``.
"""
from __future__ import annotations

import csv
import random
import warnings
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import soundfile as sf

from ..manifest import ManifestError, write_manifest


class AdapterWarning(UserWarning):
    """A file that an adapter skipped (unreadable, empty, or not named as the dataset names files)."""


class AdaptResult(list):
    """The manifests an adapter wrote (a ``list[Path]``), plus what it counted and skipped.

    Attributes:
        corpus: the adapter name.
        counts: ``{manifest file name: {split: rows}}``.
        skipped: ``(path, reason)`` for every file left out with a warning.
        notes: short lines worth printing (choices made, files written).
    """

    def __init__(self, corpus: str) -> None:
        super().__init__()
        self.corpus = corpus
        self.counts: dict[str, dict[str, int]] = {}
        self.skipped: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def summary(self) -> str:
        lines = [f"{self.corpus}:"]
        for path in self:
            c = self.counts.get(Path(path).name, {})
            parts = ", ".join(f"{s} {n}" for s, n in c.items())
            lines.append(f"  wrote {path} ({sum(c.values())} rows: {parts})")
        lines += [f"  {n}" for n in self.notes]
        lines.append(f"  skipped {len(self.skipped)} file(s)" + (" (see warnings)" if self.skipped else ""))
        return "\n".join(lines)


def require_dir(path: str | Path, dataset: str) -> Path:
    """The absolute dataset folder, or FileNotFoundError naming the dataset and the path."""
    p = Path(path).expanduser()
    if not p.is_dir():
        what = "is a file, not a folder" if p.exists() else "does not exist"
        raise FileNotFoundError(f"{dataset}: the dataset folder {p} {what}; pass the extracted dataset folder.")
    return p.resolve()


class Scanner:
    """Reads durations from file headers (``soundfile.info``: no decoding) and records skipped files."""

    def __init__(self, result: AdaptResult, progress: bool = False) -> None:
        self.result = result
        self.progress = progress

    def skip(self, path: Path | str, reason: str) -> None:
        self.result.skipped.append((str(path), reason))
        warnings.warn(f"{self.result.corpus}: skipping {path}: {reason}", AdapterWarning, stacklevel=3)

    def duration(self, path: Path) -> float | None:
        """Seconds of audio in ``path``, or None (with a warning) when it cannot be read or is empty."""
        try:
            info = sf.info(str(path))
        except Exception as exc:  # soundfile raises several types for corrupt or foreign data
            self.skip(path, f"unreadable audio ({exc})")
            return None
        if info.frames <= 0 or info.samplerate <= 0:
            self.skip(path, "holds no samples")
            return None
        return info.frames / info.samplerate

    def iterate(self, items: Sequence, desc: str) -> Iterable:
        if not self.progress:
            return items
        from tqdm.auto import tqdm

        return tqdm(items, desc=f"{self.result.corpus}: {desc}", unit="file")


def seeded_rng(seed: int, *keys: object) -> random.Random:
    """A generator seeded by ``(seed, *keys)``: stable across processes and Python runs."""
    return random.Random("/".join(str(k) for k in (seed, *keys)))


def split_counts(n: int, val_frac: float, test_frac: float) -> tuple[int, int, int]:
    """(train, val, test) group counts: a non-zero fraction gets at least one group while train keeps one.

    With fewer than three groups, val is dropped first, then test: ``n=1`` -> all train, ``n=2`` -> one
    train and one test.
    """
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"split fractions must be in [0, 1) and sum below 1, got val={val_frac}, test={test_frac}")
    n_val = max(1, round(n * val_frac)) if val_frac > 0 else 0
    n_test = max(1, round(n * test_frac)) if test_frac > 0 else 0
    while n_val + n_test > n - 1 and (n_val or n_test):
        if n_val >= n_test and n_val:
            n_val -= 1
        else:
            n_test -= 1
    return n - n_val - n_test, n_val, n_test


def split_groups(
    groups: Iterable[str],
    val_frac: float,
    test_frac: float,
    rng: random.Random,
    names: tuple[str, str, str] = ("train", "val", "test"),
) -> dict[str, str]:
    """Assign each group (speaker, location, noise file) to one split by a seeded shuffle of the sorted groups."""
    keys = sorted(set(groups))
    rng.shuffle(keys)
    n_train, n_val, _ = split_counts(len(keys), val_frac, test_frac)
    out = {}
    for i, k in enumerate(keys):
        out[k] = names[0] if i < n_train else names[1] if i < n_train + n_val else names[2]
    return out


def parse_types(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"a,b"`` or ``["a", "b"]`` -> ("a", "b"); ``None``, ``""`` and ``"none"`` -> ()."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [s.strip() for s in items if s.strip()]
    return () if items in ([], ["none"]) else tuple(items)


def check_known(chosen: Iterable[str], known: Iterable[str], what: str, dataset: str) -> None:
    """Raise ManifestError on a name that the dataset does not have (typos in --unseen-types are common)."""
    known = sorted(set(known))
    bad = sorted(set(chosen) - set(known))
    if bad:
        raise ManifestError(f"{dataset}: unknown {what} {bad}; this dataset has {known}")


def warn_overlap(rows: list[dict], key: str, splits: Sequence[str], corpus: str) -> None:
    """Warn (not raise) when an official split puts one ``key`` value in two splits."""
    seen: dict[str, str] = {}
    clash: set[str] = set()
    for r in rows:
        if r["split"] in splits and seen.setdefault(r[key], r["split"]) != r["split"]:
            clash.add(r[key])
    if clash:
        warnings.warn(f"{corpus}: {len(clash)} {key} value(s) appear in more than one split "
                      f"(e.g. {sorted(clash)[:3]}); the dataset's official lists were kept", AdapterWarning,
                      stacklevel=3)


def preflight(out_dir: str | Path, names: Sequence[str], corpus: str, *, merge: bool, overwrite: bool) -> None:
    """Fail before a long scan if writing ``names`` into ``out_dir`` would hit the conflict policy."""
    for name in names:
        _existing(Path(out_dir).expanduser().resolve() / name, corpus, merge, overwrite)


def _existing(out: Path, corpus: str, merge: bool, overwrite: bool) -> tuple[list[dict], list[str]]:
    """Rows and columns of an existing manifest (empty when absent or overwritten); raise on a conflict."""
    if overwrite or not out.exists():
        return [], []
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        old = list(reader)
        cols = list(reader.fieldnames or [])
    others = sorted({r.get("corpus", "") for r in old} - {corpus})
    if others and not merge:
        raise ManifestError(
            f"{out} already holds rows of corpus {others}; pass --merge (merge=True) to add the "
            f"{corpus} rows to them, or --overwrite (overwrite=True) to replace the file."
        )
    return old, cols


def write(
    result: AdaptResult,
    out_dir: str | Path,
    name: str,
    rows: list[dict],
    columns: list[str],
    *,
    merge: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write one manifest atomically, under the conflict policy of the module docstring.

    Raises:
        ManifestError: no rows, or ``out_dir/name`` holds rows of another corpus and neither ``merge``
            nor ``overwrite`` was asked for.
    """
    if not rows:
        raise ManifestError(f"{result.corpus}: no usable files found for {name}; nothing was written.")
    out = Path(out_dir).expanduser().resolve() / name
    old, old_cols = _existing(out, result.corpus, merge, overwrite)
    if merge and old:
        if old_cols != columns:
            raise ManifestError(f"cannot merge into {out}: its columns {old_cols} differ from {columns}")
        new_paths = {r["path"] for r in rows}
        kept = [r for r in old if str((out.parent / r["path"]).resolve()) not in new_paths]
        corpora = sorted({r.get("corpus", "") for r in kept})
        result.notes.append(f"merged into {name}: kept {len(kept)} existing row(s) of {corpora}")
        rows = kept + rows
    write_manifest(out, rows, columns)
    result.append(out)
    result.counts[name] = dict(sorted(Counter(r["split"] for r in rows).items(), key=lambda kv: _split_order(kv[0])))
    return out


def _split_order(split: str) -> int:
    order = ("train", "val", "test", "test_seen", "test_unseen")
    return order.index(split) if split in order else len(order)
