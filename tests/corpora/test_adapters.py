"""Real-corpus adapters on tiny trees in the published layouts: contents, determinism, clear errors."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aelib.audio import load_audio
from aelib.corpora.adapters import ADAPTERS, AdapterWarning, adapt
from aelib.corpora.adapters.__main__ import main
from aelib.corpora.adapters.common import split_counts
from aelib.corpora.adapters.emotion import FOUR_CLASSES
from aelib.corpora.manifest import NOISE_COLUMNS, NOISE_SPLITS, TASK_COLUMNS, ManifestError, check_disjoint, \
    read_manifest

try:  # package mode (tests/__init__.py present) or rootdir mode
    from .adapter_fixtures import BUILDERS, DEMAND_ENVS, SC_SPEAKERS, TAU_SCENES, corrupt_file, write_audio_file
except ImportError:
    from adapter_fixtures import BUILDERS, DEMAND_ENVS, SC_SPEAKERS, TAU_SCENES, corrupt_file, write_audio_file

REPO = Path(__file__).resolve().parents[2]


def build_and_adapt(name: str, tmp_path: Path, **opts):
    src = BUILDERS[name](tmp_path / "src" / name)
    out = tmp_path / "out"
    return src, out, adapt(name, src, out, **opts)


def rows_of(out: Path, manifest: str) -> list[dict]:
    return read_manifest(out / manifest, NOISE_COLUMNS if manifest.startswith("noise") else TASK_COLUMNS)


def by(rows: list[dict], key: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["split"], set()).add(r[key])
    return out


# --- the contract every adapter keeps ------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_manifests_point_at_readable_originals(name, tmp_path):
    src, out, result = build_and_adapt(name, tmp_path)
    assert result and all(p.parent == out.resolve() and p.exists() for p in result)
    assert result.skipped == []
    for manifest in result:
        noise = manifest.name.startswith("noise")
        rows = rows_of(out, manifest.name)
        assert sum(result.counts[manifest.name].values()) == len(rows) > 0
        assert {r["corpus"] for r in rows} == {name}
        assert {r["split"] for r in rows} >= ({"train", "val", "test_seen"} if noise else {"train", "val", "test"})
        assert {r["split"] for r in rows} <= set(NOISE_SPLITS if noise else ("train", "val", "test"))
        if not noise:
            assert {r["kind"] for r in rows} == {"real"}
        check_disjoint(rows, splits=NOISE_SPLITS if noise else ("train", "val", "test"))
        raw = manifest.read_text().splitlines()[1:]
        assert all(Path(line.split(",")[0]).is_absolute() for line in raw)  # stored absolute, not relative
        for r in rows:
            p = Path(r["path"])
            assert p.is_file()
            # originals are referenced in place; only Speech Commands writes (silence) clips, under out/
            assert p.is_relative_to(src.resolve()) or (name == "speechcommands" and p.is_relative_to(out / "silence"))
            assert r["duration"] == pytest.approx(sf.info(str(p)).duration, abs=1e-4)
        for r in [r for s in NOISE_SPLITS + ("test",) for r in [x for x in rows if x["split"] == s][:2]]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rate conversion notices for 44.1/48 kHz corpora
                wave = load_audio(r["path"])
            assert wave.ndim == 1 and wave.dtype == np.float32
            assert abs(len(wave) - r["duration"] * 16_000) <= 2


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_same_input_gives_same_bytes(name, tmp_path):
    src, out, first = build_and_adapt(name, tmp_path)
    before = {p: p.read_bytes() for p in [*first, *sorted(out.glob("silence/*/*.wav"))]}
    second = adapt(name, src, out)
    assert list(second) == list(first)
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(out.glob("silence/*/*.wav")) == sorted(p for p in before if p.suffix == ".wav")


def test_registry_and_unknown_name(tmp_path):
    assert set(ADAPTERS) == {"speechcommands", "librispeech", "ravdess", "cremad", "emodb", "tau2020mobile",
                             "demand", "musan", "esc50"}
    with pytest.raises(ValueError, match="unknown adapter 'timit'.*speechcommands"):
        adapt("timit", tmp_path, tmp_path / "out")


@pytest.mark.parametrize("n, fracs, expected", [
    (24, (0.15, 0.15), (16, 4, 4)), (10, (0.15, 0.15), (6, 2, 2)), (6, (0.15, 0.15), (4, 1, 1)),
    (3, (1 / 3, 1 / 3), (1, 1, 1)), (2, (0.15, 0.15), (1, 0, 1)), (1, (0.15, 0.15), (1, 0, 0)),
    (5, (0.2, 0.0), (4, 1, 0)),
])
def test_split_counts(n, fracs, expected):
    assert split_counts(n, *fracs) == expected


# --- Speech Commands ---------------------------------------------------------------------------
def test_speechcommands_labels_splits_silence_and_noise(tmp_path):
    src, out, result = build_and_adapt("speechcommands", tmp_path)
    kws = rows_of(out, "kws.csv")
    words = [r for r in kws if r["label"] != "_silence_"]
    assert {r["label"] for r in kws} == {"yes", "no", "up", "_unknown_", "_silence_"}
    assert by(words, "source") == {"train": set(SC_SPEAKERS[:4]), "val": {SC_SPEAKERS[4]}, "test": {SC_SPEAKERS[5]}}
    count = {s: sum(r["split"] == s and r["label"] == lab for r in kws)
             for lab in ("_unknown_", "_silence_") for s in ("train", "val", "test")}
    # recipe: ceil(10 % of the split's 12 / 3 / 3 core-word rows), for unknown and for silence
    assert count == {"train": 2, "val": 1, "test": 1}
    assert sum(r["label"] == "_unknown_" for r in kws) == 4 and sum(r["label"] == "_silence_" for r in kws) == 4
    assert any("not on disk" in n for n in result.notes)  # the list names one file that is missing

    noise = rows_of(out, "noise.csv")
    assert {(r["source"], r["type"]) for r in noise if r["split"] == "test_unseen"} == \
        {("white_noise", "white"), ("pink_noise", "pink")}
    seen = [r for r in noise if r["split"] != "test_unseen"]
    assert {r["type"] for r in seen} == {"background"}
    assert sorted(len(v) for v in by(seen, "source").values()) == [1, 1, 2]
    # silence clips come from the background files of the same split (never from white/pink noise)
    noise_split = {r["source"]: r["split"] for r in noise}
    for r in (r for r in kws if r["label"] == "_silence_"):
        assert noise_split[r["source"]] == {"test": "test_seen"}.get(r["split"], r["split"])
        info = sf.info(r["path"])
        assert Path(r["path"]).parent == out.resolve() / "silence" / r["split"]
        assert (info.samplerate, info.frames, info.channels) == (16_000, 16_000, 1)


def test_speechcommands_options(tmp_path):
    src, out, _ = build_and_adapt("speechcommands", tmp_path, all_words=True, silence_percent=0, noise=False)
    kws = rows_of(out, "kws.csv")
    assert {r["label"] for r in kws} == {"yes", "no", "up", "bed", "wow"}
    assert len(kws) == 5 * 6 and not (out / "noise.csv").exists() and not (out / "silence").exists()
    adapt("speechcommands", src, out, unknown_percent="all", silence_percent=0)
    assert sum(r["label"] == "_unknown_" for r in rows_of(out, "kws.csv")) == 2 * 6


# --- LibriSpeech --------------------------------------------------------------------------------
def test_librispeech_subsets_transcripts_and_max_seconds(tmp_path):
    src, out, _ = build_and_adapt("librispeech", tmp_path, max_seconds=1.0)
    rows = rows_of(out, "asr.csv")
    assert by(rows, "source") == {"train": {"19", "26"}, "val": {"84"}, "test": {"121"}}
    assert len(rows) == 4 * 2 and max(r["duration"] for r in rows) < 1.0  # the 1.2-s utterances are dropped
    r = next(r for r in rows if r["path"].endswith("19-198-0001.flac"))
    assert r["label"] == "chapter 1 of the book's end"


def test_librispeech_single_subset(tmp_path):
    src = BUILDERS["librispeech"](tmp_path / "LibriSpeech")
    adapt("librispeech", src / "dev-clean", tmp_path / "a")
    assert {r["split"] for r in rows_of(tmp_path / "a", "asr.csv")} == {"val"}
    (src / "test-clean").rename(src / "my-subset")
    with pytest.raises(ManifestError, match="not a standard subset name; pass --split"):
        adapt("librispeech", src / "my-subset", tmp_path / "b")
    adapt("librispeech", src / "my-subset", tmp_path / "b", split="test")
    assert {r["split"] for r in rows_of(tmp_path / "b", "asr.csv")} == {"test"}
    with pytest.raises(ManifestError, match="--split is for a single subset folder"):
        adapt("librispeech", src, tmp_path / "c", split="train")


# --- Emotion ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, example, label", [
    ("ravdess", "03-01-05-01-01-01-01.wav", "angry"), ("cremad", "1001_DFA_HAP_XX.wav", "happy"),
    ("emodb", "03a01Ta.wav", "sad"),
])
def test_emotion_four_class_and_speaker_split(name, example, label, tmp_path):
    src, out, _ = build_and_adapt(name, tmp_path)
    rows = rows_of(out, "ser.csv")
    assert {r["label"] for r in rows} == set(FOUR_CLASSES)
    assert next(r["label"] for r in rows if r["path"].endswith(example)) == label
    speakers = by(rows, "source")
    assert [len(speakers[s]) for s in ("train", "val", "test")] == [4, 1, 1]  # 6 speakers, 70/15/15
    full = adapt(name, src, tmp_path / "all", four_class=False)
    labels = {r["label"] for r in rows_of(tmp_path / "all", "ser.csv")}
    assert labels > set(FOUR_CLASSES) and sum(full.counts["ser.csv"].values()) > len(rows)


def test_emotion_split_depends_on_seed_only(tmp_path):
    src = BUILDERS["emodb"](tmp_path / "emodb")
    tests = set()
    for seed in range(6):
        adapt("emodb", src, tmp_path / "out", seed=seed)
        tests.add(frozenset(by(rows_of(tmp_path / "out", "ser.csv"), "source")["test"]))
    assert len(tests) > 1


def test_ravdess_calm_song_and_duplicates(tmp_path):
    BUILDERS["ravdess"](tmp_path / "ravdess" / "Audio_Speech_Actors_01-24")
    write_audio_file(tmp_path / "ravdess" / "Audio_Song_Actors_01-24" / "Actor_01" / "03-02-03-01-01-01-01.wav", 48_000)
    write_audio_file(tmp_path / "ravdess" / "Actor_01" / "03-01-03-01-01-01-01.wav", 48_000)  # a duplicate name
    write_audio_file(tmp_path / "ravdess" / "Actor_01" / "01-01-03-01-01-01-01.wav", 48_000)  # audio-visual
    root = tmp_path / "ravdess"
    res = adapt("ravdess", root, tmp_path / "a")
    rows = rows_of(tmp_path / "a", "ser.csv")
    assert len(rows) == 6 * 4 * 2 and not any("-02-03-01" in r["path"] for r in rows)
    assert any("duplicate" in n for n in res.notes) and any("not audio-only" in n for n in res.notes)
    adapt("ravdess", root, tmp_path / "b", calm_as_neutral=True, include_song=True)
    rows = rows_of(tmp_path / "b", "ser.csv")
    assert sum(r["label"] == "neutral" for r in rows) == 6 * 2 * 2 and len(rows) == 6 * 5 * 2 + 1


def test_emotion_corpora_merge_into_one_ser_manifest(tmp_path):
    out = tmp_path / "out"
    adapt("ravdess", BUILDERS["ravdess"](tmp_path / "r"), out)
    with pytest.raises(ManifestError, match=r"already holds rows of corpus \['ravdess'\]; pass --merge"):
        adapt("cremad", BUILDERS["cremad"](tmp_path / "c"), out)
    adapt("cremad", tmp_path / "c", out, merge=True)
    rows = rows_of(out, "ser.csv")
    assert {r["corpus"] for r in rows} == {"ravdess", "cremad"} and len(rows) == 96
    check_disjoint(rows)
    adapt("cremad", tmp_path / "c", out, merge=True)  # merging again replaces the same paths
    assert len(rows_of(out, "ser.csv")) == 96
    adapt("cremad", tmp_path / "c", out, overwrite=True)
    assert {r["corpus"] for r in rows_of(out, "ser.csv")} == {"cremad"}


# --- TAU scenes ---------------------------------------------------------------------------------
def test_tau_folds_and_location_holdout(tmp_path):
    src, out, _ = build_and_adapt("tau2020mobile", tmp_path)
    rows = rows_of(out, "asc.csv")
    assert {r["label"] for r in rows} == set(TAU_SCENES)
    locs = by(rows, "source")
    assert locs["test"] == {f"{city}-{k * 10 + 3}" for k, city in enumerate(TAU_SCENES.values())}
    assert len(locs["val"]) == 3 and len(locs["train"]) == 6  # one of three train locations per scene
    assert {r["label"] for r in rows if r["split"] == "val"} == set(TAU_SCENES)
    assert not any("-999-" in r["path"] for r in rows)  # in meta.csv but in neither fold list
    adapt("tau2020mobile", src, out, devices="a")
    assert all(r["path"].endswith("-a.wav") for r in rows_of(out, "asc.csv"))


# --- Noise corpora ------------------------------------------------------------------------------
def test_demand_categories_as_types(tmp_path):
    src, out, _ = build_and_adapt("demand", tmp_path)
    rows = rows_of(out, "noise.csv")
    assert all(r["path"].endswith("ch01.wav") for r in rows) and len(rows) == len(DEMAND_ENVS)
    assert by(rows, "source")["test_unseen"] == {"TBUS", "TCAR", "TMETRO"}
    for split in ("train", "val", "test_seen"):  # one environment of each seen category per split
        assert sorted(r["type"] for r in rows if r["split"] == split) == \
            ["domestic", "nature", "office", "public", "street"]
    adapt("demand", src, out, unseen_types="street,office", channel=2)
    rows = rows_of(out, "noise.csv")
    assert all(r["path"].endswith("ch02.wav") for r in rows)
    assert by(rows, "type")["test_unseen"] == {"street", "office"}
    with pytest.raises(ManifestError, match=r"unknown type\(s\) in --unseen-types \['kitchen'\].*domestic"):
        adapt("demand", src, out, unseen_types="kitchen")


def test_musan_types_and_asc_interferers(tmp_path):
    src, out, _ = build_and_adapt("musan", tmp_path)
    rows = rows_of(out, "noise.csv")
    assert by(rows, "type") == {"train": {"noise", "babble"}, "val": {"noise", "babble"},
                                "test_seen": {"noise", "babble"}, "test_unseen": {"music"}}
    assert all("/speech/" in r["path"] for r in rows if r["type"] == "babble")
    assert sum(r["split"] == "train" for r in rows if r["type"] == "noise") == 8  # 10 files: 8 / 1 / 1
    adapt("musan", src, out, types="babble", unseen_types="none", manifest="noise_asc.csv")
    asc = rows_of(out, "noise_asc.csv")
    assert {r["type"] for r in asc} == {"babble"} and len(asc) == 10
    assert "test_unseen" not in {r["split"] for r in asc}


def test_esc50_folds_and_unseen_categories(tmp_path):
    src, out, _ = build_and_adapt("esc50", tmp_path)
    rows = rows_of(out, "noise.csv")
    assert by(rows, "type")["test_unseen"] == {"siren", "car_horn"}  # the exterior/urban group present
    fold_split = {"1": "train", "2": "train", "3": "train", "4": "val", "5": "test_seen"}
    for r in rows:
        if r["split"] != "test_unseen":
            assert r["split"] == fold_split[Path(r["path"]).name[0]]
    assert sum(r["split"] == "test_unseen" for r in rows) == 2 * 5  # all folds of unseen types
    dog = [r for r in rows if r["type"] == "dog"]  # two takes of one recording: same source, same split
    assert len(dog) == 10 and len({r["source"] for r in dog}) == len({(r["source"], r["split"]) for r in dog}) == 5
    with pytest.raises(ManifestError, match=r"unknown type\(s\) in --unseen-types \['sirens'\]"):
        adapt("esc50", src, out, unseen_types="sirens")


# --- broken trees and bad files -----------------------------------------------------------------
def _rm(rel):
    return lambda root: (root / rel).unlink()


def _empty(root: Path) -> None:
    import shutil

    shutil.rmtree(root)
    root.mkdir()


def _lfs_pointers(root: Path) -> None:
    for f in (root / "AudioWAV").glob("*.wav"):
        f.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")


def _comma_meta(root: Path) -> None:
    (root / "meta.csv").write_text((root / "meta.csv").read_text().replace("\t", ","))


@pytest.mark.parametrize("name, break_tree, fragments", [
    ("speechcommands", _rm("testing_list.txt"),
     ["expected validation_list.txt and testing_list.txt in", "speech_commands_v0.02"]),
    ("speechcommands", lambda r: [p.unlink() for p in (r / "_background_noise_").glob("*.wav")],
     ["expected _background_noise_/", "--silence-percent 0 --no-noise"]),
    ("librispeech", _empty, ["expected subset folders (train-clean-100/", "trans.txt"]),
    ("ravdess", _empty, ["expected Actor_01/", "03-01-EE-II-SS-RR-AA.wav"]),
    ("cremad", _lfs_pointers, ["none of the 72 audio file(s) could be used", "git lfs pull"]),
    ("emodb", _empty, ["expected wav/*.wav files (e.g. wav/03a01Fa.wav)"]),
    ("tau2020mobile", _rm("meta.csv"), ["expected meta.csv in", "TAU-urban-acoustic-scenes-2020-mobile-development"]),
    ("tau2020mobile", _rm("evaluation_setup/fold1_evaluate.csv"), ["evaluation_setup/fold1_evaluate.csv"]),
    ("tau2020mobile", _comma_meta, ["lacks the tab-separated columns", "meta.csv"]),
    ("demand", _empty, ["expected environment folders (DKITCHEN/", "ch01.wav"]),
    ("musan", _empty, ["expected noise/free-sound/*.wav", "extracted musan folder"]),
    ("esc50", _rm("meta/esc50.csv"), ["expected meta/esc50.csv and audio/*.wav", "ESC-50-master"]),
])
def test_broken_tree_gives_clear_error(name, break_tree, fragments, tmp_path):
    src = BUILDERS[name](tmp_path / name)
    break_tree(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AdapterWarning)
        with pytest.raises(ManifestError) as err:
            adapt(name, src, tmp_path / "out")
    for fragment in fragments:
        assert fragment in str(err.value)
    if name != "cremad":
        assert str(src.resolve()) in str(err.value)  # says WHERE
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.csv"))


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_wrong_path_is_file_not_found(name, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nowhere'} does not exist"):
        adapt(name, tmp_path / "nowhere", tmp_path / "out")


@pytest.mark.parametrize("name, rel", [
    ("speechcommands", "yes/0a2b400e_nohash_0.wav"), ("librispeech", "train-clean-100/19/198/19-198-0000.flac"),
    ("ravdess", "Actor_02/03-01-04-01-01-01-02.wav"), ("tau2020mobile", "audio/bus-helsinki-11-110-a.wav"),
    ("musan", "noise/free-sound/noise-free-sound-0002.wav"), ("esc50", "audio/2-100002-A-0.wav"),
])
@pytest.mark.parametrize("damage", ["corrupt", "empty"])
def test_bad_file_is_skipped_with_warning(name, rel, damage, tmp_path):
    src = BUILDERS[name](tmp_path / name)
    bad = src / rel
    if damage == "corrupt":
        corrupt_file(bad)
    else:
        sf.write(str(bad), np.zeros(0, np.float32), 16_000)
    with pytest.warns(AdapterWarning, match=f"skipping .*{Path(rel).name}"):
        result = adapt(name, src, tmp_path / "out")
    assert [Path(p).name for p, _ in result.skipped] == [bad.name]
    reason = result.skipped[0][1]
    if damage == "corrupt" or bad.suffix == ".flac":  # libsndfile cannot open a FLAC stream with no frames
        assert reason.startswith("unreadable audio") and bad.name in reason
    else:
        assert reason == "holds no samples"
    assert "skipped 1 file(s)" in result.summary()
    rows = rows_of(tmp_path / "out", result[0].name)
    assert rows and str(bad.resolve()) not in {r["path"] for r in rows}


def test_task_and_noise_manifests_combine_in_one_folder(tmp_path):
    from aelib.config import Config
    from aelib.data import load_manifests

    out = tmp_path / "data"
    adapt("speechcommands", BUILDERS["speechcommands"](tmp_path / "sc"), out)
    demand = BUILDERS["demand"](tmp_path / "demand")
    with pytest.raises(ManifestError, match="noise.csv already holds rows of corpus .'speechcommands'.*--overwrite"):
        adapt("demand", demand, out)
    adapt("demand", demand, out, merge=True)
    rows, noise = load_manifests(Config(data_dir=str(out), preset="smoke"), "kws", "noise")
    assert {r["corpus"] for r in noise} == {"speechcommands", "demand"}
    assert {r["split"] for r in noise} == set(NOISE_SPLITS) and {r["corpus"] for r in rows} == {"speechcommands"}
    adapt("demand", demand, out, overwrite=True)
    assert {r["corpus"] for r in rows_of(out, "noise.csv")} == {"demand"}


# --- command line -------------------------------------------------------------------------------
def test_cli_in_process(tmp_path, capsys):
    src = BUILDERS["emodb"](tmp_path / "emodb")
    assert main(["emodb", str(src), "--out", str(tmp_path / "out"), "--quiet", "--all-classes",
                 "--val-frac", "0.2", "--test-frac", "0.2"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "ser.csv" in printed and "skipped 0 file(s)" in printed
    assert "bored" in {r["label"] for r in rows_of(tmp_path / "out", "ser.csv")}
    assert main(["emodb", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "error: EmoDB: the dataset folder" in capsys.readouterr().err


def test_cli_module_entry_point(tmp_path):
    src = BUILDERS["esc50"](tmp_path / "ESC-50-master")
    proc = subprocess.run([sys.executable, "-m", "aelib.corpora.adapters", "esc50", str(src), "--out",
                           str(tmp_path / "out"), "--unseen-types", "siren", "--quiet"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "unseen types (test_unseen): ['siren']" in proc.stdout
    assert by(rows_of(tmp_path / "out", "noise.csv"), "type")["test_unseen"] == {"siren"}
