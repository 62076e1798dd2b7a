"""The training-time augmentations: the telephone channel (aelib.augment) and its place in training mixtures;
VTLP and SpecAugment in the log-mel front-end (aelib.models.frontends) and their place in a run."""
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


def _logmel(vtlp=0.0, specaug=0.0):
    import torch
    from aelib.models.frontends import LogMel, set_feature_augment

    m = LogMel(16_000, 32)
    assert set_feature_augment(m, vtlp, specaug) == 1
    return m, torch.randn(3, 16_000, generator=torch.Generator().manual_seed(0)), torch.tensor([16_000, 9_000, 4_000])


@pytest.mark.parametrize("vtlp,specaug", [(0.1, 0.0), (0.0, 0.2), (0.1, 0.2)])
def test_feature_augment_acts_in_training_only_and_is_seeded(vtlp, specaug):
    import torch

    m, x, n = _logmel(vtlp, specaug)
    m.eval()
    plain, flen = m(x, n)
    m.train()
    torch.manual_seed(1)
    a, flen_a = m(x, n)
    torch.manual_seed(1)
    b, _ = m(x, n)
    assert torch.equal(a, b) and torch.equal(flen, flen_a) and a.shape == plain.shape
    assert not torch.equal(a, plain)
    pad = torch.arange(a.shape[-1])[None, :] >= flen[:, None]
    assert torch.count_nonzero(a.transpose(1, 2)[pad]) == 0  # padding frames stay exactly 0


def test_feature_augment_off_is_the_plain_front_end():
    import torch

    m, x, n = _logmel()
    m.train()
    on_eval = m.eval()(x, n)[0]
    assert torch.equal(m.train()(x, n)[0], on_eval)


def test_vtlp_at_factor_one_is_the_identity_and_moves_a_tone():
    import torch
    from aelib.models.frontends import warp_frequencies

    spec = torch.rand(2, 257, 5)
    assert torch.equal(warp_frequencies(spec, 0.0), spec)
    tone = torch.zeros(64, 257, 1)
    tone[:, 100] = 1.0
    torch.manual_seed(0)
    peaks = warp_frequencies(tone, 0.2)[:, :, 0].argmax(1)
    assert peaks.min() >= 100 * 0.8 - 1 and peaks.max() <= 100 * 1.2 + 1 and len(set(peaks.tolist())) > 5  # f -> a f


def test_spec_augment_masks_at_most_its_share_with_the_clip_mean():
    import torch
    from aelib.models.frontends import spec_augment

    torch.manual_seed(0)
    feats = torch.randn(16, 40, 100)
    out = spec_augment(feats, torch.full((16,), 100), 0.1)
    changed = out != feats
    assert changed.any()
    band_rows = changed.all(dim=2).sum(1)  # bands masked over the whole clip
    assert int(band_rows.max()) <= 2 * 4  # two masks of at most 10 % of 40 bands
    fill = feats.mean(dim=(1, 2))
    assert torch.allclose(out[changed], fill[:, None, None].expand_as(out)[changed])


def test_feature_augment_needs_a_log_mel_model(fake_root, tmp_path):
    from aelib.config import make_config
    from aelib.runs import execute

    cfg = make_config("smoke", task="kws", data_dir=str(fake_root), run_root=str(tmp_path), ca_specaug=0.1)
    with pytest.raises(ValueError, match="no log-mel front-end"):
        execute(cfg, progress=False)
    assert not cfg.run_dir.exists()  # refused before a run folder exists


def test_ser_profiles_are_never_augmented():
    import torch
    from aelib.models import SERNet
    from aelib.models.frontends import set_feature_augment

    m = SERNet(4, width=4, n_mels=16, speaker_norm=True)
    x = torch.randn(2, 8_000)
    ref = m.profile(x)
    set_feature_augment(m, 0.2, 0.3)
    m.train()
    assert torch.equal(m.profile(x), ref) and m.frontend.training
