"""Tiny dataset trees in EXACTLY the published layouts, for the real-corpus adapter tests.

Each ``make_<dataset>(root)`` writes a few short files (noise-like audio at the dataset's native rate,
written with soundfile) and the dataset's own metadata files, and returns ``root``. They are also
usable by integration tests that want a real-looking corpus, e.g. a smoke study on Speech Commands.
"""
from __future__ import annotations

import csv
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf


def write_audio_file(path: Path, sr: int = 16_000, seconds: float = 0.2, fmt: str = "WAV") -> Path:
    """A short noise-like clip whose content depends on the file name (so that files differ)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    wave = (0.1 * rng.standard_normal(int(sr * seconds))).astype(np.float32)
    sf.write(str(path), wave, sr, format=fmt, subtype="PCM_16")
    return path


def corrupt_file(path: Path) -> Path:
    """A file with an audio name and a broken header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    return path


# --- Speech Commands v2 ---------------------------------------------------------------------------
SC_SPEAKERS = ["0a2b400e", "1b4c9b89", "2c6d7f1a", "3d8e1c2b", "4e9f3a5c", "5fa04b6d"]  # 4 train, val, test
SC_WORDS = ["yes", "no", "up", "bed", "wow"]  # 3 core words, 2 that become _unknown_
SC_BACKGROUND = ["doing_the_dishes", "dude_miaowing", "exercise_bike", "running_tap", "white_noise", "pink_noise"]


def make_speechcommands(root: Path) -> Path:
    for word in SC_WORDS:
        for spk in SC_SPEAKERS:
            write_audio_file(root / word / f"{spk}_nohash_0.wav", 16_000, 0.25)
    (root / "validation_list.txt").write_text("".join(f"{w}/{SC_SPEAKERS[4]}_nohash_0.wav\n" for w in SC_WORDS))
    # the last line names a file that is not on disk (the real lists are complete; users' copies may not be)
    (root / "testing_list.txt").write_text("".join(f"{w}/{SC_SPEAKERS[5]}_nohash_0.wav\n" for w in SC_WORDS)
                                           + f"yes/{SC_SPEAKERS[5]}_nohash_9.wav\n")
    for name in SC_BACKGROUND:
        write_audio_file(root / "_background_noise_" / f"{name}.wav", 16_000, 1.5)
    (root / "_background_noise_" / "README.md").write_text("background noise files\n")
    (root / "LICENSE").write_text("CC-BY-4.0\n")
    return root


# --- LibriSpeech --------------------------------------------------------------------------------
LS_SUBSETS = {"train-clean-100": ["19", "26"], "dev-clean": ["84"], "test-clean": ["121"]}


def make_librispeech(root: Path, subsets: dict[str, list[str]] | None = None) -> Path:
    for subset, speakers in (subsets or LS_SUBSETS).items():
        for spk in speakers:
            chapter = f"{int(spk) * 10 + 8}"
            folder = root / subset / spk / chapter
            lines = []
            for i, secs in enumerate((0.3, 0.4, 1.2)):  # the 1.2-s one is the "long" utterance
                utt = f"{spk}-{chapter}-{i:04d}"
                write_audio_file(folder / f"{utt}.flac", 16_000, secs, fmt="FLAC")
                lines.append(f"{utt} CHAPTER {i} OF THE BOOK'S END\n")
            (folder / f"{spk}-{chapter}.trans.txt").write_text("".join(lines))
    return root


# --- Emotion corpora ----------------------------------------------------------------------------
def make_ravdess(root: Path, actors: int = 6) -> Path:
    """Actor_XX/03-01-EE-II-SS-RR-AA.wav at 48 kHz: emotions 01-08, one statement, two repetitions."""
    for a in range(1, actors + 1):
        for emo in range(1, 9):
            for rep in (1, 2):
                name = f"03-01-{emo:02d}-01-01-{rep:02d}-{a:02d}.wav"
                write_audio_file(root / f"Actor_{a:02d}" / name, 48_000, 0.1)
    return root


CREMAD_EMOS = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


def make_cremad(root: Path, speakers: int = 6) -> Path:
    for s in range(1001, 1001 + speakers):
        for sentence, level in (("DFA", "XX"), ("IEO", "HI")):
            for emo in CREMAD_EMOS:
                write_audio_file(root / "AudioWAV" / f"{s}_{sentence}_{emo}_{level}.wav", 16_000, 0.1)
    return root


