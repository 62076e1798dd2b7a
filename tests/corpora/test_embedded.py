"""The embedded corpus builder: splits, clip formats, held-out combinations, determinism, caching, errors."""
from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aelib.corpora import embedded, scenes, sources, speech, tts
from aelib.corpora.__main__ import main as cli
from aelib.corpora.manifest import NOISE_COLUMNS, NOISE_SPLITS, SPLITS, TASK_COLUMNS, check_disjoint, read_manifest
from aelib.corpora.ser_proxy import SER_LABELS, trivial_cue_check

TASK_MANIFESTS = ("kws", "asr", "ser", "asc")
NOISE_MANIFESTS = ("noise", "noise_asc")


def _tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root except build_info.json (it holds wall-clock timings)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build_info.json"
    }


@pytest.fixture(scope="module")
def second_build(tmp_path_factory) -> Path:
    """A second, independent clean smoke build (same seed) for the determinism check."""
    return embedded.build_corpus(tmp_path_factory.mktemp("again") / "smoke", size="smoke", seed=0, progress=False)


@pytest.fixture(scope="module")
def resumed_build(tmp_path_factory):
    """A smoke build interrupted by an exception in the asr stage, then rerun to completion.

    Returns (root, what the root held right after the interruption).
    """
    root = tmp_path_factory.mktemp("interrupted") / "smoke"
    mp = pytest.MonkeyPatch()

    def boom(*args, **kwargs):
        raise RuntimeError("injected failure in the asr stage")

    mp.setattr(speech, "build_asr", boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        embedded.build_corpus(root, size="smoke", seed=0, progress=False)
    mp.undo()
    after_crash = dict(
        files={p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()},
        stages=sorted(p.stem for p in (root / ".stages").glob("*.json")),
    )
    embedded.build_corpus(root, size="smoke", seed=0, progress=False)
    return root, after_crash


# --- manifests and formats ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", TASK_MANIFESTS + NOISE_MANIFESTS)
def test_manifest_columns_files_and_format(smoke_corpus, name):
    columns = NOISE_COLUMNS if name in NOISE_MANIFESTS else TASK_COLUMNS
    with open(smoke_corpus / f"{name}.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == columns
    rows = read_manifest(smoke_corpus / f"{name}.csv", columns)
    assert rows, f"{name}.csv is empty"
    for r in rows:
        info = sf.info(r["path"])
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), r["path"]
        assert abs(info.frames / 16000 - r["duration"]) < 1e-3
        assert r["corpus"] == "embedded"
    assert {r["split"] for r in rows} == set(NOISE_SPLITS if name in NOISE_MANIFESTS else SPLITS)


@pytest.mark.parametrize("name", TASK_MANIFESTS + NOISE_MANIFESTS)
def test_splits_disjoint_by_voice_or_source(smoke_corpus, name):
    rows = read_manifest(smoke_corpus / f"{name}.csv")
    check_disjoint(rows, "source", NOISE_SPLITS if name in NOISE_MANIFESTS else SPLITS)


def test_voice_inventory_disjoint_by_base_voice():
    seen = {}
    for split in tts.SPLITS:
        esp, other = tts.voices(split)
        for v in esp + other:
            assert seen.setdefault(v.base, split) == split, f"{v.base} in {seen[v.base]} and {split}"
    # the same speaker on two engines is one base voice
    bases = {(v.engine, v.name): v.base for s in tts.SPLITS for v in sum(tts.voices(s), [])}
    assert bases[("flite", "slt")] == bases[("festival", "cmu_us_slt_arctic_hts")]
    assert bases[("flite", "kal16")] == bases[("flite", "kal")]
    # espeak accents and variants do not cross splits either
    for table in (tts.ESPEAK_ACCENTS, tts.ESPEAK_VARIANTS):
        for a in tts.SPLITS:
            for b in tts.SPLITS:
                if a < b:
                    assert not set(table[a]) & set(table[b])


def test_kws_clips_are_one_second_with_all_labels(smoke_corpus):
    rows = read_manifest(smoke_corpus / "kws.csv")
    for r in rows:
        assert sf.info(r["path"]).frames == 16000, r["path"]
    for split in SPLITS:
        synth = {r["label"] for r in rows if r["split"] == split and r["kind"] == "synthetic"}
        assert synth == set(speech.KWS_LABELS)
    real = [r for r in rows if r["kind"] == "real"]
    assert real and {r["split"] for r in real} == {"test"}
    assert set(speech.KWS_CORE[10:]) | {"no"} <= {r["label"] for r in real}
    assert {r["label"] for r in real} <= set(speech.KWS_CORE) | {speech.UNKNOWN}
    assert len(speech.KWS_CORE) == 20 and len(set(speech.KWS_CORE) & set(speech.KWS_UNKNOWN_WORDS)) == 0


def test_kws_silence_comes_from_matching_noise_split(smoke_corpus):
    kws = read_manifest(smoke_corpus / "kws.csv")
    noise = {r["source"]: r["split"] for r in read_manifest(smoke_corpus / "noise.csv")}
    for r in kws:
        if r["label"] == speech.SILENCE:
            assert noise[r["source"]] == {"test": "test_seen"}.get(r["split"], r["split"])


def test_label_sets_of_ser_asc_asr(smoke_corpus):
    ser = read_manifest(smoke_corpus / "ser.csv")
    for split in SPLITS:
        assert {r["label"] for r in ser if r["split"] == split} == set(SER_LABELS)
    assert len({r["duration"] for r in ser}) == 1, "ser clips must all have the same length"
    asc = read_manifest(smoke_corpus / "asc.csv")
    for split in SPLITS:
        assert len({r["label"] for r in asc if r["split"] == split}) >= 6
    assert {r["kind"] for r in asc} == {"real"} and {r["duration"] for r in asc} == {4.0}
    asr = read_manifest(smoke_corpus / "asr.csv")
    for r in asr:
        assert re.fullmatch(r"[a-z']+( [a-z']+)*", r["label"]), r["label"]
    assert {r["split"] for r in asr if r["kind"] == "real"} == {"test"}


# --- asr held-out word combinations --------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_asr_partition_holds_out_combinations(seed):
    parts = speech.asr_partition(seed)
    train = {f for _, f in parts["train"]}
    vocab = {w for f in train for w in f.split()}
    for split in ("val", "test"):
        assert parts[split]
        assert not {f for _, f in parts[split]} & train
        assert {w for _, f in parts[split] for w in f.split()} <= vocab
    assert not {f for _, f in parts["val"]} & {f for _, f in parts["test"]}
    assert 100 <= len(speech.asr_vocabulary()) <= 200


def test_asr_test_sentences_unseen_in_training(smoke_corpus):
    rows = [r for r in read_manifest(smoke_corpus / "asr.csv") if r["kind"] == "synthetic"]
    train = {speech.sentence_frame(r["label"]) for r in rows if r["split"] == "train"}
    train_words = {w for r in rows if r["split"] == "train" for w in r["label"].split()}
    for split in ("val", "test"):
        held = [r["label"] for r in rows if r["split"] == split]
        assert held and not {speech.sentence_frame(s) for s in held} & train
    assert speech.sentence_frame("set an alarm for seven three") == "set an alarm for #"
    assert speech.sentence_frame("turn the volume up by two") == "turn the volume up by #"
    assert train_words, "training transcripts are empty"


# --- noise banks ---------------------------------------------------------------------------------------


def test_noise_bank_seen_and_unseen_types(smoke_corpus):
    rows = read_manifest(smoke_corpus / "noise.csv")
    types = {s: {r["type"] for r in rows if r["split"] == s} for s in NOISE_SPLITS}
    assert len(types["train"]) >= 6 and "machinery" in types["train"] and "machinery" in types["test_seen"]
    assert types["val"] <= types["train"] and types["test_seen"] <= types["train"]
    assert {"babble", "music"} <= types["test_unseen"] and not types["test_unseen"] & types["train"]
    assert max(r["duration"] for r in rows) <= 30.0 + 1e-6
    asc_noise = read_manifest(smoke_corpus / "noise_asc.csv")
    assert {r["type"] for r in asc_noise if r["split"] == "test_unseen"} == {"real_speech"}
    voices = tts.all_voices()
    for r in asc_noise:
        if r["split"] != "test_unseen":
            assert r["source"] in voices[{"test_seen": "test"}.get(r["split"], r["split"])]


def test_file_allocation_gives_every_split_a_file():
    alloc = scenes._allocate_files({"a": 33.5, "b": 17.7, "c": 17.6})
    assert set(alloc.values()) == {"train", "val", "test"}
    alloc = scenes._allocate_files({f"f{i}": float(10 - i) for i in range(9)})
    assert sorted(alloc.values()).count("train") >= 5 and set(alloc.values()) == {"train", "val", "test"}


# --- the SER trivial-cue check -------------------------------------------------------------------------


def test_ser_trivial_cues_near_chance(smoke_corpus):
    res = trivial_cue_check(smoke_corpus)
    assert res["n_test"] >= 40 and res["chance"] == 0.25
    assert res["ok"] and res["accuracy"] <= res["chance"] + 0.10, res


def test_trivial_cue_check_detects_a_length_cue(tmp_path):
    """The check is not vacuous: when clip length gives the label away it reports a high accuracy."""
    gen = np.random.default_rng(0)
    rows = []
    for split, n in (("train", 12), ("test", 6)):
        for c, label in enumerate(SER_LABELS):
            for i in range(n):
                wave = 0.1 * gen.standard_normal(int((0.5 + 0.5 * c) * 16000)).astype(np.float32)
                rel = f"{split}_{label}_{i}.wav"
                sf.write(tmp_path / rel, wave, 16000, subtype="PCM_16")
                rows.append(dict(path=rel, split=split, label=label, source=f"v{split}", kind="synthetic",
                                 duration=len(wave) / 16000, corpus="embedded"))
    from aelib.corpora.manifest import write_manifest

    write_manifest(tmp_path / "ser.csv", rows, TASK_COLUMNS)
    res = trivial_cue_check(tmp_path)
    assert res["accuracy"] > 0.9 and not res["ok"]


# --- determinism, caching, interruption -----------------------------------------------------------------


def test_same_seed_same_bytes(smoke_corpus, second_build):
    a, b = _tree_hashes(smoke_corpus), _tree_hashes(second_build)
    assert len(a) > 100 and a == b


def test_interrupted_build_leaves_no_trusted_corpus_and_resumes(smoke_corpus, resumed_build):
    root, after_crash = resumed_build
    assert "build_info.json" not in after_crash["files"]
    assert not any(f.endswith(".csv") for f in after_crash["files"]), "no manifest may survive a crash"
    assert after_crash["stages"] == ["asc", "kws", "noise"]  # finished stages are kept for the rerun
    assert embedded.is_built(root, "smoke", 0)
    assert not (root / ".stages").exists() and not (root / embedded.MARKER).exists()
    assert _tree_hashes(root) == _tree_hashes(smoke_corpus)  # resumed == uninterrupted, byte for byte


def test_second_build_reuses_and_touches_nothing(second_build, monkeypatch):
    before = {p: p.stat().st_mtime_ns for p in second_build.rglob("*")}

    def no_synthesis(*args, **kwargs):
        raise AssertionError("a finished corpus must not be rebuilt")

    monkeypatch.setattr(tts, "run_jobs", no_synthesis)
    monkeypatch.setattr(embedded._Builder, "run", no_synthesis)
    assert embedded.build_corpus(second_build, size="smoke", seed=0, progress=False) == second_build
    assert cli(["build", "--size", "smoke", "--out", str(second_build), "--quiet"]) == 0
    assert {p: p.stat().st_mtime_ns for p in second_build.rglob("*")} == before


def test_other_seed_on_a_finished_root_is_refused(second_build):
    with pytest.raises(embedded.BuildError, match="--force"):
        embedded.build_corpus(second_build, size="smoke", seed=1, progress=False)


def test_older_builder_version_is_rebuilt(tmp_path, monkeypatch):
    """A root from an older builder version (same size and seed) is ours and stale: rebuilt, not refused."""
    root = tmp_path / "old"
    root.mkdir()
    (root / "build_info.json").write_text(json.dumps(dict(corpus="embedded", size="smoke", seed=0,
                                                          version=embedded.BUILDER_VERSION - 1)))
    calls = []
    monkeypatch.setattr(embedded, "_clean", lambda r: calls.append(("clean", r)))
    monkeypatch.setattr(embedded._Builder, "run", lambda self: (_ for _ in ()).throw(RuntimeError("stop here")))
    with pytest.warns(UserWarning, match="rebuilding"), pytest.raises(RuntimeError, match="stop here"):
        embedded.build_corpus(root, size="smoke", seed=0, progress=False)
    assert calls == [("clean", root.resolve())]


def test_foreign_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "noise").mkdir()
    (tmp_path / "noise" / "mine.txt").write_text("not the builder's")
    with pytest.raises(embedded.BuildError, match="not empty"):
        embedded.build_corpus(tmp_path, size="smoke", progress=False)
    assert (tmp_path / "noise" / "mine.txt").exists()


