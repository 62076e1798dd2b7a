"""The classical peer front-end: spectral gating from the ``noisereduce`` package.

What many practitioners reach for before training anything: estimate a per-frequency noise
threshold from the signal itself and attenuate the STFT bins below it. We use noisereduce's own
PyTorch implementation (``noisereduce.torchgate.TorchGate``, batched, same algorithm family as
``noisereduce.reduce_noise``). Stationary gating is the study's default: on validation mixtures it
lost less SI-SDR than the non-stationary mode on every task (``scripts/choose_gate.py``).
It has no weights; wrapping it as a registered model lets a run save and reload it like the U-Net
(:func:`aelib.models.serialize`) and lets evaluation treat it as "the AE" of the run.

Speed: TorchGate smooths its mask with a 33 x 7 2-D convolution, which on a 1-thread CPU was 70 % of
the gate's time (``scripts/profile_run.py --paradigm noisereduce``). That kernel is an outer product of
a frequency and a time triangle, so :meth:`SpectralGate.forward` applies it as two banded matrix products
(the same zero padding, the same result to float rounding; ``tests/test_gate.py``) and otherwise runs
TorchGate's own steps.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .unet import check_wave


class SpectralGate(nn.Module):
    """Batched spectral gating; output has exactly the input's length.

    Args:
        sample_rate: of the input waveform.
        nonstationary: noisereduce's non-stationary gating (a moving noise estimate) instead of a per-clip one.
        prop_decrease: 1.0 removes the gated bins fully (noisereduce's default).

    Shape:
        wave [B, T] -> [B, T]
    """

    model_name = "gate"

    def __init__(self, sample_rate: int = 16_000, nonstationary: bool = False, prop_decrease: float = 1.0) -> None:
        super().__init__()
        from noisereduce.torchgate import TorchGate

        self.model_args = dict(sample_rate=sample_rate, nonstationary=nonstationary, prop_decrease=prop_decrease)
        self.gate = TorchGate(sr=sample_rate, nonstationary=nonstationary, prop_decrease=prop_decrease)

        kf, kt = separable(self.gate.smoothing_filter)
        self.register_buffer("band_freq", banded(kf, self.gate.n_fft // 2 + 1), persistent=False)
        self.register_buffer("kernel_time", kt, persistent=False)

    @torch.no_grad()  # nothing to learn; never part of a graph
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        check_wave(wave)
        n = wave.shape[-1]
        out = self._gate(wave.float())
        if out.shape[-1] < n:  # TorchGate's iSTFT drops the last partial frame
            out = F.pad(out, (0, n - out.shape[-1]))
        return out[..., :n].to(wave.dtype)

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        """``TorchGate.forward`` with the mask smoothed by two banded matrix products instead of a 2-D conv."""
        from noisereduce.torchgate.utils import amp_to_db

        g = self.gate
        window = torch.hann_window(g.win_length, device=x.device)
        spec = torch.stft(x, n_fft=g.n_fft, hop_length=g.hop_length, win_length=g.win_length, return_complex=True,
                          pad_mode="constant", center=True, window=window)
        mask = g._nonstationary_mask(spec.abs()) if g.nonstationary else g._stationary_mask(amp_to_db(spec))
        mask = g.prop_decrease * (mask * 1.0 - 1.0) + 1.0
        mask = smooth(mask, self.band_freq, self.kernel_time)
        return torch.istft(spec * mask, n_fft=g.n_fft, hop_length=g.hop_length, win_length=g.win_length,
                           center=True, window=window).to(x.dtype)


def separable(kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split TorchGate's rank-1 smoothing kernel [1, 1, F, T] (sum 1) into its frequency and time factors."""
    k = kernel[0, 0].double()
    kf, kt = k.sum(dim=1), k.sum(dim=0)  # row sums = the frequency triangle, column sums = the time triangle
    if not torch.allclose(torch.outer(kf, kt), k, atol=1e-9):
        raise ValueError("the gate's smoothing kernel is not separable")
    return kf.float(), kt.float()


def banded(k: torch.Tensor, n: int) -> torch.Tensor:
    """[n, n] matrix A with (A @ x)[i] = sum_u k[u] x[i + u - len(k)//2], x zero outside: 'same' correlation."""
    c = len(k) // 2
    d = torch.arange(n)[None, :] - torch.arange(n)[:, None] + c
    inside = (d >= 0) & (d < len(k))
    return torch.where(inside, k[d.clamp(0, len(k) - 1)], torch.zeros(()))


def smooth(mask: torch.Tensor, band_freq: torch.Tensor, kt: torch.Tensor) -> torch.Tensor:
    """'same'-padded 2-D smoothing of mask [B, F, T] by outer(kf, kt), with ``band_freq = banded(kf, F)``.

    Two matrix products: single-channel ``conv1d``/``conv2d`` run at < 1 GFLOP/s on one CPU thread, a
    dense banded product at ~100, so the product wins although most of its entries are zero.
    """
    m = mask.to(band_freq.dtype)
    return band_freq @ m @ banded(kt, m.shape[-1]).T
