"""Models: shapes, the STFT path, BatchNorm folding, bad inputs, overfitting a batch, serialisation."""
from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F

from aelib.models import (MODELS, ASCNet, ASRNet, KWSLogMelNet, KWSNet, LogMel, SERNet, UNetEnhancer,
                          count_parameters, deserialize, serialize)
from aelib.models.unet import _ConvBNReLU, real_time_factor

SR = 16_000



# small sizes keep every test fast; the defaults are exercised by the shape tests
SMALL = {
    "unet": lambda: UNetEnhancer(width=4, depth=4),
    "kws": lambda: KWSNet(5, width=8),
    "kws_logmel": lambda: KWSLogMelNet(5, width=8, n_mels=32),
    "asr": lambda: ASRNet(29, width=8, n_mels=32, rnn_dim=32),
    "ser": lambda: SERNet(4, width=8, n_mels=32),
    "asc": lambda: ASCNet(3, width=8, n_mels=32),
}


def _wave(b: int, t: int, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(b, t, generator=torch.Generator().manual_seed(seed))


def _run(model, x, lengths=None):
    return model(x) if isinstance(model, UNetEnhancer) else model(x, lengths)


def test_registry_names_match_classes():
    assert set(MODELS) == {"unet", "kws", "kws_logmel", "asr", "ser", "asc", "gate"}
    for name, cls in MODELS.items():
        assert cls.model_name == name


# ---- U-Net ------------------------------------------------------------------------------
@pytest.mark.parametrize("t", [1, 100, 257, 1001, 4001, SR + 7])
def test_unet_returns_exact_length(t):
    model = UNetEnhancer(width=4, depth=4).eval()
    with torch.no_grad():
        y = model(_wave(2, t))
    assert y.shape == (2, t)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_unet_depths(depth):
    model = UNetEnhancer(n_fft=256, hop=64, width=4, depth=depth)
    assert model(_wave(2, 3001)).shape == (2, 3001)


@pytest.mark.parametrize("t", [1000, 4001, 16001])
def test_stft_istft_path_is_identity(t):
    model = UNetEnhancer(width=4)
    x = _wave(3, t)
    assert torch.allclose(model.istft(model.stft(x), t), x, atol=1e-4)
    model.mask = lambda spec: torch.ones_like(spec.abs())  # forward() with an all-ones mask gives the input back
    assert torch.allclose(model(x), x, atol=1e-4)


@pytest.mark.parametrize("mask", ["magnitude", "complex"])
def test_unet_mask_is_bounded_and_shaped(mask):
    model = UNetEnhancer(width=4, mask=mask)
    spec = model.stft(_wave(2, 5000))
    m = model.mask(spec)
    assert m.shape == spec.shape and m.is_complex() == (mask == "complex")
    assert (m.abs() <= 1).all() and (m.real >= 0).all() if mask == "magnitude" else (m.abs() < 1).all()


@pytest.mark.parametrize("mask", ["magnitude", "complex"])
def test_unet_gain_invariant_mask(mask):
    """The log-magnitude is centred per utterance and the phase features are unit phasors: the gain is ignored."""
    model = UNetEnhancer(width=4, mask=mask).eval()
    x = _wave(1, 8000)
    with torch.no_grad():
        y1, y2 = model(x), model(10 * x)
    assert torch.allclose(10 * y1, y2, atol=1e-3)


@pytest.mark.parametrize("t", [1, 257, 4001])
def test_unet_complex_mask_lengths_and_rotation(t):
    """The complex variant keeps any length; a rotation of 1 (imaginary logits 0) is the magnitude mask."""
    model = UNetEnhancer(width=4, mask="complex").eval()
    with torch.no_grad():
        assert model(_wave(2, t)).shape == (2, t)
        model.head.weight[8:].zero_()  # the rotation's imaginary part 0: mask = sigmoid gain, real
        spec = model.stft(_wave(1, 4000))
        m = model.mask(spec)
    assert torch.allclose(m.imag, torch.zeros_like(m.imag)) and (m.real > 0).all()
    with pytest.raises(ValueError, match="unknown mask"):
        UNetEnhancer(mask="phase")


@pytest.mark.parametrize("mask,context", [("magnitude", "none"), ("complex", "none"), ("magnitude", "gru")])
def test_unet_runs_under_bf16_autocast(mask, context):
    """amp=True: the mask is made in fp32 (torch.complex has no bf16), the output is fp32."""
    model = UNetEnhancer(width=4, mask=mask, context=context)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(_wave(2, 4000))
    assert y.dtype == torch.float32 and torch.isfinite(y).all()


@pytest.mark.parametrize("t", [1, 257, 4001, 40_000])
def test_unet_context_starts_as_the_plain_unet_and_keeps_lengths(t):
    """context="gru": any length; with its zero-initialised output projection it is the plain U-Net."""
    torch.manual_seed(0)
    plain = UNetEnhancer(width=4).eval()
    torch.manual_seed(0)
    gru = UNetEnhancer(width=4, context="gru", context_dim=16).eval()
    gru.load_state_dict(plain.state_dict(), strict=False)
    x = _wave(2, t)
    with torch.no_grad():
        assert torch.equal(gru(x), plain(x)) and gru(x).shape == (2, t)
    with pytest.raises(ValueError, match="unknown context"):
        UNetEnhancer(context="lstm")


def test_unet_context_reaches_across_the_clip():
    """The bottleneck's GRU: a change in its last frame moves its first (convolutions reach a few frames)."""
    model = UNetEnhancer(width=4, context="gru", context_dim=16).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.context.out.weight, std=0.5)
        x = torch.randn(1, 32, 16, 50, generator=torch.Generator().manual_seed(0))
        y = x.clone()
        y[..., -1] += 1.0
        a, b = model.context(x), model.context(y)
    assert a.shape == x.shape and not torch.allclose(a[..., 0], b[..., 0])


