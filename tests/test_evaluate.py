"""Evaluation: the unprocessed mixtures' quality is computed once per task and seed and reused."""
import pytest

from aelib.config import make_config
from aelib.data import load_data
from aelib.device import seed_everything
from aelib.evaluate import InputQuality, evaluate
from aelib.runs import build_ae
from aelib.tasks import get_task

from .fake_corpus import make_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_corpus(tmp_path_factory.mktemp("fake"))


def _evaluate(root, run_root, paradigm, cache=None):
    cfg = make_config("smoke", task="kws", paradigm=paradigm, data_dir=str(root), run_root=str(run_root),
                      eval_pesq=True, ae_metric_clips=2)
    seed_everything(cfg.seed)
    task = get_task("kws")
    data = load_data(cfg, task)
    return evaluate(cfg, data, build_ae(cfg), task.build_model(cfg, data.labels), progress=False,
                    input_quality=cache)


def test_input_quality_is_shared_between_runs_and_equals_a_fresh_computation(fake_root, tmp_path):
    first = InputQuality.for_run(make_config("smoke", task="kws", paradigm="cascade", data_dir=str(fake_root),
                                             run_root=str(tmp_path), eval_pesq=True, ae_metric_clips=2))
    rows_a, _ = _evaluate(fake_root, tmp_path, "cascade", first)
    assert first.path.exists() and first.values
    cached = InputQuality.for_run(make_config("smoke", task="kws", paradigm="noisereduce", data_dir=str(fake_root),
                                              run_root=str(tmp_path), eval_pesq=True, ae_metric_clips=2))
    assert cached.path == first.path  # another paradigm of the same task and seed
    n_before = len(cached.values)
    rows_b, _ = _evaluate(fake_root, tmp_path, "noisereduce", cached)
    assert cached.computed == 0 and len(cached.values) == n_before  # nothing recomputed
    rows_c, _ = _evaluate(fake_root, tmp_path, "noisereduce", InputQuality(None))  # no cache at all
    inputs = lambda rows: [{k: v for k, v in r.items() if k.startswith("input_")} for r in rows]  # noqa: E731
    assert any("input_pesq" in r for r in inputs(rows_b))
    assert inputs(rows_b) == inputs(rows_a)
    for got, fresh in zip(inputs(rows_b), inputs(rows_c)):
        assert got.keys() == fresh.keys()
        assert all(got[k] == pytest.approx(fresh[k], abs=1e-3 if "pesq" in k else 1e-6) for k in got)
    other_seed = make_config("smoke", task="kws", paradigm="cascade", data_dir=str(fake_root), run_root=str(tmp_path),
                             seed=1, eval_pesq=True, ae_metric_clips=2)
    assert InputQuality.for_run(other_seed).path != first.path  # other mixtures, other file


def test_by_source_scores_each_voice_and_each_family_of_voices():
    """Scores equal the task score on the group's rows; a family with several sources (the espeak voices)
    is one group, a source alone in its family keeps its own name; clips without a voice are left out."""
    from aelib.evaluate import by_source, source_family

    task = get_task("kws")
    rows = []
    for source, n, correct in (("slt", 10, 2), ("espeak-a", 12, 9), ("espeak-b+m1", 3, 3), ("ufoai:fire", 1, 1),
                               ("ufoai:rain", 1, 0), ("asterisk-allison", 4, 1)):
        ref = "_silence_" if source.startswith("ufoai") else "yes"
        for split, snr in (("clean", "clean"), ("test_seen", 0.0), ("test_unseen", 5.0)):
            rows += [{"kind": "synthetic", "source": source, "noise_split": split, "snr": snr, "ref": ref,
                      "pred": ref if i < correct else "no"} for i in range(n)]
    out = {(r["source"], r["condition"]): r for r in by_source(task, ["yes", "no"], rows)}
    groups = ("slt", "espeak*", "asterisk-allison")
    assert set(out) == {(s, c) for s in groups for c in ("clean", "noisy")}
    assert out[("slt", "clean")]["accuracy"] == pytest.approx(0.2)
    assert out[("espeak*", "clean")] == {"kind": "synthetic", "source": "espeak*", "condition": "clean", "n": 15,
                                         "n_sources": 2, "accuracy": pytest.approx(12 / 15)}
    assert out[("espeak*", "noisy")]["n"] == 30
    assert by_source(get_task("asc"), ["a"], rows) == []  # asc's sources are scene recordings, not voices
    assert source_family("1089") == "1089" and source_family("ufoai:fire04") == "ufoai*"
