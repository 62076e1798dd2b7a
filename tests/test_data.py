"""MixtureDataset: an item's mixture record is the one ``record`` draws, with speed perturbation on."""
import numpy as np
import pytest

from aelib.config import make_config
from aelib.data import load_data
from aelib.mixing import mix
from aelib.tasks import get_task

from .fake_corpus import make_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_corpus(tmp_path_factory.mktemp("fake"))


def test_item_matches_its_record_under_speed_perturbation(fake_root):
    cfg = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(fake_root), speed_perturb=0.1)
    data = load_data(cfg, get_task("kws"))
    ds = data.train_set()
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            rec = ds.record(i)  # computes the perturbed clean length itself
            assert (rec.noise_path, rec.noise_offset, rec.snr_db) == (item["noise_path"], item["noise_offset"],
                                                                       pytest.approx(item["snr"]))
            noisy, _ = mix(ds.clean(i), data.cache(rec.noise_path), rec.snr_db, rec.noise_offset, sr=cfg.sample_rate)
            np.testing.assert_array_equal(noisy, item["noisy"].numpy())


def test_corpus_fingerprint_follows_the_manifests_and_the_builder_version(tmp_path):
    """It names what a run reads: its task and noise manifests, and an embedded build's (size, seed, version);
    other tasks' manifests and the build's timings do not move it."""
    import json

    from aelib.data import corpus_fingerprint

    for name in ("kws.csv", "noise.csv", "noise_asc.csv", "asc.csv"):
        (tmp_path / name).write_text(f"{name}\n")
    cfg = make_config("smoke", task="kws", data_dir=str(tmp_path))
    kws, asc = get_task("kws"), get_task("asc")
    bare = corpus_fingerprint(cfg, kws)  # an adapter's folder: no build_info.json
    info = {"size": "small", "seed": 0, "version": 2, "timings_s": {"kws": 1.0}}
    (tmp_path / "build_info.json").write_text(json.dumps(info))
    built = corpus_fingerprint(cfg, kws)
    (tmp_path / "build_info.json").write_text(json.dumps({**info, "timings_s": {"kws": 9.0}}))
    (tmp_path / "asc.csv").write_text("changed\n")
    assert corpus_fingerprint(cfg, kws) == built != bare
    (tmp_path / "build_info.json").write_text(json.dumps({**info, "version": 3}))
    assert corpus_fingerprint(cfg, kws) != built
    before = corpus_fingerprint(cfg, asc)
    (tmp_path / "noise_asc.csv").write_text("changed\n")  # asc's interferers are speech: noise_asc.csv
    assert corpus_fingerprint(cfg, asc) != before


@pytest.mark.parametrize("factor", [0.9, 1.1, 0.95, 1.05])
def test_speed_perturb_equals_resample_poly_default_filter(factor):
    """The cached filter is the one ``resample_poly`` designs itself: the output is equal to the bit."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    from aelib.data import speed_perturb

    wave = np.random.default_rng(1).standard_normal(16_123).astype(np.float32)
    fr = Fraction(factor).limit_denominator(20)
    expected = resample_poly(wave, fr.denominator, fr.numerator).astype(np.float32)
    for _ in range(2):  # the second call reuses the cached filter, which resample_poly must not have changed
        np.testing.assert_array_equal(speed_perturb(wave, factor), expected)


def test_attach_profiles_covers_every_split_and_never_uses_the_clip_itself(fake_root):
    import torch

    from aelib.profiles import clip_profiles

    task = get_task("ser")
    cfg = make_config("smoke", task="ser", paradigm="clean", data_dir=str(fake_root), ser_speaker_norm=True)
    data = load_data(cfg, task)
    model = task.build_model(cfg, data.labels)
    data.attach_profiles(model)
    n = int(cfg.sample_rate * task.clip_seconds)
    train_means = torch.stack(clip_profiles(data.rows["train"], data.cache, n, model))
    torch.testing.assert_close(model.profile_prior, train_means.mean(0))
    datasets = [data.train_set(), data.val_set()] + [data.test_set(k, "test_seen", 0.0) for k in data.test_kinds()]
    for ds in datasets:
        for i in range(len(ds)):
            assert ds[i]["profile"].shape == (cfg.n_mels,)
    # leave-one-out: the first training clip's profile is the mean of its speaker's other training clips
    first = data.rows["train"][0]
    others = [j for j, r in enumerate(data.rows["train"]) if r["source"] == first["source"] and j > 0]
    torch.testing.assert_close(data.profiles[first["path"]], train_means[others].mean(0))
    batch = next(iter(data.loader(data.val_set(), shuffle=False)))
    assert batch["profile"].shape == (len(batch["index"]), cfg.n_mels)


def test_eval_seed_fixes_the_test_draw_across_seeds_and_leaves_training_to_the_seed(fake_root):
    """``eval_seed`` >= 0: every seed tests the same clips with the same noise segments and SNRs (the
    records of every test cell are equal), while training mixtures still follow the run's seed; -1 (the
    library default) draws with the run's seed, i.e. as ``eval_seed`` = that seed would."""
    def draws(seed, eval_seed):
        cfg = make_config("smoke", task="kws", paradigm="noisy", data_dir=str(fake_root), seed=seed,
                          eval_seed=eval_seed, max_eval_clips=2)
        data = load_data(cfg, get_task("kws"))
        test = [data.test_set(k, s, snr) for k in data.test_kinds() for s in ("test_seen", "test_unseen")
                for snr in (0.0, 10.0) if s in data.noise]
        train = data.train_set()
        return [ds.record(i) for ds in test for i in range(len(ds))], [train.record(i) for i in range(len(train))]

    test0, train0 = draws(0, 0)
    test1, train1 = draws(1, 0)
    assert test0 and test0 == test1
    assert train0 != train1
    assert draws(1, -1)[0] == draws(0, 1)[0] != test0
