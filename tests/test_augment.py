"""The telephone channel (aelib.augment) and its place in training mixtures."""
import numpy as np
import pytest

from aelib.augment import mu_law, telephone

from .fake_corpus import make_fake_corpus


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return make_fake_corpus(tmp_path_factory.mktemp("fake"))


def _band_energy(x, lo, hi, sr=16_000):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return spec[(f >= lo) & (f < hi)].sum()


def test_telephone_keeps_length_and_removes_the_upper_band():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16_000)).astype(np.float32)
    y = telephone(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert _band_energy(y, 4_200, 8_000) < 1e-3 * _band_energy(x, 4_200, 8_000)
    assert _band_energy(y, 300, 3_400) > 0.5 * _band_energy(x, 300, 3_400)


def test_mu_law_has_at_most_256_levels_and_keeps_the_scale():
    x = np.linspace(-0.3, 0.3, 10_001).astype(np.float32)
    y = mu_law(x)
    assert len(np.unique(y)) <= 257 and np.max(np.abs(y)) == pytest.approx(0.3, rel=1e-3)
    assert np.corrcoef(x, y)[0, 1] > 0.999


def test_telephone_refuses_a_rate_that_is_not_a_multiple_of_8k():
    with pytest.raises(ValueError, match="multiple of 8 kHz"):
        telephone(np.zeros(100, np.float32), sr=22_050)


def test_telephone_prob_band_limits_training_clips_only(fake_root):
    from aelib.config import make_config
    from aelib.data import load_data
    from aelib.tasks import get_task

    cfg = make_config("smoke", task="kws", data_dir=str(fake_root), speed_perturb=0.0, telephone_prob=1.0)
    data = load_data(cfg, get_task("kws"))
    tr, va = data.train_set(clean_only=True), data.val_set(clean_only=True)
    for i in range(len(tr)):
        got = tr[i]["clean"].numpy()
        assert _band_energy(got, 4_600, 8_000) < 1e-3 * _band_energy(got, 0, 8_000)
    assert all(np.allclose(va[i]["clean"].numpy()[:100], data.cache(r["path"])[:100])
               for i, r in enumerate(data.rows["val"])), "validation never passes the channel"
    off = load_data(make_config("smoke", task="kws", data_dir=str(fake_root), speed_perturb=0.0), get_task("kws"))
    assert np.array_equal(off.train_set(clean_only=True)[0]["clean"].numpy(),
                          data.cache(data.rows["train"][0]["path"])[: len(off.train_set(clean_only=True)[0]["clean"])])
