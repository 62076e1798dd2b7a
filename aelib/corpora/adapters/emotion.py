"""Acted emotional speech (RAVDESS, CREMA-D, EmoDB) -> ``ser.csv``.

Layouts read::

    RAVDESS   Actor_XX/MM-VV-EE-II-SS-RR-AA.wav   (modality 03 = audio-only, vocal channel 01 = speech,
              emotion EE, actor AA; 48 kHz). Actor folders may sit one level down, e.g. both
              Audio_Speech_Actors_01-24/ and Audio_Song_Actors_01-24/; a file name seen twice is kept once.
    CREMA-D   AudioWAV/<speaker>_<sentence>_<EMO>_<level>.wav   (EMO in ANG DIS FEA HAP NEU SAD; 16 kHz)
    EmoDB     wav/<speaker:2><text:3><emotion:1><version:1>.wav  (e.g. 03a01Fa.wav; 16 kHz)

Choices:

* One label vocabulary for all three (so that they can be merged): neutral, calm, happy, sad, angry,
  fearful, disgust, surprised, bored.
* ``four_class`` (default on) keeps neutral / happy / sad / angry and drops the rest: the classes of the
  embedded SER proxy, so that a real corpus and the proxy are scored on the same task. RAVDESS "calm"
  is dropped too unless ``calm_as_neutral``.
* Splits are speaker-disjoint: the sorted speakers are shuffled by a generator seeded by
  ``(seed, corpus)`` and cut 70 / 15 / 15 % (``val_frac``, ``test_frac``; at least one speaker each).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..manifest import TASK_COLUMNS, ManifestError, check_disjoint
from .common import AdaptResult, Scanner, preflight, require_dir, seeded_rng, split_groups, write

FOUR_CLASSES = ("neutral", "happy", "sad", "angry")  # the embedded proxy's classes
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                    "06": "fearful", "07": "disgust", "08": "surprised"}
CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral",
                   "SAD": "sad"}
EMODB_EMOTIONS = {"W": "angry", "L": "bored", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad",
                  "N": "neutral"}  # German initials: Wut, Langeweile, Ekel, Angst, Freude, Trauer, Neutral

RAVDESS_RE = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
CREMAD_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
EMODB_RE = re.compile(r"^(\d\d)([a-z]\d\d)([A-Z])([a-z])$")

# parse(stem) -> (speaker, emotion) or None for a file the dataset would not name so
Parser = Callable[[str], "tuple[str, str] | None"]


def _ser(
    name: str,
    dataset: str,
    files: list[Path],
    parse: Parser,
    out_dir: str | Path,
    *,
    four_class: bool,
    val_frac: float,
    test_frac: float,
    seed: int,
    merge: bool,
    overwrite: bool,
    progress: bool,
    result: AdaptResult | None = None,
) -> AdaptResult:
    """Shared body: parse names, probe durations, speaker-disjoint split, write ser.csv."""
    result = AdaptResult(name) if result is None else result
    scan = Scanner(result, progress)
    rows, dropped = [], 0
    for f in scan.iterate(files, "files"):
        parsed = parse(f.stem)
        if parsed is None:
            scan.skip(f, f"file name does not follow the {dataset} naming scheme")
            continue
        speaker, emotion = parsed
        if four_class and emotion not in FOUR_CLASSES:
            dropped += 1
            continue
        dur = scan.duration(f)
        if dur is None:
            continue
        rows.append(dict(path=str(f), split="", label=emotion, source=speaker, kind="real", duration=dur,
                         corpus=name))
    if not rows:
        hint = " (git-lfs pointers? run `git lfs pull` in the CREMA-D clone)" if name == "cremad" else ""
        raise ManifestError(f"{dataset}: none of the {len(files)} audio file(s) could be used{hint}; "
                            "see the warnings above.")
    speakers = {r["source"] for r in rows}
    if len(speakers) < 3:
        raise ManifestError(f"{dataset}: found {len(speakers)} speaker(s); speaker-disjoint train/val/test "
                            "splits need at least 3.")
    assign = split_groups(speakers, val_frac, test_frac, seeded_rng(seed, name, "speakers"))
    for r in rows:
        r["split"] = assign[r["source"]]
    check_disjoint(rows)
    if four_class:
        result.notes.append(f"four_class: kept {'/'.join(FOUR_CLASSES)}, dropped {dropped} file(s) of other emotions")
    by_split = {s: sorted(k for k, v in assign.items() if v == s) for s in ("train", "val", "test")}
    result.notes.append("speakers: " + "; ".join(f"{s} {len(v)}" for s, v in by_split.items())
                        + f" (val {by_split['val']}, test {by_split['test']})")
    write(result, out_dir, "ser.csv", rows, TASK_COLUMNS, merge=merge, overwrite=overwrite)
    return result


def adapt_ravdess(
    src: str | Path, out_dir: str | Path, *, four_class: bool = True, calm_as_neutral: bool = False,
    include_song: bool = False, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0,
    merge: bool = False, overwrite: bool = False, progress: bool = False,
) -> AdaptResult:
    """RAVDESS audio-only speech (and song, with ``include_song``) -> ser.csv; source = actor."""
    root = require_dir(src, "RAVDESS")
    preflight(out_dir, ["ser.csv"], "ravdess", merge=merge, overwrite=overwrite)
    candidates = sorted(root.glob("Actor_*/*.wav")) + sorted(root.glob("*/Actor_*/*.wav"))
    if not candidates:
        raise ManifestError(f"RAVDESS: expected Actor_01/ ... Actor_24/ folders of "
                            f"03-01-EE-II-SS-RR-AA.wav files in {root} (or one level down); is this the "
                            "extracted Audio_Speech_Actors_01-24 folder?")
    result = AdaptResult("ravdess")
    files, seen = [], set()
    for f in candidates:
        if f.name not in seen:
            seen.add(f.name)
            files.append(f)
    if len(files) < len(candidates):
        result.notes.append(f"{len(candidates) - len(files)} duplicate file name(s) kept once")
    channels = {"01", "02"} if include_song else {"01"}

    def parse(stem: str) -> tuple[str, str] | None:
        m = RAVDESS_RE.match(stem)
        if not m or m.group(3) not in RAVDESS_EMOTIONS:
            return None
        emotion = RAVDESS_EMOTIONS[m.group(3)]
        return f"Actor_{m.group(7)}", "neutral" if calm_as_neutral and emotion == "calm" else emotion

    def wanted(f: Path) -> bool:  # audio-only (modality 03) of the chosen vocal channels; odd names go on to a warning
        m = RAVDESS_RE.match(f.stem)
        return m is None or (m.group(1) == "03" and m.group(2) in channels)

    kept = [f for f in files if wanted(f)]
    if len(kept) < len(files):
        result.notes.append(f"left out {len(files) - len(kept)} file(s) that are not audio-only "
                            f"{'speech or song' if include_song else 'speech'} (modality 03, vocal channel "
                            f"{'01/02' if include_song else '01'})")
    return _ser("ravdess", "RAVDESS", kept, parse, out_dir, four_class=four_class,
                val_frac=val_frac, test_frac=test_frac, seed=seed, merge=merge, overwrite=overwrite,
                progress=progress, result=result)


def _wav_folder(src: str | Path, label: str, sub: str, example: str, hint: str) -> list[Path]:
    """The ``*.wav`` files of ``src/sub`` (or of ``src`` when it is that folder itself), sorted."""
    root = require_dir(src, label)
    folder = root / sub if (root / sub).is_dir() else root
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise ManifestError(f"{label}: expected {sub}/*.wav files (e.g. {sub}/{example}) in {root}; {hint}")
    return files


def adapt_cremad(
    src: str | Path, out_dir: str | Path, *, four_class: bool = True, val_frac: float = 0.15,
    test_frac: float = 0.15, seed: int = 0, merge: bool = False, overwrite: bool = False, progress: bool = False,
) -> AdaptResult:
    """CREMA-D ``AudioWAV/`` (the folder itself or the repository root above it) -> ser.csv; source = actor id."""
    files = _wav_folder(src, "CREMA-D", "AudioWAV", "1001_DFA_ANG_XX.wav", "is this the CREMA-D repository folder?")
    preflight(out_dir, ["ser.csv"], "cremad", merge=merge, overwrite=overwrite)

    def parse(stem: str) -> tuple[str, str] | None:
        m = CREMAD_RE.match(stem)
        return (m.group(1), CREMAD_EMOTIONS[m.group(3)]) if m and m.group(3) in CREMAD_EMOTIONS else None

    return _ser("cremad", "CREMA-D", files, parse, out_dir, four_class=four_class, val_frac=val_frac,
                test_frac=test_frac, seed=seed, merge=merge, overwrite=overwrite, progress=progress)


def adapt_emodb(
    src: str | Path, out_dir: str | Path, *, four_class: bool = True, val_frac: float = 0.15,
    test_frac: float = 0.15, seed: int = 0, merge: bool = False, overwrite: bool = False, progress: bool = False,
) -> AdaptResult:
    """EmoDB ``wav/`` (the folder itself or the root above it) -> ser.csv; source = speaker (first two chars)."""
    files = _wav_folder(src, "EmoDB", "wav", "03a01Fa.wav", "is this the extracted EmoDB (download.zip) folder?")
    preflight(out_dir, ["ser.csv"], "emodb", merge=merge, overwrite=overwrite)

    def parse(stem: str) -> tuple[str, str] | None:
        m = EMODB_RE.match(stem)
        return (m.group(1), EMODB_EMOTIONS[m.group(3)]) if m and m.group(3) in EMODB_EMOTIONS else None

    return _ser("emodb", "EmoDB", files, parse, out_dir, four_class=four_class, val_frac=val_frac,
                test_frac=test_frac, seed=seed, merge=merge, overwrite=overwrite, progress=progress)
