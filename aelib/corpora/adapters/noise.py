"""Noise banks (DEMAND, MUSAN, ESC-50) -> ``noise.csv`` (or ``noise_asc.csv``: ``manifest=``).

Every noise adapter makes the same two decisions, both documented per dataset below:
which TYPES are never trained on (``unseen_types`` -> test_unseen, all their files), and how the
files of the seen types are split into train / val / test_seen (disjoint FILES of the same types).
Files are never cut or copied: a split is a set of whole files.

Layouts and choices:

* DEMAND ``<ENV>/ch01.wav ... ch16.wav`` (18 environments, 5 min each, 16 or 48 kHz). A type is an
  environment *category*, the first letter of the folder name: D domestic, N nature, O office,
  P public, S street, T transportation (3 environments each). One channel per environment
  (``channel``, default 1: the 16 channels are simultaneous, so more of them would be near-copies).
  Within a seen category the 3 environments go one each to train / val / test_seen (seeded);
  default unseen: ``transportation`` (TBUS, TCAR, TMETRO).
* MUSAN ``noise/{free-sound,sound-bible}/*.wav``, ``music/<collection>/*.wav``,
  ``speech/<collection>/*.wav``. Types: ``noise``, ``music`` and ``babble`` (MUSAN's speech: single
  talkers, used as speech-like interference). Seen types are split by file 80 / 10 / 10 %
  (``val_frac``, ``test_frac``), seeded per type; default unseen: ``music``.
* ESC-50 ``meta/esc50.csv`` (filename, fold, target, category, esc10, src_file, take) and ``audio/*.wav``
  (5 s, 44.1 kHz). Type = category (50). Seen categories are split by the official folds (clips cut from
  one source recording share a fold): folds 1-3 train, 4 val, 5 test_seen. Default unseen: the 10
  "exterior/urban" categories (ESC_URBAN), all folds.

``types`` keeps only the listed types (e.g. MUSAN ``types="babble"``, ``manifest="noise_asc.csv"`` for the
speech interferers of the scenes task).
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..manifest import NOISE_COLUMNS, ManifestError, check_disjoint
from .common import AdaptResult, Scanner, check_known, parse_types, preflight, require_dir, seeded_rng, \
    split_groups, warn_overlap, write

NOISE_NAMES = ("noise.csv", "noise_asc.csv")
DEMAND_CATEGORIES = {"D": "domestic", "N": "nature", "O": "office", "P": "public", "S": "street",
                     "T": "transportation"}
MUSAN_TYPES = {"noise": "noise", "music": "music", "speech": "babble"}
# the 50 ESC-50 categories by target 0-49 (five groups of ten: animals, natural, human non-speech,
# interior/domestic, exterior/urban); names are checked against this list, so a partial copy still works
ESC_CATEGORIES = (
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind", "pouring_water",
    "toilet_flush", "thunderstorm",
    "crying_baby", "sneezing", "clapping", "breathing", "coughing", "footsteps", "laughing", "brushing_teeth",
    "snoring", "drinking_sipping",
    "door_wood_knock", "mouse_click", "keyboard_typing", "door_wood_creaks", "can_opening", "washing_machine",
    "vacuum_cleaner", "clock_alarm", "clock_tick", "glass_breaking",
    "helicopter", "chainsaw", "siren", "car_horn", "engine", "train", "church_bells", "airplane", "fireworks",
    "hand_saw",
)
ESC_URBAN = ("airplane", "car_horn", "chainsaw", "church_bells", "engine", "fireworks", "hand_saw",
             "helicopter", "siren", "train")
ESC_FOLDS = {1: "train", 2: "train", 3: "train", 4: "val", 5: "test_seen"}
SEEN_SPLITS = ("train", "val", "test_seen")


def _finish(result: AdaptResult, rows: list[dict], out_dir, manifest: str, unseen: tuple[str, ...], *,
            merge: bool, overwrite: bool, official: bool = False) -> AdaptResult:
    """Check the noise-split invariants (sources disjoint: raise for our splits, warn for official ones); write."""
    splits = ("train", "val", "test_seen", "test_unseen")
    if official:
        warn_overlap(rows, "source", splits, result.corpus)
    else:
        check_disjoint(rows, splits=splits)
    seen_types = {r["type"] for r in rows if r["split"] != "test_unseen"}
    thin = sorted(t for t in seen_types if {r["split"] for r in rows if r["type"] == t} != set(SEEN_SPLITS))
    if thin:
        result.notes.append(f"seen type(s) {thin} have too few files for all of train/val/test_seen")
    result.notes.append(f"unseen types (test_unseen): {list(unseen) or 'none'}")
    write(result, out_dir, manifest, rows, NOISE_COLUMNS, merge=merge, overwrite=overwrite)
    return result


def _start(corpus: str, out_dir, manifest: str, merge: bool, overwrite: bool) -> AdaptResult:
    if manifest not in NOISE_NAMES:
        raise ValueError(f"manifest must be one of {NOISE_NAMES}, got {manifest!r}")
    preflight(out_dir, [manifest], corpus, merge=merge, overwrite=overwrite)
    return AdaptResult(corpus)


def _select(present: set[str], types, unseen_types, dataset: str, known) -> tuple[set[str], tuple[str, ...]]:
    """The types to keep and the unseen ones among those present; names are checked against ``known``."""
    keep, unseen = set(parse_types(types)), parse_types(unseen_types)
    check_known(keep, known, "type(s) in --types", dataset)
    check_known(unseen, known, "type(s) in --unseen-types", dataset)
    keep = (keep or set(known)) & present
    return keep, tuple(t for t in unseen if t in keep)


def adapt_demand(
    src: str | Path, out_dir: str | Path, *, unseen_types: str | list[str] | None = "transportation",
    types: str | list[str] | None = None, channel: int = 1, manifest: str = "noise.csv", seed: int = 0,
    merge: bool = False, overwrite: bool = False, progress: bool = False,
) -> AdaptResult:
    """DEMAND -> noise manifest; type = environment category, source = environment."""
    root = require_dir(src, "DEMAND")
    result = _start("demand", out_dir, manifest, merge, overwrite)
    scan = Scanner(result, progress)
    ch = f"ch{channel:02d}.wav"
    envs = sorted(d for d in root.iterdir() if d.is_dir() and d.name[:1] in DEMAND_CATEGORIES and (d / ch).is_file())
    if not envs:
        raise ManifestError(f"DEMAND: expected environment folders (DKITCHEN/, NPARK/, ...) holding {ch} in "
                            f"{root}; is this the folder the DEMAND zips were extracted into?")
    keep, unseen = _select({DEMAND_CATEGORIES[e.name[0]] for e in envs}, types, unseen_types, "DEMAND",
                           DEMAND_CATEGORIES.values())
    by_type: dict[str, list[Path]] = {}
    for e in envs:
        by_type.setdefault(DEMAND_CATEGORIES[e.name[0]], []).append(e)
    rows = []
    for t in sorted(keep):
        assign = {e.name: "test_unseen" for e in by_type[t]} if t in unseen else \
            split_groups([e.name for e in by_type[t]], 1 / 3, 1 / 3, seeded_rng(seed, "demand", t), SEEN_SPLITS)
        for e in by_type[t]:
            dur = scan.duration(e / ch)
            if dur is not None:
                rows.append(dict(path=str(e / ch), split=assign[e.name], type=t, source=e.name, duration=dur,
                                 corpus="demand"))
    return _finish(result, rows, out_dir, manifest, unseen, merge=merge, overwrite=overwrite)


def adapt_musan(
    src: str | Path, out_dir: str | Path, *, unseen_types: str | list[str] | None = "music",
    types: str | list[str] | None = None, val_frac: float = 0.1, test_frac: float = 0.1,
    manifest: str = "noise.csv", seed: int = 0, merge: bool = False, overwrite: bool = False, progress: bool = False,
) -> AdaptResult:
    """MUSAN -> noise manifest; type = noise | music | babble, source = file stem."""
    root = require_dir(src, "MUSAN")
    result = _start("musan", out_dir, manifest, merge, overwrite)
    scan = Scanner(result, progress)
    files = {t: sorted((root / part).glob("*/*.wav")) for part, t in MUSAN_TYPES.items()}
    if not any(files.values()):
        raise ManifestError(f"MUSAN: expected noise/free-sound/*.wav, noise/sound-bible/*.wav, music/*/*.wav "
                            f"or speech/*/*.wav in {root}; is this the extracted musan folder?")
    keep, unseen = _select({t for t, fs in files.items() if fs}, types, unseen_types, "MUSAN", MUSAN_TYPES.values())
    rows = []
    for t in sorted(keep):
        usable = [(f, d) for f in scan.iterate(files[t], t) if (d := scan.duration(f)) is not None]
        assign = {f.stem: "test_unseen" for f, _ in usable} if t in unseen else \
            split_groups([f.stem for f, _ in usable], val_frac, test_frac, seeded_rng(seed, "musan", t), SEEN_SPLITS)
        rows += [dict(path=str(f), split=assign[f.stem], type=t, source=f.stem, duration=d, corpus="musan")
                 for f, d in usable]
    return _finish(result, rows, out_dir, manifest, unseen, merge=merge, overwrite=overwrite)


def adapt_esc50(
    src: str | Path, out_dir: str | Path, *, unseen_types: str | list[str] | None = ESC_URBAN,
    types: str | list[str] | None = None, manifest: str = "noise.csv", seed: int = 0,
    merge: bool = False, overwrite: bool = False, progress: bool = False,
) -> AdaptResult:
    """ESC-50 -> noise manifest; type = category, source = src_file (the freesound recording)."""
    root = require_dir(src, "ESC-50")
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise ManifestError(f"ESC-50: expected meta/esc50.csv and audio/*.wav in {root}; is this the "
                            "extracted ESC-50-master folder?")
    result = _start("esc50", out_dir, manifest, merge, overwrite)
    scan = Scanner(result, progress)
    with open(meta, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"filename", "fold", "category", "src_file"} - set(reader.fieldnames or [])
        if missing:
            raise ManifestError(f"ESC-50: {meta} lacks columns {sorted(missing)}; found {reader.fieldnames}")
        entries = sorted(reader, key=lambda r: r["filename"])
    keep, unseen = _select({r["category"] for r in entries}, types, unseen_types, "ESC-50",
                           set(ESC_CATEGORIES) | {r["category"] for r in entries})
    rows, absent = [], 0
    for r in scan.iterate(entries, "files"):
        if r["category"] not in keep:
            continue
        path = root / "audio" / r["filename"]
        if not path.is_file():
            absent += 1
            continue
        dur = scan.duration(path)
        if dur is None:
            continue
        split = "test_unseen" if r["category"] in unseen else ESC_FOLDS.get(int(r["fold"]))
        if split is None:
            scan.skip(path, f"fold {r['fold']} is not one of 1-5")
            continue
        rows.append(dict(path=str(path), split=split, type=r["category"], source=f"{r['category']}/{r['src_file']}",
                         duration=dur, corpus="esc50"))
    if absent:
        if not rows:
            raise ManifestError(f"ESC-50: none of the files listed in meta/esc50.csv exist under {root / 'audio'}")
        result.notes.append(f"{absent} file(s) listed in meta/esc50.csv are not on disk")
    result.notes.append("seen categories split by fold: 1-3 train, 4 val, 5 test_seen")
    return _finish(result, rows, out_dir, manifest, unseen, merge=merge, overwrite=overwrite, official=True)
