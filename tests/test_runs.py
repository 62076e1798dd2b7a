"""Every paradigm trains and evaluates on every task (fake micro-corpus), writes its files, loads back."""
import csv
import json

import numpy as np
import pytest
import torch

import aelib
from aelib.config import PARADIGMS, TASKS, make_config
from aelib.runs import RunExistsError, execute, load_run

from .fake_corpus import make_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_corpus(tmp_path_factory.mktemp("fake"))


@pytest.fixture(scope="module")
def run_root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("paradigm", PARADIGMS)
def test_every_run_writes_its_files_and_loads(task, paradigm, fake_root, run_root):
    cfg = make_config("smoke", task=task, paradigm=paradigm, data_dir=str(fake_root), run_root=str(run_root),
                      test_snrs=(0.0,), eval_pesq=task == "kws")
    m = execute(cfg, progress=False)
    d = cfg.run_dir
    for f in ("params.json", "history.json", "metrics.json", "predictions.csv", "checkpoints/best.th"):
        assert (d / f).exists(), f
    assert (d / "importance.json").exists() == (paradigm == "iterative")
    cells = {(c["kind"], c["noise_split"], str(c["snr"])) for c in m["cells"]}
    assert ("synthetic", "clean", "clean") in cells and ("real", "test_unseen", "0.0") in cells
    primary = m["primary_metric"]
    assert all(np.isfinite(c[primary]) for c in m["cells"])
    if paradigm in ("cascade", "joint", "iterative"):
        noisy = [c for c in m["cells"] if c["noise_split"] != "clean"]
        assert all("sisdr" in c and "input_sisdr" in c and "stoi" in c for c in noisy)
    pipe = aelib.load_run(d)
    assert (pipe.task, pipe.paradigm) == (task, paradigm)
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    out = pipe.enhance(wave, 16000)
    assert out.shape == wave.shape
    if paradigm in ("clean", "noisy"):
        assert np.array_equal(out, wave)
    assert isinstance(pipe.predict(wave, 16000), str)
    # 8 kHz stereo input is resampled and mixed down
    assert isinstance(pipe.predict(np.stack([wave[:8000], wave[:8000]], 1), 8000), str)


def test_finished_run_is_skipped_and_never_overwritten(fake_root, tmp_path):
    cfg = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(fake_root), run_root=str(tmp_path),
                      test_snrs=(0.0,))
    first = execute(cfg, progress=False)
    stamp = (cfg.run_dir / "metrics.json").stat().st_mtime_ns
    assert execute(cfg, progress=False) == first
    assert (cfg.run_dir / "metrics.json").stat().st_mtime_ns == stamp
    other = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(fake_root), run_root=str(tmp_path),
                        test_snrs=(0.0,), lr=0.5)
    with pytest.raises(RunExistsError, match=r"finished run made with other settings \(lr\)"):
        execute(other, progress=False)  # the finished run does not answer for lr=0.5
    (cfg.run_dir / "metrics.json").unlink()
    with pytest.raises(RunExistsError, match=r"unfinished run made with other settings \(lr\)"):
        execute(other, progress=False)


def test_a_run_that_failed_before_its_first_epoch_may_start_over(fake_root, tmp_path):
    """A folder with params.json alone holds no training: the same run with corrected settings starts over
    in it, where a folder with a checkpoint or history would be refused."""
    from aelib.runs import has_trained, prepare_run_dir

    cfg = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(fake_root), run_root=str(tmp_path),
                      test_snrs=(0.0,), lr=10.0)
    prepare_run_dir(cfg)  # what a run leaves that fails in its first step
    assert not has_trained(cfg.run_dir)
    fixed = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(fake_root), run_root=str(tmp_path),
                        test_snrs=(0.0,))
    execute(fixed, progress=False)
    assert json.loads((cfg.run_dir / "params.json").read_text())["config"]["lr"] == fixed.lr


def test_params_json_records_config_and_versions(fake_root, tmp_path):
    cfg = make_config("smoke", task="ser", paradigm="clean", data_dir=str(fake_root), run_root=str(tmp_path),
                      test_snrs=(0.0,))
    execute(cfg, progress=False)
    p = json.loads((cfg.run_dir / "params.json").read_text())
    assert p["config"]["task"] == "ser" and "torch" in p["versions"] and p["git_commit"]


