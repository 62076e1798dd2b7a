"""The audio-enhancement model: a mask U-Net on the log-magnitude STFT.

noisy wave -> STFT (hann) -> log-magnitude -> 2-D U-Net -> sigmoid mask -> mask x noisy STFT
(the noisy phase is reused) -> iSTFT of exactly the input length.

``mask="complex"`` is the phase-aware variant: the network also sees the noisy phase, as the cosine and sine
of its frame-to-frame advance minus the advance of each bin's centre frequency (the instantaneous-frequency
deviation, which is smooth along a harmonic where the raw phase is not), and its mask is the same bounded
magnitude times a unit complex number (a learned phase rotation), so that it is no longer capped by the
noisy phase. It starts as the magnitude mask does (rotation 1).

``context="gru"`` adds temporal context at the bottleneck: a bidirectional GRU over its frames (each frame the
flattened channels x frequencies, projected to ``context_dim``), added back residually through a projection that
starts at zero, so that the network starts as the plain U-Net. The convolutions see ~1 s; the GRU sees the clip.

Designed for speed on one CPU thread (the target is a real-time factor <= 0.01 for width 16 /
depth 4, i.e. 10 s of 16 kHz audio in <= 0.1 s):

* The Nyquist bin is dropped from the network input (n_fft 512 -> 256 bins); its mask copies the
  mask of the bin below.
* Level 0 is a 4x4 conv with stride 2 straight from the one-channel input, and the output is a
  1x1 conv to 4 channels followed by a 2x2 depth-to-space: no convolution runs at full resolution,
  where few channels make oneDNN memory-bound.
* Up-sampling is a transposed conv with kernel == stride, written as 1x1 conv + pixel shuffle
  (identical function, several times faster than ``ConvTranspose2d`` on the CPU).
* Skip connections by concatenation: deeper levels use a 3x3 conv on concat(up, skip); level 0 a
  1x1 conv, computed as ``up(x) + W_skip(skip)`` (the 1x1 weights acting on the up half fold into
  the linear up-sampling conv, so the function class is the same and the concat is saved).
* In eval mode every BatchNorm is folded into its conv.
* Weights are kept channels-last (NHWC), which oneDNN prefers for training and inference alike.

Measured on this project's 2-core Xeon, one thread, width 16 / depth 4: real-time factor ~0.006
(``python -m aelib.models`` prints it; :func:`real_time_factor` measures it).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: named width/depth presets (``Config.ae_width`` / ``ae_depth`` pick the same values by number)
UNET_PRESETS: dict[str, dict[str, int]] = {
    "smoke": dict(width=4, depth=4),  # tests: a few thousand weights
    "small": dict(width=16, depth=4),  # the 2-core CPU study (real-time factor ~0.005 on one thread)
    "paper": dict(width=32, depth=4),  # GPU runs
}


MASKS = ("magnitude", "complex")
CONTEXTS = ("none", "gru")


def check_wave(x: torch.Tensor) -> None:
    """Raise the asteroid-style TypeError unless ``x`` is a float [batch, time] tensor."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"Inputs must be of shape [batch, time], got {shape}")


class _ConvBNReLU(nn.Module):
    """conv (no bias) + BatchNorm + ReLU; in eval mode the BatchNorm is folded into the conv (one op)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """``relu(bn(conv(x) + add))``; ``add`` (optional) is a pre-computed branch of the same shape."""
        if self.training or not self.bn.track_running_stats:
            y = self.conv(x)
            return F.relu(self.bn(y if add is None else y + add), inplace=True)
        w, b, scale = self.folded()
        y = F.conv2d(x, w, b, self.conv.stride, self.conv.padding)
        if add is not None:
            y = y + add * scale[None, :, None, None]
        return F.relu_(y)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Conv weight and bias with the eval-mode BatchNorm folded in, and the BatchNorm scale."""
        scale = self.bn.weight * (self.bn.running_var + self.bn.eps).rsqrt()
        return self.conv.weight * scale[:, None, None, None], self.bn.bias - self.bn.running_mean * scale, scale


