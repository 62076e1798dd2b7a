"""The prosodic statistics (aelib.models.prosody) and the ser model's prosody branch."""
import math

import pytest
import torch

from aelib.models import SERNet, deserialize, serialize
from aelib.models.prosody import N_PROSODY, prosody

SR = 16_000


def _voice(f0_start: float, f0_end: float | None = None, seconds: float = 1.0) -> torch.Tensor:
    """A harmonic glide (five partials) from f0_start to f0_end Hz."""
    t = torch.arange(int(seconds * SR)) / SR
    f0 = torch.linspace(f0_start, f0_end or f0_start, len(t))
    phase = 2 * math.pi * torch.cumsum(f0, 0) / SR
    return 0.1 * sum(torch.sin(k * phase) / k for k in range(1, 6))


def test_pitch_level_and_range_follow_the_voice():
    low, high, glide = prosody(torch.stack([_voice(120), _voice(240), _voice(120, 240)]))
    assert low[0] == pytest.approx(math.log(120), abs=0.05) and high[0] == pytest.approx(math.log(240), abs=0.05)
    assert glide[2] > 0.4 > low[2]  # the 10-90 % range of log-F0: a glide spans ~ln 2 * 0.8
    assert low[4] > 0.9  # a steady voice is voiced throughout


def test_silence_short_clips_and_lengths_are_finite():
    x = torch.zeros(3, 16_000)
    x[1, :300] = 0.1  # shorter than one frame of signal
    x[2] = _voice(150)
    out = prosody(x, torch.tensor([16_000, 300, 8_000]))
    assert out.shape == (3, N_PROSODY) and torch.isfinite(out).all()
    assert torch.isfinite(prosody(torch.zeros(2, 100))).all()  # shorter than one frame


def test_lengths_ignore_the_padding():
    x = _voice(150, seconds=0.5)
    padded = torch.cat([x, torch.zeros(8_000)])[None]
    assert torch.allclose(prosody(padded, torch.tensor([8_000])), prosody(x[None]), atol=1e-5)


def test_prosody_is_sized_for_16k():
    with pytest.raises(ValueError, match="16 kHz"):
        prosody(torch.zeros(1, 16_000), sample_rate=8_000)


def test_ser_prosody_branch_profiles_and_checkpoint():
    m = SERNet(4, width=4, n_mels=16, speaker_norm=True, prosody=True)
    x = torch.stack([_voice(150, 200), _voice(220)])
    assert m.profile(x).shape == (2, 16 + N_PROSODY) and m.profile_prior.shape == (16 + N_PROSODY,)
    m.eval()
    logits = m(x, None, m.profile(x))
    assert logits.shape == (2, 4)
    back = deserialize(serialize(m)).eval()
    assert torch.equal(back(x, None, m.profile(x)), logits)
    assert "prosody" not in SERNet(4, width=4, n_mels=16).model_args  # old checkpoints' arguments unchanged


@pytest.mark.parametrize("paradigm", ["joint", "iterative"])
def test_a_ser_run_with_prosody_trains_evaluates_and_loads(paradigm, tmp_path):
    import numpy as np

    import aelib
    from aelib.config import make_config
    from aelib.runs import execute

    from .fake_corpus import make_fake_corpus

    cfg = make_config("smoke", task="ser", paradigm=paradigm, data_dir=str(make_fake_corpus(tmp_path / "fake")),
                      run_root=str(tmp_path / "runs"), test_snrs=(0.0,), ser_speaker_norm=True, ser_prosody=True)
    m = execute(cfg, progress=False)
    assert all(np.isfinite(c["uar"]) for c in m["cells"])
    pipe = aelib.load_run(cfg.run_dir)
    assert pipe.ca.prosody and pipe.ca.profile_prior.shape[0] == cfg.n_mels + N_PROSODY
    assert pipe.predict(_voice(180).numpy(), SR) in pipe.labels
