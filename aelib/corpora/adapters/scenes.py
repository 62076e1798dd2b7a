"""TAU Urban Acoustic Scenes 2020 Mobile (development) -> ``asc.csv``.

Layout read (the extracted ``TAU-urban-acoustic-scenes-2020-mobile-development`` folder)::

    meta.csv                          tab-separated with header: filename, scene_label, identifier,
                                      source_label (filename as "audio/airport-barcelona-0-0-a.wav")
    evaluation_setup/fold1_train.csv      tab-separated with header: filename, scene_label
    evaluation_setup/fold1_evaluate.csv   same columns
    audio/*.wav                       10 s, 44.1 kHz, mono (all audio zips extract into audio/)

Choices:

* ``fold1_evaluate`` -> test. ``fold1_train`` -> train, minus a validation hold-out made BY LOCATION
  (``identifier``, e.g. "barcelona-0"): per scene, ``val_frac`` of its train locations (at least one),
  drawn by a generator seeded by ``(seed, scene)``, so that no recording place is both trained on and
  used for model selection. Files in meta.csv but in neither fold list are not used (as in the
  official setup).
* ``source`` is the location identifier; ``label`` the scene.
* ``devices`` keeps only the listed recording devices (``source_label``: a, b, c, s1 ... s6).
"""
from __future__ import annotations

import csv
from pathlib import Path

from ..manifest import SPLITS, TASK_COLUMNS, ManifestError
from .common import AdaptResult, Scanner, parse_types, preflight, require_dir, seeded_rng, split_counts, \
    warn_overlap, write

NAME = "tau2020mobile"
DATASET = "TAU Urban Acoustic Scenes 2020 Mobile"


def _read_tsv(path: Path, needed: tuple[str, ...]) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = set(needed) - set(reader.fieldnames or [])
        if missing:
            raise ManifestError(f"{DATASET}: {path} lacks the tab-separated columns {sorted(missing)} "
                                f"(found {reader.fieldnames}); expected a header line {' '.join(needed)}")
        return list(reader)


def adapt_tau2020mobile(
    src: str | Path,
    out_dir: str | Path,
    *,
    val_frac: float = 0.15,
    devices: str | list[str] | None = None,
    seed: int = 0,
    merge: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> AdaptResult:
    """Write ``asc.csv`` from fold 1 of the TAU 2020 Mobile development set.

    Raises:
        FileNotFoundError: ``src`` is not a folder.
        ManifestError: meta.csv or the fold-1 lists are missing or lack columns, or no listed audio exists.
    """
    root = require_dir(src, DATASET)
    meta_path = root / "meta.csv"
    if not meta_path.is_file():
        raise ManifestError(f"{DATASET}: expected meta.csv in {root}; is this the extracted "
                            "TAU-urban-acoustic-scenes-2020-mobile-development folder?")
    folds = {"train": root / "evaluation_setup" / "fold1_train.csv",
             "test": root / "evaluation_setup" / "fold1_evaluate.csv"}
    if not all(p.is_file() for p in folds.values()):
        raise ManifestError(f"{DATASET}: expected evaluation_setup/fold1_train.csv and "
                            f"evaluation_setup/fold1_evaluate.csv in {root}; extract the metadata zip there.")
    preflight(out_dir, ["asc.csv"], NAME, merge=merge, overwrite=overwrite)
    result = AdaptResult(NAME)
    scan = Scanner(result, progress)

    meta = {r["filename"]: r for r in _read_tsv(meta_path, ("filename", "scene_label", "identifier", "source_label"))}
    keep_devices = set(parse_types(devices))
    listed: list[tuple[dict, str]] = []
    for fold, path in folds.items():
        for r in _read_tsv(path, ("filename", "scene_label")):
            m = meta.get(r["filename"])
            if m is None:
                scan.skip(root / r["filename"], f"listed in {path.name} but not in meta.csv")
            elif not keep_devices or m["source_label"] in keep_devices:
                listed.append((m, fold))

    rows, absent = [], 0
    for m, fold in scan.iterate(listed, "files"):
        f = root / m["filename"]
        if not f.is_file():
            absent += 1
            continue
        dur = scan.duration(f)
        if dur is not None:
            rows.append(dict(path=str(f), split=fold, label=m["scene_label"], source=m["identifier"],
                             kind="real", duration=dur, corpus=NAME))
    if listed and absent == len(listed):
        raise ManifestError(f"{DATASET}: none of the {len(listed)} files listed in the fold-1 lists exist "
                            f"under {root / 'audio'}; extract the audio zips into {root}.")
    if absent:
        result.notes.append(f"{absent} listed file(s) are not on disk (audio zips not all extracted?)")

    _hold_out_locations(rows, val_frac, seed)
    if keep_devices:
        result.notes.append(f"devices kept: {sorted(keep_devices)}")
    warn_overlap(rows, "source", SPLITS, NAME)
    write(result, out_dir, "asc.csv", rows, TASK_COLUMNS, merge=merge, overwrite=overwrite)
    return result


def _hold_out_locations(rows: list[dict], val_frac: float, seed: int) -> None:
    """Move ``val_frac`` of each scene's train locations (at least one) to val, in place."""
    locations: dict[str, set[str]] = {}
    for r in rows:
        if r["split"] == "train":
            locations.setdefault(r["label"], set()).add(r["source"])
    held: set[str] = set()
    for scene in sorted(locations):
        locs = sorted(locations[scene])
        _, n_val, _ = split_counts(len(locs), val_frac, 0.0)
        held |= set(seeded_rng(seed, NAME, scene).sample(locs, n_val))
    for r in rows:
        if r["split"] == "train" and r["source"] in held:
            r["split"] = "val"
