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