def test_unet_phase_features_are_smooth_on_a_tone():
    """A steady tone at a bin's centre frequency advances by exactly that bin's own phase: deviation 0."""
    model = UNetEnhancer(width=4, mask="complex")
    k = 40  # bin 40 of 512 at 16 kHz: 1250 Hz
    x = torch.sin(2 * math.pi * k * SR / 512 * torch.arange(8000) / SR)[None]
    feat = model._phase_features(model.stft(x))
    assert torch.allclose(feat[0, 0, k, 2:-2], torch.ones(feat.shape[-1] - 4), atol=1e-3)


def test_batchnorm_folding_matches_unfolded():
    block = _ConvBNReLU(3, 5)
    with torch.no_grad():
        block.bn.running_mean.uniform_(-1, 1)
        block.bn.running_var.uniform_(0.5, 2)
        block.bn.weight.uniform_(0.5, 2)
        block.bn.bias.uniform_(-1, 1)
    block.eval()
    x, add = torch.randn(2, 3, 8, 12), torch.randn(2, 5, 8, 12)
    ref = F.relu(block.bn(block.conv(x) + add))
    assert torch.allclose(block(x, add=add), ref, atol=1e-5)
    assert torch.allclose(block(x), F.relu(block.bn(block.conv(x))), atol=1e-5)


def test_unet_level0_folding_matches_unfolded():
    model = UNetEnhancer(width=4, depth=3)
    model(_wave(4, 4000))  # one train-mode pass moves the running statistics away from 0/1
    model.eval()
    up, merge = model.up[-1], model.merge[-1]
    x = torch.randn(2, 8, 8, 10)
    skip = torch.randn(2, 4, 16, 20)
    with torch.no_grad():
        assert torch.allclose(model._merge0(x, skip), merge(skip, add=up(x)), atol=1e-5)


def test_unet_real_time_factor_is_reported():
    """Coarse bound only (a loaded CI machine is slow); the README quotes the measured value (~0.006)."""
    rtf = real_time_factor(UNetEnhancer(width=16, depth=4), seconds=2.0, repeats=2)
    assert 0 < rtf < 0.1


