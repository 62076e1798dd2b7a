"""LibriSpeech -> ``asr.csv``.

Layout read: a root holding subset folders (the extracted ``LibriSpeech/``), or one subset folder::

    <subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    <subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt    "<speaker>-<chapter>-<utt> WORDS ..."

Choices:

* Splits follow the subset names: ``train-*`` (train-clean-100, train-clean-360, train-other-500, and
  Mini LibriSpeech's train-clean-5) -> train, ``dev-*`` -> val, ``test-*`` -> test. The subsets are
  speaker-disjoint by construction. A single subset folder gets its split from its name, or from
  ``split=`` when the name is not a standard one.
* Labels are the transcripts, lower-cased (LibriSpeech's are upper-case letters and apostrophes).
* ``source`` is the speaker id.
* ``max_seconds`` drops utterances longer than that (the study crops or pads every clip to the task's
  clip length, so an utterance longer than it would lose words its transcript still has).
"""
from __future__ import annotations

from pathlib import Path

from ..manifest import SPLITS, TASK_COLUMNS, ManifestError
from .common import AdaptResult, Scanner, preflight, require_dir, warn_overlap, write

NAME = "librispeech"
DATASET = "LibriSpeech"
PREFIX_SPLITS = {"train-": "train", "dev-": "val", "test-": "test"}


def subset_split(name: str) -> str | None:
    """train / val / test for a standard subset folder name, else None."""
    for prefix, split in PREFIX_SPLITS.items():
        if name.startswith(prefix):
            return split
    return None


def _is_subset(folder: Path) -> bool:
    return any(folder.glob("*/*/*.trans.txt"))


def adapt_librispeech(
    src: str | Path,
    out_dir: str | Path,
    *,
    split: str | None = None,
    max_seconds: float | None = None,
    merge: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    seed: int = 0,  # accepted for a uniform CLI; the splits here are the official ones
) -> AdaptResult:
    """Write ``asr.csv`` for a LibriSpeech root or a single subset folder.

    Args:
        split: the split of a single subset folder (needed when its name is not a standard one);
            with a root of several subsets it must be None.
        max_seconds: drop utterances longer than this many seconds (None keeps all).

    Raises:
        FileNotFoundError: ``src`` is not a folder.
        ManifestError: no subset folders / transcripts found, or the split of a subset is unknown.
    """
    root = require_dir(src, DATASET)
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    preflight(out_dir, ["asr.csv"], NAME, merge=merge, overwrite=overwrite)
    result = AdaptResult(NAME)
    scan = Scanner(result, progress)

    subsets = {d: subset_split(d.name) for d in sorted(root.iterdir()) if d.is_dir() and subset_split(d.name)}
    if subsets and split is not None:
        raise ManifestError(f"{DATASET}: --split is for a single subset folder, but {root} holds subsets "
                            f"{sorted(d.name for d in subsets)} whose splits come from their names; drop --split.")
    if subsets:
        ignored = [d.name for d in root.iterdir() if d.is_dir() and d not in subsets]
        if ignored:
            result.notes.append(f"ignored folders that are not LibriSpeech subsets: {sorted(ignored)}")
    elif _is_subset(root):
        split = split or subset_split(root.name)
        if split is None:
            raise ManifestError(f"{DATASET}: {root} looks like one subset (<speaker>/<chapter>/*.trans.txt) but "
                                f"its name {root.name!r} is not a standard subset name; pass --split train|val|test.")
        subsets = {root: split}
    else:
        raise ManifestError(
            f"{DATASET}: expected subset folders (train-clean-100/, dev-clean/, test-clean/, ...) or "
            f"<speaker>/<chapter>/<speaker>-<chapter>.trans.txt files in {root}; is this the extracted "
            "LibriSpeech folder?"
        )

    rows, too_long = [], 0
    for folder, sub_split in subsets.items():
        items = _utterances(folder, scan)
        if not items:
            raise ManifestError(f"{DATASET}: subset {folder} holds no <speaker>/<chapter>/*.trans.txt "
                                "transcripts; is the subset fully extracted?")
        for flac, speaker, text in scan.iterate(items, folder.name):
            dur = scan.duration(flac)
            if dur is None:
                continue
            if max_seconds is not None and dur > max_seconds:
                too_long += 1
                continue
            rows.append(dict(path=str(flac), split=sub_split, label=text, source=speaker, kind="real",
                             duration=dur, corpus=NAME))
    if max_seconds is not None:
        result.notes.append(f"dropped {too_long} utterance(s) longer than {max_seconds} s")
    elif rows:
        result.notes.append(f"longest utterance {max(r['duration'] for r in rows):.1f} s: the asr task crops clips "
                            "to its clip_seconds, so pass --max-seconds to keep transcripts whole")
    warn_overlap(rows, "source", SPLITS, NAME)
    write(result, out_dir, "asr.csv", rows, TASK_COLUMNS, merge=merge, overwrite=overwrite)
    return result


def _utterances(subset: Path, scan: Scanner) -> list[tuple[Path, str, str]]:
    """(flac, speaker, lower-case transcript) for every transcript line of one subset."""
    items = []
    for trans in sorted(subset.glob("*/*/*.trans.txt")):
        speaker = trans.parent.parent.name
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt, _, text = line.strip().partition(" ")
            if not utt:
                continue
            flac = trans.parent / f"{utt}.flac"
            if not flac.is_file():
                scan.skip(flac, f"listed in {trans.name} but not on disk")
                continue
            items.append((flac, speaker, " ".join(text.lower().split())))
    return items