EMODB_SPEAKERS = ["03", "08", "09", "10", "11", "12"]


def make_emodb(root: Path) -> Path:
    for spk in EMODB_SPEAKERS:
        for text in ("a01", "b02"):
            for emo in "WLEAFTN":
                write_audio_file(root / "wav" / f"{spk}{text}{emo}a.wav", 16_000, 0.1)
    (root / "lablaut").mkdir(parents=True, exist_ok=True)  # the zip's other folders
    return root


# --- TAU Urban Acoustic Scenes 2020 Mobile ------------------------------------------------------
TAU_SCENES = {"airport": "barcelona", "bus": "helsinki", "park": "lisbon"}


def make_tau(root: Path) -> Path:
    """Per scene 4 locations: 0-2 in fold1_train, 3 in fold1_evaluate, plus one unused file."""
    meta, train, evaluate = [], [], []
    for k, (scene, city) in enumerate(TAU_SCENES.items()):
        for loc in range(4):
            ident = f"{city}-{k * 10 + loc}"
            for seg, device in ((0, "a"), (1, "b")):
                fname = f"audio/{scene}-{ident}-{k * 100 + loc * 10 + seg}-{device}.wav"
                write_audio_file(root / fname, 44_100, 0.1)
                meta.append([fname, scene, ident, device])
                (train if loc < 3 else evaluate).append([fname, scene])
        unused = f"audio/{scene}-{city}-{k * 10 + 9}-999-s1.wav"
        write_audio_file(root / unused, 44_100, 0.1)
        meta.append([unused, scene, f"{city}-{k * 10 + 9}", "s1"])
    _tsv(root / "meta.csv", ["filename", "scene_label", "identifier", "source_label"], meta)
    _tsv(root / "evaluation_setup" / "fold1_train.csv", ["filename", "scene_label"], train)
    _tsv(root / "evaluation_setup" / "fold1_evaluate.csv", ["filename", "scene_label"], evaluate)
    _tsv(root / "evaluation_setup" / "fold1_test.csv", ["filename"], [[r[0]] for r in evaluate])
    return root


def _tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


# --- Noise corpora ------------------------------------------------------------------------------
DEMAND_ENVS = ["DKITCHEN", "DLIVING", "DWASHING", "NFIELD", "NPARK", "NRIVER", "OHALLWAY", "OMEETING", "OOFFICE",
               "PCAFETER", "PRESTO", "PSTATION", "SCAFE", "SPSQUARE", "STRAFFIC", "TBUS", "TCAR", "TMETRO"]


def make_demand(root: Path, channels: int = 2) -> Path:
    for env in DEMAND_ENVS:
        for ch in range(1, channels + 1):
            write_audio_file(root / env / f"ch{ch:02d}.wav", 16_000, 0.2)
    return root


def make_musan(root: Path) -> Path:
    for part, sub, n in (("noise", "free-sound", 5), ("noise", "sound-bible", 5), ("music", "fma", 4),
                         ("music", "rfm", 2), ("speech", "librivox", 6), ("speech", "us-gov", 4)):
        for i in range(n):
            write_audio_file(root / part / sub / f"{part}-{sub}-{i:04d}.wav", 16_000, 0.2)
        (root / part / sub / "ANNOTATIONS").write_text("file annotations\n")
    (root / "README").write_text("MUSAN\n")
    return root


ESC_CATEGORIES = {"dog": 0, "rain": 10, "siren": 42, "car_horn": 43}


def make_esc50(root: Path) -> Path:
    """One clip per category and fold (two takes of one recording for dog), 5 s -> 0.2 s, 44.1 kHz."""
    rows = []
    for cat, target in ESC_CATEGORIES.items():
        for fold in range(1, 6):
            src = 100000 + target * 10 + fold
            for take in ("AB" if cat == "dog" else "A"):
                fname = f"{fold}-{src}-{take}-{target}.wav"
                write_audio_file(root / "audio" / fname, 44_100, 0.2)
                rows.append([fname, fold, target, cat, "False", src, take])
    (root / "meta").mkdir(parents=True, exist_ok=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        w.writerows(rows)
    return root


BUILDERS = {
    "speechcommands": make_speechcommands, "librispeech": make_librispeech, "ravdess": make_ravdess,
    "cremad": make_cremad, "emodb": make_emodb, "tau2020mobile": make_tau, "demand": make_demand,
    "musan": make_musan, "esc50": make_esc50,
}