# ---- CA models --------------------------------------------------------------------------
CLASSIFIERS = [("kws", 5), ("ser", 4), ("asc", 3)]


@pytest.mark.parametrize("name,n_classes", CLASSIFIERS)
@pytest.mark.parametrize("t", [SR, 12_345, 800])
def test_classifier_output_shape(name, n_classes, t):
    model = SMALL[name]().eval()
    x = _wave(3, t)
    with torch.no_grad():
        out = model(x)
        out_len = model(x, torch.tensor([t, t // 2, 400]))
    assert out.shape == out_len.shape == (3, n_classes)
    assert torch.isfinite(out_len).all()


@pytest.mark.parametrize("name,cls", [("kws", KWSNet), ("kws_logmel", KWSLogMelNet), ("ser", SERNet), ("asc", ASCNet)])
def test_default_sizes_build(name, cls):
    model = cls(10).eval()
    with torch.no_grad():
        assert model(_wave(2, SR)).shape == (2, 10)
    assert count_parameters(model) < 1_000_000


def test_kws_loads_a_checkpoint_of_the_1d_layout():
    """KWSNet runs its 1-D layers as 2-D ones (speed); a state dict with 3-D conv weights still loads."""
    model = SMALL["kws"]().eval()
    old = {k: (v[:, :, 0] if k.endswith(".0.weight") and v.dim() == 4 else v) for k, v in model.state_dict().items()}
    assert any(v.dim() == 3 for v in old.values())
    fresh = SMALL["kws"]().eval()
    fresh.load_state_dict(old)
    x = _wave(2, SR)
    with torch.no_grad():
        assert torch.equal(model(x), fresh(x))


@pytest.mark.parametrize("name", ["kws", "ser", "asc"])
def test_padding_does_not_change_prediction(name):
    """With lengths, zero padding after the utterance barely changes the logits (masked pooling)."""
    model = SMALL[name]().eval()
    x = _wave(1, SR)
    padded = F.pad(x, (0, SR))
    with torch.no_grad():
        a = model(x, torch.tensor([SR]))
        b = model(padded, torch.tensor([SR]))
        c = model(padded)  # without lengths the padding counts as signal
    assert (a - b).abs().max() < (a - c).abs().max()


@pytest.mark.parametrize("t", [SR, 24_001])
def test_asr_output(t):
    model = SMALL["asr"]().eval()
    lengths = torch.tensor([t, t // 2])
    with torch.no_grad():
        log_probs, out_len = model(_wave(2, t), lengths)
    assert log_probs.dim() == 3 and log_probs.shape[0] == 2 and log_probs.shape[2] == 29
    assert out_len.tolist()[0] == log_probs.shape[1] and out_len[1] < out_len[0]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, log_probs.shape[1]), atol=1e-4)
    frames = t // 160 + 1
    assert out_len[0] == (frames - 1) // 2 + 1  # 20 ms output frames


def test_asr_bigru_equals_a_bidirectional_gru_on_packed_sequences():
    """Two GRUs on padded batches (the backward one on each sequence reversed within its length) give
    the packed bidirectional nn.GRU's outputs on valid frames, and 0 on padding; its state dict loads."""
    from torch import nn

    from aelib.models.asr import _BiGRU

    torch.manual_seed(0)
    ref = nn.GRU(6, 5, batch_first=True, bidirectional=True)
    block = _BiGRU(6, 5, dropout=0.0).eval()
    old = {"norm.weight": block.norm.weight.detach().clone(), "norm.bias": block.norm.bias.detach().clone(),
           **{f"gru.{k}": v for k, v in ref.state_dict().items()}}
    block.load_state_dict(old)  # the packed version's keys: gru.*, gru.*_reverse
    x, lengths = torch.randn(3, 7, 6), torch.tensor([7, 4, 1])
    out = block(x, lengths)
    h = F.gelu(block.norm(x))
    packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=7)
    assert torch.allclose(out, expected, atol=1e-6)
    assert (out[1, 4:] == 0).all() and (out[2, 1:] == 0).all()


def test_asr_time_major_res_block_is_the_frequency_major_block():
    """The residual block runs on [B, C, N, F] with transposed kernels: the [B, C, F, N] block's function."""
    from aelib.models.asr import _ResCNN

    torch.manual_seed(0)
    block = _ResCNN(4, 8)
    x = torch.randn(2, 4, 8, 11)  # [B, C, F, N]
    norm1, act1, conv1, norm2, act2, conv2 = block.body
    expected = x + conv2(act2(norm2(conv1(act1(norm1(x))))))  # _FeatLayerNorm normalises over F of [B, C, F, N]
    assert torch.allclose(block(x.transpose(2, 3)).transpose(2, 3), expected, atol=1e-5)


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_asr_time_stride_sees_every_frame(stride):
    """Strides above 3 widen the first conv's time kernel so that no input frame is skipped."""
    model = ASRNet(40, width=4, n_mels=32, rnn_dim=8, n_rnn=1, time_stride=stride).eval()
    k = model.conv.kernel_size[1]
    assert k % 2 == 1 and k >= max(stride, 3)
    t = SR + 321
    with torch.no_grad():
        log_probs, out_len = model(_wave(1, t))
    assert out_len.item() == log_probs.shape[1] == (t // 160) // stride + 1  # odd kernel, "same" padding


def test_logmel_frontend():
    fe = LogMel(n_mels=32)
    feats, flen = fe(_wave(2, SR), torch.tensor([SR, SR // 2]))
    assert feats.shape == (2, 32, SR // 160 + 1)
    assert flen.tolist() == [101, 51]
    assert torch.all(feats[1, :, 51:] == 0)
    assert torch.allclose(feats[0].mean(-1), torch.zeros(32), atol=1e-4)  # per-band CMVN


def test_logmel_gain_norm_removes_gain_and_keeps_spectral_tilt():
    """'gain' makes features gain-invariant like CMVN but keeps a static tilt, which CMVN erases."""
    g = torch.Generator().manual_seed(0)
    white = torch.randn(1, SR, generator=g)
    tilted = torch.cat([white[:, :1], white[:, 1:] + 0.95 * white[:, :-1]], 1)  # low-pass: energy tilts down
    cmvn, gain = LogMel(n_mels=32), LogMel(n_mels=32, normalize="gain")
    assert torch.allclose(gain(white)[0], gain(5 * white)[0], atol=1e-3)
    band_means = lambda fe, x: fe(x)[0][0].mean(-1)  # noqa: E731
    assert band_means(gain, tilted)[-1] - band_means(gain, tilted)[0] < -1.0  # the tilt survives
    assert band_means(cmvn, tilted).abs().max() < 1e-4  # CMVN flattens it
    with pytest.raises(ValueError, match="normalize"):
        LogMel(normalize="band")


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("shape", [(SR,), (1, 1, SR), (2, 1, 1, SR)])
def test_bad_shapes_raise(name, shape):
    model = SMALL[name]()
    with pytest.raises(TypeError, match=r"Inputs must be of shape \[batch, time\]"):
        _run(model, torch.zeros(shape))


# ---- overfitting a small batch -----------------------------------------------------------
def _overfit(model, loss_fn, steps: int, lr: float = 3e-3) -> tuple[float, float]:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses[0], min(losses[-3:])


@pytest.mark.parametrize("mask", ["magnitude", "complex"])
def test_unet_overfits(mask):
    from aelib.losses import wsdr_loss

    t = torch.arange(4000) / SR
    envelope = torch.sin(2 * math.pi * 3 * t)
    clean = torch.stack([0.3 * torch.sin(2 * math.pi * f * t) * envelope for f in (220, 440, 330, 660)])
    noisy = clean + 0.2 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    model = UNetEnhancer(width=4, depth=3, mask=mask)
    first, last = _overfit(model, lambda m: wsdr_loss(m(noisy), clean, noisy).mean(), 30, lr=1e-2)
    assert last < first - 0.1, (first, last)


@pytest.mark.parametrize("name,n_classes", CLASSIFIERS)
def test_classifier_overfits(name, n_classes):
    x = _wave(8, SR // 2, seed=3)
    y = torch.arange(8) % n_classes
    model = SMALL[name]()
    first, last = _overfit(model, lambda m: F.cross_entropy(m(x), y), 30)
    assert last < 0.3 * first, (first, last)


def test_asr_overfits():
    from aelib.losses import ctc_loss

    x = _wave(4, SR // 4, seed=4)
    targets = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0], [8, 9, 10, 11], [12, 0, 0, 0]])
    target_len = torch.tensor([3, 2, 4, 1])
    model = ASRNet(29, width=4, n_mels=16, rnn_dim=32, n_rnn=1, dropout=0.0)

    def loss(m):
        lp, ol = m(x)
        return ctc_loss(lp, ol, targets, target_len).mean()

    first, last = _overfit(model, loss, 40, lr=1e-2)
    assert last < 0.3 * first, (first, last)


# ---- serialisation -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SMALL))
def test_serialize_roundtrip(name):
    model = SMALL[name]()
    _run(model, _wave(4, SR))  # train-mode pass: BatchNorm statistics are part of the state
    model.eval()
    d = serialize(model)
    assert d["model_name"] == name and d["model_args"] == model.model_args
    assert "torch" in d["software_versions"]
    buf = io.BytesIO()
    torch.save(d, buf)
    buf.seek(0)
    clone = deserialize(torch.load(buf, weights_only=False)).eval()
    x = _wave(2, 12_000, seed=5)
    with torch.no_grad():
        a, b = _run(model, x), _run(clone, x)
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    assert torch.equal(a, b)


def test_unet_serialize_and_unknown_model():
    d = serialize(UNetEnhancer(width=4))
    assert d["model_args"]["width"] == 4 and "mask" not in d["model_args"]  # older checkpoints' exact arguments
    c = serialize(UNetEnhancer(width=4, mask="complex"))
    assert deserialize(c).complex and c["model_args"]["mask"] == "complex"
    g = serialize(UNetEnhancer(width=4, context="gru", context_dim=16))
    assert deserialize(g).context is not None and g["model_args"]["context_dim"] == 16
    with pytest.raises(ValueError):
        deserialize({**d, "model_name": "nope"})
    with pytest.raises(TypeError):
        serialize(torch.nn.Linear(2, 2))


def test_ser_speaker_norm_subtracts_the_profile_from_the_features():
    """With a zero profile it is the plain model; a profile is a per-band shift of the features, and the prior
    stands in when none is given. A model without speaker_norm refuses a profile."""
    torch.manual_seed(0)
    plain, spk = SERNet(4, width=8, n_mels=32).eval(), SERNet(4, width=8, n_mels=32, speaker_norm=True).eval()
    spk.load_state_dict({**plain.state_dict(), "profile_prior": torch.zeros(32)})
    x = _wave(2, 16000)
    with torch.no_grad():
        torch.testing.assert_close(spk(x, None, torch.zeros(2, 32)), plain(x))
        torch.testing.assert_close(spk(x), plain(x))  # the prior (zeros here)
        prof = torch.randn(2, 32)
        assert not torch.allclose(spk(x, None, prof), plain(x))
        spk.profile_prior.copy_(prof[0])
        torch.testing.assert_close(spk(x[:1]), spk(x[:1], None, prof[:1]))
        assert spk.profile(x).shape == (2, 32)
    with pytest.raises(ValueError, match="speaker_norm"):
        plain(x, None, prof)


def test_speaker_norm_only_for_models_with_profiles():
    from aelib.config import make_config
    from aelib.tasks import get_task

    with pytest.raises(ValueError, match="ser_speaker_norm: .* has no speaker_norm option"):
        get_task("kws").build_model(make_config("smoke", task="kws", ser_speaker_norm=True), ["a", "b"])
    with pytest.raises(ValueError, match="ser_prosody: .* has no prosody option"):
        get_task("asc").build_model(make_config("smoke", task="asc", ser_prosody=True), ["a", "b"])