class _Up2(nn.Module):
    """x2 up-sampling in both axes: ConvTranspose2d(k=2, s=2) as 1x1 conv + pixel shuffle."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 4 * c_out, 1, bias=False)  # a bias would be absorbed by the next BatchNorm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


class _TemporalContext(nn.Module):
    """Residual bidirectional GRU over the frames of a [B, C, F, T] map (C x F flattened per frame)."""

    def __init__(self, channels: int, freqs: int, dim: int) -> None:
        super().__init__()
        self.inp = nn.Linear(channels * freqs, dim)
        self.gru = nn.GRU(dim, dim // 2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * (dim // 2), channels * freqs)
        nn.init.zeros_(self.out.weight)  # starts as the identity: the plain U-Net
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        seq = x.permute(0, 3, 1, 2).reshape(b, t, c * f)
        seq = self.out(self.gru(F.relu(self.inp(seq)))[0])
        return x + seq.reshape(b, t, c, f).permute(0, 2, 3, 1)


def _depth_to_space(x: torch.Tensor) -> torch.Tensor:
    """[B, 4, H, W] -> [B, 2H, 2W] (``pixel_shuffle`` by 2 with one output channel, via a reshape)."""
    b, _, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, h, w, 2, 2).permute(0, 1, 3, 2, 4).reshape(b, 2 * h, 2 * w)


class UNetEnhancer(nn.Module):
    """Magnitude-mask STFT U-Net speech enhancer.

    Args:
        n_fft: STFT size (hann window of the same length, ``center=True``).
        hop: STFT hop in samples.
        width: channels at level 0; level l has ``min(width * 2**l, max_channels)``.
        depth: number of x2 down-samplings in frequency and time (level 0 counts as one), >= 1.
        max_channels: channel cap of the deepest levels.
        eps: floor inside the log-magnitude.
        mask: ``"magnitude"`` (sigmoid mask on the noisy phase) or ``"complex"`` (that mask times a learned
            rotation, with the noisy phase's instantaneous-frequency deviation as two more input channels).
        context: ``"none"`` or ``"gru"`` (a residual bidirectional GRU over the bottleneck's frames).
        context_dim: the GRU's width (both directions together).

    Shape:
        noisy: [batch, time] -> enhanced: [batch, time] (exactly the same length, any length >= 1).
    """

    model_name = "unet"

    def __init__(self, n_fft: int = 512, hop: int = 128, width: int = 16, depth: int = 4,
                 max_channels: int = 256, eps: float = 1e-5, mask: str = "magnitude", context: str = "none",
                 context_dim: int = 128) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if mask not in MASKS:
            raise ValueError(f"unknown mask {mask!r}; choose one of {MASKS}")
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; choose one of {CONTEXTS}")
        if width < 1 or n_fft < 4 or hop < 1 or hop > n_fft:
            raise ValueError(f"bad STFT/U-Net sizes: n_fft={n_fft}, hop={hop}, width={width}")
        self.model_args = dict(n_fft=n_fft, hop=hop, width=width, depth=depth, max_channels=max_channels, eps=eps)
        if mask != "magnitude":  # checkpoints of the magnitude model keep their exact arguments
            self.model_args["mask"] = mask
        if context != "none":
            self.model_args.update(context=context, context_dim=context_dim)
        self.n_fft, self.hop, self.depth, self.eps, self.complex = n_fft, hop, depth, eps, mask == "complex"
        maps = 3 if self.complex else 1  # mask logit (+ rotation real and imaginary parts)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        ch = [min(width * 2**level, max_channels) for level in range(depth)]
        self.stem = _ConvBNReLU(maps, ch[0], kernel=4, stride=2)  # 4x4 patches, hop 2: half resolution
        self.down = nn.ModuleList(_ConvBNReLU(ch[lv - 1], ch[lv], stride=2) for lv in range(1, depth))
        self.bottleneck = _ConvBNReLU(ch[-1], ch[-1])
        f_bottleneck = -(-max(n_fft // 2, 1) // 2**depth)  # the padded input's bins after depth halvings
        self.context = _TemporalContext(ch[-1], f_bottleneck, context_dim) if context == "gru" else None
        self.up = nn.ModuleList(_Up2(ch[lv + 1], ch[lv]) for lv in reversed(range(depth - 1)))
        # level l > 0: 3x3 conv on concat(up, skip). Level 0: 1x1 conv on concat(up, skip), computed as
        # up + W_skip(skip) because the 1x1 weights acting on the up half fold into the (linear) up conv.
        self.merge = nn.ModuleList(
            _ConvBNReLU(2 * ch[lv] if lv > 0 else ch[lv], ch[lv], kernel=3 if lv > 0 else 1)
            for lv in reversed(range(depth - 1))
        )
        self.head = nn.Conv2d(ch[0], 4 * maps, 1)  # 2x2 depth-to-space -> one mask logit (+ rotation) per bin
        nn.init.constant_(self.head.bias, 1.0)  # start near pass-through (mask ~0.73; rotation 1)
        if self.complex:
            nn.init.zeros_(self.head.bias[8:])  # rotation's imaginary part 0: the rotation starts at 1
        self.to(memory_format=torch.channels_last)  # oneDNN convs, shuffles and concats are faster in NHWC

    # ---- STFT path (public so that tests and plots can use the exact same transform) ----------
    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex STFT [B, n_fft//2+1, frames]; constant padding so that any length works."""
        return torch.stft(wave, self.n_fft, self.hop, window=self.window, center=True, pad_mode="constant",
                          return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, center=True, length=length)

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex STFT [B, F, N] -> mask of the same shape: real in (0, 1), or complex with |mask| < 1."""
        mag = spec.abs()
        n_freq, n_frames = mag.shape[1], mag.shape[2]
        x = torch.log(mag[:, : max(n_freq - 1, 1)] + self.eps)  # drop Nyquist
        x = x - x.mean(dim=(1, 2), keepdim=True)  # gain invariance: a louder input is the same input
        m = 2**self.depth
        f_in, t_in = x.shape[1], x.shape[2]
        x = x[:, None]
        if self.complex:
            x = torch.cat([x, self._phase_features(spec[:, :f_in])], dim=1)
        x = F.pad(x, (0, -t_in % m, 0, -f_in % m))  # pad with the mean (0 after centring)
        x = self.stem(x)
        skips = []
        for down in self.down:
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        if self.context is not None:
            x = self.context(x)
        for lv, up, merge, skip in zip(reversed(range(self.depth - 1)), self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], dim=1)) if lv > 0 else self._merge0(x, skip)
        out = self.head(x)
        if not self.complex:
            return torch.sigmoid(self._crop(_depth_to_space(out), f_in, t_in, n_freq, n_frames))
        out = F.pixel_shuffle(out.contiguous().float(), 2)  # fp32 under autocast: torch.complex has no bf16
        out = self._crop(out, f_in, t_in, n_freq, n_frames)
        re, im = out[:, 1], out[:, 2]
        return torch.sigmoid(out[:, 0]) * torch.complex(re, im) * torch.rsqrt(re * re + im * im + 1e-8)

    @staticmethod
    def _crop(logits: torch.Tensor, f_in: int, t_in: int, n_freq: int, n_frames: int) -> torch.Tensor:
        """Crop padded [..., F', N'] logits to the spectrogram's [..., F, N]; the Nyquist bin copies the bin below."""
        logits = logits[..., :f_in, :t_in]
        if n_freq > f_in:
            logits = torch.cat([logits, logits[..., -1:, :]], dim=-2)
        return logits[..., :n_freq, :n_frames]

    def _phase_features(self, spec: torch.Tensor) -> torch.Tensor:
        """[B, F, N] complex -> [B, 2, F, N]: cos and sin of the phase advance per frame minus each bin's own."""
        advance = spec[:, :, 1:] * spec[:, :, :-1].conj()
        advance = F.pad(advance, (1, 0))  # the first frame has no predecessor: 0 -> (cos, sin) = (0, 0)
        k = torch.arange(spec.shape[1], device=spec.device, dtype=spec.real.dtype)
        advance = advance * torch.polar(torch.ones_like(k), -2 * torch.pi * k * self.hop / self.n_fft)[:, None]
        unit = advance / (advance.abs() + 1e-12)
        return torch.stack([unit.real, unit.imag], dim=1)

    def _merge0(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Level-0 decoder: relu(bn(up(x) + W_skip skip)); in eval the BatchNorm scale folds into both convs."""
        up, merge = self.up[-1], self.merge[-1]
        if self.training or not merge.bn.track_running_stats:
            return merge(skip, add=up(x))
        w, b, scale = merge.folded()
        w_up = up.conv.weight * scale.repeat_interleave(4)[:, None, None, None]
        return F.relu_(F.conv2d(skip, w, b).add_(F.pixel_shuffle(F.conv2d(x, w_up), 2)))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        check_wave(noisy)
        spec = self.stft(noisy)
        mask = self.mask(spec)
        mask = mask.to(spec.dtype if mask.is_complex() else spec.real.dtype)  # fp32 under autocast
        return self.istft(spec * mask, noisy.shape[-1])

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> "UNetEnhancer":
        if name not in UNET_PRESETS:
            raise ValueError(f"unknown U-Net preset {name!r}; choose one of {tuple(UNET_PRESETS)}")
        return cls(**{**UNET_PRESETS[name], **kwargs})


def real_time_factor(model: nn.Module, seconds: float = 10.0, sample_rate: int = 16_000, threads: int = 1,
                     repeats: int = 10) -> float:
    """Median wall time of enhancing ``seconds`` of audio (eval mode, no grad) divided by ``seconds``."""
    import time

    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    was_training = model.training
    model.eval()
    x = 0.1 * torch.randn(1, int(seconds * sample_rate), generator=torch.Generator().manual_seed(0))
    times = []
    try:
        with torch.inference_mode():
            for i in range(repeats + 2):
                t0 = time.perf_counter()
                model(x)
                if i >= 2:  # two warm-up runs (oneDNN primitive creation)
                    times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old_threads)
        model.train(was_training)
    return sorted(times)[len(times) // 2] / seconds

