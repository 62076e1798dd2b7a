"""aelib.demo: the demo's material (clips, noises at a fixed offset, the runs of a study) and playable audio."""
from __future__ import annotations

import numpy as np
import pytest

from aelib import demo
from aelib.config import FRONTEND_PARADIGMS
from aelib.paradigms import uses_ae

SR = 16_000


def test_playable_keeps_relative_loudness():
    a, b = np.full(10, 0.5, np.float32), np.full(10, 2.0, np.float32)
    pa, pb = demo.playable(a, b)
    assert np.abs(pb).max() <= 0.99 and np.isclose(pb[0] / pa[0], 4.0)
    assert np.array_equal(demo.playable(a)[0], a)  # already playable: untouched


def test_make_example_mixes_at_exact_snr(tmp_path):
    from aelib.mixing import measured_snr
    from tests.fake_corpus import make_fake_corpus

    root = make_fake_corpus(tmp_path / "corpus")
    ex = demo.make_example(root, "kws", clip_index=1, noise_split="test_unseen", noise_type="babble", seed=3)
    assert ex.noise_type == "babble" and ex.label in {"yes", "no", "up"} and len(ex.clean) == SR
    for snr in (-10.0, 0.0, 20.0):
        noisy = ex.mix(snr)
        assert abs(measured_snr(ex.clean, noisy - ex.clean) - snr) < 1e-3
    again = demo.make_example(root, "kws", clip_index=1, noise_split="test_unseen", noise_type="babble", seed=3)
    assert again.offset == ex.offset  # fixed offset: only the SNR changes between redraws
    assert demo.make_example(root, "asc", noise_split="test_seen").noise_path.endswith(".wav")
    with pytest.raises(ValueError, match="types there"):
        demo.make_example(root, "kws", noise_type="machinery")
    assert abs(demo.sisdr_db(ex.mix(5.0), ex.clean) - 5.0) < 0.5


def test_find_and_pick_runs(tmp_path):
    for rel in ("asr/cascade/seed0", "asr/iterative/seed1", "asc/noisy/seed0", "asr/_shared/seed0"):
        (tmp_path / rel / "checkpoints").mkdir(parents=True)
        (tmp_path / rel / "checkpoints" / "best.th").write_bytes(b"")
    (tmp_path / "kws/cascade/seed0").mkdir(parents=True)  # unfinished: no checkpoint
    runs = demo.find_runs(tmp_path)
    assert sorted(runs) == ["asc/noisy/seed0", "asr/cascade/seed0", "asr/iterative/seed1"]
    assert demo.pick_run(runs, "asr") == "asr/iterative/seed1"
    assert demo.pick_run(runs, "asr", seed=0) == "asr/cascade/seed0"
    assert demo.pick_run(runs, "asc") is None  # no AE paradigm
    assert demo.pick_run(runs, "asc", ("noisy",)) == "asc/noisy/seed0"


def test_figure4_paradigms_are_the_u_net_front_ends_iterative_first():
    assert demo.FIGURE4_PARADIGMS == ("iterative", "cascade", "joint")
    assert set(demo.FIGURE4_PARADIGMS) < set(FRONTEND_PARADIGMS)
    assert [p for p in ("clean", "noisy", *FRONTEND_PARADIGMS) if uses_ae(p)] == list(FRONTEND_PARADIGMS)
