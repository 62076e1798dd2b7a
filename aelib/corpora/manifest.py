"""Manifests: the one table format every corpus (embedded or real) is turned into.

A corpus root holds one CSV per task (``kws.csv``, ``asr.csv``, ``ser.csv``, ``asc.csv``) and one
``noise.csv`` for the noise bank (``noise_asc.csv`` for asc, whose interferer is speech). Paths are
relative to the CSV's folder (the embedded corpus, so it can be moved) or absolute (the adapters of
:mod:`aelib.corpora.adapters`, which point at a dataset where it lies). Writing is atomic (temporary file + rename): an interrupted build never leaves a half-written
manifest that a later run would trust.

Task manifest columns
    path      audio file, relative to the manifest folder or absolute
    split     train | val | test
    label     class name (kws, ser, asc) or transcript, lower-case words (asr)
    source    voice (speech tasks) or source recording (scenes); splits are disjoint by source
    kind      synthetic | real   (how the audio was made; reported separately)
    duration  seconds
    corpus    name of the corpus the row comes from (embedded, speechcommands, librispeech, ...)

Noise manifest columns
    path, split (train | val | test_seen | test_unseen), type (noise type, e.g. babble, fire), source,
    duration, corpus
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable

from ..errors import UserError
from ..files import atomic_open

TASK_COLUMNS = ["path", "split", "label", "source", "kind", "duration", "corpus"]
NOISE_COLUMNS = ["path", "split", "type", "source", "duration", "corpus"]
SPLITS = ("train", "val", "test")
NOISE_SPLITS = ("train", "val", "test_seen", "test_unseen")
TASKS = ("kws", "asr", "ser", "asc")


class ManifestError(UserError, ValueError):
    """A manifest that is missing, incomplete or inconsistent."""


def write_manifest(path: str | os.PathLike, rows: Iterable[dict], columns: list[str]) -> Path:
    """Write rows as CSV atomically, with columns in a fixed order and rows sorted for reproducibility."""
    path = Path(path)
    rows = sorted(rows, key=lambda r: (str(r["split"]), str(r["path"])))
    with atomic_open(path, "w", suffix=".csv", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            out = dict(r)
            if isinstance(out.get("duration"), float):
                out["duration"] = f"{out['duration']:.4f}"
            w.writerow(out)
    return path


def read_manifest(path: str | os.PathLike, columns: list[str] | None = None) -> list[dict]:
    """Read a manifest into a list of dicts; ``duration`` becomes float and ``path`` absolute.

    Raises:
        ManifestError: the file is missing or lacks required columns.
    """
    path = Path(path)
    if not path.exists():
        raise ManifestError(
            f"manifest not found: {path}. Build the embedded corpus with `python -m aelib.corpora build` "
            "or point data_dir at a folder made by an adapter (`python -m aelib.corpora adapt ...`)."
        )
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(columns or []) - set(reader.fieldnames or [])
        if missing:
            raise ManifestError(f"manifest {path} lacks columns {sorted(missing)}; expected {columns}")
        rows = list(reader)
    for r in rows:
        r["duration"] = float(r.get("duration") or 0.0)
        r["path"] = str((path.parent / r["path"]).resolve())
    return rows


def check_disjoint(rows: list[dict], key: str = "source", splits: tuple[str, ...] = SPLITS) -> None:
    """Raise if any ``key`` value (voice, source file) appears in more than one split."""
    seen: dict[str, str] = {}
    for r in rows:
        if r["split"] not in splits:
            continue
        prev = seen.setdefault(r[key], r["split"])
        if prev != r["split"]:
            raise ManifestError(f"{key} {r[key]!r} appears in both {prev} and {r['split']}")