def test_load_run_unfinished_is_clear(tmp_path):
    cfg = {"task": "kws", "paradigm": "joint", "preset": "smoke", "seed": 1, "study": "s1"}
    (tmp_path / "params.json").write_text(json.dumps({"config": cfg}))
    with pytest.raises(FileNotFoundError, match="not finished training: re-run .*--study s1"):
        load_run(tmp_path)


def test_long_asr_clips_are_dropped_not_cropped(fake_root):
    from aelib.data import load_data
    from aelib.tasks import get_task

    cfg = make_config("smoke", task="asr", data_dir=str(fake_root), clip_seconds=1.0)  # fake clips are 1.5 s
    with pytest.warns(UserWarning, match="dropped .* longer than"):
        with pytest.raises(Exception, match="no 'train' rows|empty"):
            load_data(cfg, get_task("asr"))
    cfg = make_config("smoke", task="asr", data_dir=str(fake_root), clip_seconds=2.0, speed_perturb=0.0)
    data = load_data(cfg, get_task("asr"))
    assert len(data.train_set()[0]["clean"]) == int(1.5 * 16000)
    # speed perturbation changes a transcribed clip's length but never crops it, even past clip_seconds
    cfg = make_config("smoke", task="asr", data_dir=str(fake_root), clip_seconds=1.5, speed_perturb=0.1)
    ds = load_data(cfg, get_task("asr")).train_set()
    lengths = {len(ds[i]["clean"]) for i in range(len(ds))}
    n = int(1.5 * 16000)
    assert all(n * 10 / 11 - 2 <= m <= n * 10 / 9 + 2 for m in lengths), lengths
    assert max(lengths) > n, "a slowed-down clip must keep its whole transcript"


def test_speed_perturbation_is_train_only_and_seeded(fake_root):
    from aelib.data import load_data
    from aelib.tasks import get_task

    cfg = make_config("smoke", task="kws", data_dir=str(fake_root), speed_perturb=0.1)
    data = load_data(cfg, get_task("kws"))
    tr = data.train_set(clean_only=True)
    a = [tr[i]["clean"] for i in range(len(tr))]
    b = [tr[i]["clean"] for i in range(len(tr))]
    assert all(torch.equal(x, y) for x, y in zip(a, b)), "same epoch, same draws"
    raw = [data.cache(r["path"]) for r in data.rows["train"]]
    assert any(not np.allclose(x.numpy()[: len(r)], r[: len(x)]) for x, r in zip(a, raw)), "some clips perturbed"
    va = data.val_set(clean_only=True)
    assert all(np.allclose(va[i]["clean"].numpy()[: len(r)], r[: len(va[i]["clean"])])
               for i, r in enumerate(data.cache(r["path"]) for r in data.rows["val"])), "validation is never perturbed"


def test_settings_diff_tolerates_a_new_knob_at_its_default():
    from aelib.config import Config
    from aelib.runs import settings_diff

    new = make_config("smoke", task="ser", paradigm="clean").to_dict()
    default = Config.__dataclass_fields__["gate_nonstationary"].default
    old = {k: v for k, v in new.items() if k != "gate_nonstationary"}  # a run made before the knob existed
    assert settings_diff(old, {**new, "gate_nonstationary": default}) == []
    assert settings_diff(old, {**new, "gate_nonstationary": not default}) == ["gate_nonstationary"]
    assert settings_diff(new, {**new, "lr": new["lr"] * 2}) == ["lr"]


