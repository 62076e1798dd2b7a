"""Evaluation: the unprocessed mixtures' quality is computed once per task and seed and reused."""
import pytest

from aelib.config import make_config
from aelib.data import load_data
from aelib.evaluate import InputQuality, evaluate
from aelib.runs import build_ae
from aelib.tasks import get_task
from aelib.train import seed_everything

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


def test_by_source_scores_each_voice_and_pools_small_sources():
    """Per-source scores equal the task score on that source's rows; sources with few clean clips are pooled."""
    from aelib.evaluate import MIN_SOURCE_CLIPS, OTHER_SOURCES, by_source

    task = get_task("kws")
    rows = []
    for source, n, correct in (("slt", MIN_SOURCE_CLIPS, 2), ("espeak-a", MIN_SOURCE_CLIPS + 2, 9), ("noise:1", 1, 1)):
        for split, snr in (("clean", "clean"), ("test_seen", 0.0), ("test_unseen", 5.0)):
            rows += [{"kind": "synthetic", "source": source, "noise_split": split, "snr": snr, "ref": "yes",
                      "pred": "yes" if i < correct else "no"} for i in range(n)]
    out = {(r["source"], r["condition"]): r for r in by_source(task, ["yes", "no"], rows)}
    assert set(out) == {(s, c) for s in ("slt", "espeak-a", OTHER_SOURCES) for c in ("clean", "noisy")}
    assert out[("slt", "clean")]["accuracy"] == pytest.approx(2 / MIN_SOURCE_CLIPS)
    assert out[("espeak-a", "noisy")]["n"] == 2 * (MIN_SOURCE_CLIPS + 2)
    assert out[("espeak-a", "noisy")]["accuracy"] == pytest.approx(9 / (MIN_SOURCE_CLIPS + 2))
    assert out[(OTHER_SOURCES, "clean")] == {"kind": "synthetic", "source": OTHER_SOURCES, "condition": "clean",
                                             "n": 1, "accuracy": 1.0}
