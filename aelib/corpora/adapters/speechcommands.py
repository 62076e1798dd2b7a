"""Google Speech Commands v2 -> ``kws.csv`` (+ ``noise.csv`` from its background noise).

Layout read (the extracted ``speech_commands_v0.02`` folder)::

    <word>/<speaker>_nohash_<n>.wav     one folder per word (35 words in v2), 1 s, 16 kHz
    _background_noise_/*.wav            6 long noise recordings (4 real, white_noise, pink_noise)
    validation_list.txt, testing_list.txt   "<word>/<file>.wav" per line

Choices (following TensorFlow's official recipe, ``input_data.py``, where it has one):

* Splits: the two list files define val and test, everything else is train (the lists are
  speaker-disjoint: they were made by hashing the speaker id).
* Labels: the 20 core words keep their names; the other words become ``_unknown_``, subsampled per
  split to ``unknown_percent`` % of that split's core-word rows (recipe: 10 %; ``"all"`` keeps every one).
  ``all_words=True`` keeps all 35 words as labels instead (no ``_unknown_``).
* ``_silence_``: ``silence_percent`` % (recipe: 10 %) of each split's word rows are 1-s clips cut at
  seeded random offsets from the *real* background recordings and written to ``OUT/silence/<split>/``
  (the only audio this adapter writes; unscaled, so "silence" is the recorded background as it is).
  The background files are split by file (2 train, 1 val, 1 test), the same assignment as in noise.csv;
  white and pink noise never become silence clips, so they stay unseen.
* ``noise.csv``: the 4 real recordings are one type, ``background`` (train / val / test_seen by file);
  ``white_noise`` and ``pink_noise`` are synthetic stationary noises kept as unseen types (test_unseen).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...audio import SAMPLE_RATE, load_audio, write_audio
from ..manifest import NOISE_COLUMNS, TASK_COLUMNS, ManifestError
from .common import AdaptResult, Scanner, preflight, require_dir, seeded_rng, split_groups, warn_overlap, write

NAME = "speechcommands"
DATASET = "Speech Commands v2"
CORE_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
              "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
UNKNOWN, SILENCE = "_unknown_", "_silence_"
BACKGROUND_DIR = "_background_noise_"
SYNTHETIC_NOISES = ("white_noise", "pink_noise")  # stationary synthetic noise: the unseen types
NOISE_SPLITS = {"train": "train", "val": "val", "test": "test_seen"}


def speaker_of(filename: str) -> str:
    """The speaker id: the file-name prefix before ``_nohash_`` (the whole stem if there is none)."""
    stem = Path(filename).stem
    return stem.split("_nohash_")[0]


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def adapt_speechcommands(
    src: str | Path,
    out_dir: str | Path,
    *,
    all_words: bool = False,
    unknown_percent: float | str | None = 10.0,
    silence_percent: float = 10.0,
    noise: bool = True,
    seed: int = 0,
    merge: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> AdaptResult:
    """Write ``kws.csv`` (and ``noise.csv`` unless ``noise=False``) for Speech Commands v2.

    Args:
        all_words: keep all words as labels (no ``_unknown_``).
        unknown_percent: ``_unknown_`` rows per split, in % of the split's core-word rows; "all"/None = all.
        silence_percent: ``_silence_`` clips per split, in % of the split's word rows; 0 = none.
        noise: also write noise.csv from ``_background_noise_``.

    Raises:
        FileNotFoundError: ``src`` is not a folder.
        ManifestError: the list files, the word folders or the background folder are missing.
    """
    root = require_dir(src, DATASET)
    out_dir = Path(out_dir).expanduser().resolve()
    preflight(out_dir, ["kws.csv"] + (["noise.csv"] if noise else []), NAME, merge=merge, overwrite=overwrite)
    result = AdaptResult(NAME)
    scan = Scanner(result, progress)
    lists = [root / "validation_list.txt", root / "testing_list.txt"]
    if not all(p.is_file() for p in lists):
        raise ManifestError(f"{DATASET}: expected validation_list.txt and testing_list.txt in {root}; "
                            "is this the extracted speech_commands_v0.02 folder?")
    val, test = _read_list(lists[0]), _read_list(lists[1])
    words = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_") and any(p.glob("*.wav")))
    if not words:
        raise ManifestError(f"{DATASET}: expected word folders (yes/, no/, ...) holding .wav files in {root}; "
                            "is this the extracted speech_commands_v0.02 folder?")

    rows, unknown = [], []
    files = [f for w in words for f in sorted((root / w).glob("*.wav"))]
    on_disk = set()
    for f in scan.iterate(files, "words"):
        rel = f"{f.parent.name}/{f.name}"
        on_disk.add(rel)
        dur = scan.duration(f)
        if dur is None:
            continue
        split = "val" if rel in val else "test" if rel in test else "train"
        word = f.parent.name
        label = word if all_words or word in CORE_WORDS else UNKNOWN
        row = dict(path=str(f), split=split, label=label, source=speaker_of(f.name), kind="real",
                   duration=dur, corpus=NAME)
        (unknown if label == UNKNOWN else rows).append(row)
    missing = (val | test) - on_disk
    if missing:
        result.notes.append(f"{len(missing)} file(s) named in the list files are not on disk "
                            f"(e.g. {sorted(missing)[0]})")

    n_words = {s: sum(r["split"] == s for r in rows) for s in ("train", "val", "test")}
    rows += _subsample_unknown(unknown, n_words, unknown_percent, seed)

    bg_dir = root / BACKGROUND_DIR
    need_bg = noise or silence_percent > 0
    bg_files = sorted(bg_dir.glob("*.wav")) if bg_dir.is_dir() else []
    if need_bg and not bg_files:
        raise ManifestError(f"{DATASET}: expected {BACKGROUND_DIR}/ with the background-noise .wav files in "
                            f"{root}; pass --silence-percent 0 --no-noise to build kws.csv without it.")
    bg_durs = {f: scan.duration(f) for f in bg_files}
    bg_files = [f for f in bg_files if bg_durs[f] is not None]
    real = [f for f in bg_files if f.stem not in SYNTHETIC_NOISES]
    bg_split = split_groups([f.stem for f in real], 0.25, 0.25, seeded_rng(seed, NAME, "background"))
    if silence_percent > 0:
        rows += _silence_clips(real, bg_split, n_words, silence_percent, out_dir, seed, result)

    warn_overlap(rows, "source", ("train", "val", "test"), NAME)
    write(result, out_dir, "kws.csv", rows, TASK_COLUMNS, merge=merge, overwrite=overwrite)
    if noise:
        noise_rows = []
        for f in bg_files:
            unseen = f.stem in SYNTHETIC_NOISES
            noise_rows.append(dict(
                path=str(f), split="test_unseen" if unseen else NOISE_SPLITS[bg_split[f.stem]],
                type=f.stem.replace("_noise", "") if unseen else "background", source=f.stem,
                duration=bg_durs[f], corpus=NAME))
        write(result, out_dir, "noise.csv", noise_rows, NOISE_COLUMNS, merge=merge, overwrite=overwrite)
        result.notes.append("noise.csv: 4 real background recordings = type 'background' split by file; "
                            "white/pink noise = unseen types (test_unseen)")
    return result


def _subsample_unknown(unknown: list[dict], n_words: dict[str, int], percent: float | str | None,
                       seed: int) -> list[dict]:
    """Seeded subset of the ``_unknown_`` rows per split (the recipe's ``unknown_percentage``)."""
    if percent is None or str(percent).lower() == "all":
        return unknown
    percent = float(percent)
    keep = []
    for split, n in n_words.items():
        pool = sorted((r for r in unknown if r["split"] == split), key=lambda r: r["path"])
        k = min(len(pool), math.ceil(n * percent / 100))
        keep += seeded_rng(seed, NAME, "unknown", split).sample(pool, k)
    return keep


def _silence_clips(real: list[Path], bg_split: dict[str, str], n_words: dict[str, int], percent: float,
                   out_dir: Path, seed: int, result: AdaptResult) -> list[dict]:
    """Cut 1-s clips from the background files of each split into ``out_dir/silence/<split>/``."""
    waves = {f: load_audio(f, SAMPLE_RATE, warn=False) for f in real}
    rows = []
    for split, n_split in n_words.items():
        folder = out_dir / "silence" / split
        for stale in sorted(folder.glob("*.wav")) if folder.is_dir() else []:
            stale.unlink()  # a re-run with fewer clips must not leave old ones behind
        sources = [f for f in real if bg_split[f.stem] == split and len(waves[f]) >= SAMPLE_RATE]
        n = math.ceil(n_split * percent / 100)
        if n and not sources:
            result.notes.append(f"no background recording long enough for {split}: no {SILENCE} clips there")
            continue
        rng = np.random.default_rng([seed, ("train", "val", "test").index(split)])
        for i in range(n):
            f = sources[int(rng.integers(len(sources)))]
            off = int(rng.integers(0, len(waves[f]) - SAMPLE_RATE + 1))
            path = folder / f"{i:05d}_{f.stem}.wav"
            write_audio(path, waves[f][off:off + SAMPLE_RATE], SAMPLE_RATE)
            rows.append(dict(path=str(path), split=split, label=SILENCE, source=f.stem, kind="real",
                             duration=1.0, corpus=NAME))
    if rows:
        result.notes.append(f"wrote {len(rows)} 1-s {SILENCE} clips under {out_dir / 'silence'}")
    return rows