def test_a_changed_corpus_is_never_mixed_into_a_run(tmp_path):
    """The corpus fingerprint in params.json: a finished run on a changed corpus is kept but does not answer
    for the new one, an unfinished one refuses to resume, and a shared stage is not loaded across corpora."""
    from aelib.data import corpus_fingerprint
    from aelib.tasks import get_task

    root = make_fake_corpus(tmp_path / "fake")
    cfg = make_config("smoke", task="kws", paradigm="cascade", data_dir=str(root), run_root=str(tmp_path / "runs"),
                      test_snrs=(0.0,), eval_pesq=False)
    before = corpus_fingerprint(cfg, get_task("kws"))
    execute(cfg, progress=False)
    params = json.loads((cfg.run_dir / "params.json").read_text())
    assert params["data_fingerprint"] == before
    shared = sorted(p.name for p in (tmp_path / "runs" / "_shared" / "kws" / "seed0").glob("*.th"))
    manifest = root / "kws.csv"
    manifest.write_text(manifest.read_text() + manifest.read_text().splitlines()[-1] + "\n")  # one row more
    assert corpus_fingerprint(cfg, get_task("kws")) != before
    with pytest.raises(RunExistsError, match="finished run trained on another version of the corpus"):
        execute(cfg, progress=False)  # finished: kept as it is, but it does not answer for this corpus
    assert (cfg.run_dir / "metrics.json").exists()
    (cfg.run_dir / "metrics.json").unlink()
    with pytest.raises(RunExistsError, match="another version of the corpus"):
        execute(cfg, progress=False)  # unfinished: resuming would train on two corpora
    other = make_config("smoke", task="kws", paradigm="iterative", data_dir=str(root), run_root=str(tmp_path / "runs"),
                        test_snrs=(0.0,), eval_pesq=False)
    execute(other, progress=False)  # its AE pre-training is not the stage cascade made on the old corpus
    now = sorted(p.name for p in (tmp_path / "runs" / "_shared" / "kws" / "seed0").glob("*.th"))
    assert set(shared) < set(now) and len([n for n in now if n.startswith("ae_pretrain")]) == 2


@pytest.mark.parametrize("paradigm", ["joint", "iterative"])
def test_ser_speaker_norm_runs_and_predicts_with_enrollment_clips(paradigm, fake_root, tmp_path, monkeypatch):
    """Speaker profiles reach every CA call of training (the CA losses of joint and iterative, validation)
    and evaluation, and load_run predicts with or without enrollment clips."""
    from aelib.models.ser import SERNet

    calls = []
    forward = SERNet.forward
    monkeypatch.setattr(SERNet, "forward", lambda self, w, n=None, p=None: calls.append(p is not None) or forward(self, w, n, p))
    cfg = make_config("smoke", task="ser", paradigm=paradigm, data_dir=str(fake_root), run_root=str(tmp_path),
                      test_snrs=(0.0,), ser_speaker_norm=True)
    m = execute(cfg, progress=False)
    assert len(calls) >= 5 and all(calls)
    assert all(np.isfinite(c["uar"]) for c in m["cells"])
    pipe = aelib.load_run(cfg.run_dir)
    assert pipe.ca.speaker_norm and torch.count_nonzero(pipe.ca.profile_prior) > 0  # the saved training mean
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(12000).astype(np.float32) * 0.1 for _ in range(3)]
    assert pipe.predict(clips[0], 16000, speaker_clips=clips[1:]) in pipe.labels
    assert pipe.predict(clips[0], 16000) in pipe.labels


def test_asr_bigram_decoder_decodes_training_evaluation_and_load_run(fake_root, tmp_path, monkeypatch):
    """With asr_decoder="bigram" every transcript (validation, test grid, load_run) comes from the model's
    own lexicon search, whose words are the training transcripts' words."""
    from aelib.models.asr import ASRNet

    calls = []
    transcribe = ASRNet.transcribe
    monkeypatch.setattr(ASRNet, "transcribe", lambda self, *a: calls.append(1) or transcribe(self, *a))
    cfg = make_config("smoke", task="asr", paradigm="cascade", data_dir=str(fake_root), run_root=str(tmp_path),
                      test_snrs=(0.0,), asr_decoder="bigram")
    m = execute(cfg, progress=False)
    assert len(calls) >= 3 and all(np.isfinite(c["wer"]) for c in m["cells"])
    pipe = load_run(cfg.run_dir)
    assert pipe.ca.decoder["kind"] == "bigram"
    words = set(pipe.ca.decoder["words"])
    text = pipe.predict(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1, 16000)
    assert isinstance(text, str) and set(text.split()) <= words
    with open(cfg.run_dir / "predictions.csv") as f:
        preds = [r["pred"] for r in csv.DictReader(f)]
    assert preds and all(set(p.split()) <= words for p in preds)  # the test grid's transcripts: lexicon words