# --- clear errors for a missing tool or package ---------------------------------------------------------


def test_missing_tool_gives_one_clear_error(tmp_path, monkeypatch):
    real_which = sources.shutil.which
    monkeypatch.setattr(sources.shutil, "which", lambda name: None if name == "festival" else real_which(name))
    with pytest.raises(sources.SourceError) as err:
        embedded.build_corpus(tmp_path / "c", size="smoke", progress=False)
    msg = str(err.value)
    assert "festival" in msg and "sudo apt-get install -y festival" in msg
    assert not (tmp_path / "c").exists(), "nothing may be written before the tools are checked"


def test_missing_tool_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng, flite, festival here
    with pytest.raises(sources.SourceError, match="espeak-ng.*sudo apt-get install -y espeak-ng"):
        tts.check_engines()


def test_failed_package_download_names_package_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("AELIB_CACHE", str(tmp_path))
    monkeypatch.setattr(sources.shutil, "which", lambda name: f"/usr/bin/{name}")
    failed = subprocess.CompletedProcess(["apt-get"], 100, "", "E: Unable to locate package ufoai-sound")
    monkeypatch.setattr(sources, "_run", lambda cmd, cwd=None: failed)
    with pytest.raises(sources.SourceError, match="ufoai-sound.*sudo apt-get update"):
        sources.package_root("ufoai-sound")


def test_corrupt_or_silent_source_is_skipped_with_a_warning_naming_it():
    with pytest.warns(UserWarning, match="pkg:broken.wav.*cannot decode"):
        assert sources._decode(b"not a wav file", "pkg:broken.wav") is None
    import io

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000, np.float32), 16000, format="WAV", subtype="PCM_16")
    with pytest.warns(UserWarning, match="pkg:quiet.wav.*silent"):
        assert sources._decode(buf.getvalue(), "pkg:quiet.wav") is None


# --- command line ---------------------------------------------------------------------------------------


def test_summary_prints_counts_and_cue_check(smoke_corpus, capsys):
    assert cli(["summary", str(smoke_corpus)]) == 0
    out = capsys.readouterr().out
    for word in ("kws", "asr", "ser", "asc", "noise_asc", "test_unseen", "trivial-cue", "base voices"):
        assert word in out
