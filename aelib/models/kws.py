"""Keyword spotting models: the paper's 1-D CNN on the raw waveform (Fig. 3), and one on log-mel features.

conv1d(k=80, stride 4) + BN + ReLU + max-pool(4), then three conv1d(k=3) + BN + ReLU + max-pool(4)
blocks (the M5 layout of Dai et al. 2017, "Very deep CNNs for raw waveforms"), global average
pooling over the valid frames, and a linear classifier.

The 1-D layers run as 2-D layers with a height of one in channels-last memory: the same function (to
float rounding) but a training step 2.2x faster on one CPU thread (width 32, batch 32, 1 s clips,
measured), because PyTorch's 1-D max-pool with indices was 19 % of the step and has no vectorised
NHWC kernel. Checkpoints of the 1-D layout (3-D conv weights) still load.

:class:`KWSLogMelNet` is the ser model's layout (:class:`aelib.models.ser.SERNet`: log-mel with per-band
utterance normalisation, four conv2d blocks, mean and max pooling) without speaker profiles: on the embedded
corpus it recognises held-out voices that the raw-waveform CNN does not (docs/levers.md).
"""
from __future__ import annotations

import torch
from torch import nn

from .frontends import masked_mean, valid_mask
from .ser import SERNet
from .unet import check_wave


class KWSNet(nn.Module):
    """Raw-audio 1-D CNN classifier.

    Args:
        n_classes: number of keywords (including any filler/unknown class).
        width: channels of the first two blocks; the last two have 2x and 4x.
        dropout: before the classifier.

    Shape:
        wave [B, T] (T >= 1; short inputs are zero-padded internally), lengths [B] or None -> logits [B, C].
    """

    model_name = "kws"
    #: total down-sampling of the time axis: stride 4 then four pools of 4
    factor = 4 * 4**4

    def __init__(self, n_classes: int, width: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.model_args = dict(n_classes=n_classes, width=width, dropout=dropout)
        w = width
        chans = [(1, w, 80, 4), (w, w, 3, 1), (w, 2 * w, 3, 1), (2 * w, 4 * w, 3, 1)]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(i, o, (1, k), stride=(1, s), padding=(0, k // 2 if s == 1 else 38), bias=False),
                          nn.BatchNorm2d(o), nn.ReLU(inplace=True), nn.MaxPool2d((1, 4), ceil_mode=True))
            for i, o, k, s in chans
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(4 * w, n_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        check_wave(wave)
        if wave.shape[-1] < self.factor:
            wave = nn.functional.pad(wave, (0, self.factor - wave.shape[-1]))
        x = wave[:, None, None, :]  # [B, 1, 1, T]: a 1-D signal as a 2-D image of height one
        for block in self.blocks:
            x = block(x)
        x = x[:, :, 0]
        n = x.shape[-1]
        flen = None if lengths is None else ((lengths + self.factor - 1) // self.factor).clamp(1, n)
        pooled = masked_mean(x, valid_mask(flen, n, x.shape[0], x.device))
        return self.fc(self.dropout(pooled))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[override]
        # checkpoints written before the 2-D layout hold conv weights [out, in, k]: add the height axis
        for key, value in state_dict.items():
            if key.startswith(prefix + "blocks.") and key.endswith(".0.weight") and value.dim() == 3:
                state_dict[key] = value[:, :, None]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class KWSLogMelNet(SERNet):
    """2-D CNN keyword classifier on log-mel features (``kws_features="logmel"``).

    Args:
        n_classes: number of keywords (including any filler/unknown class).
        width: channels of the first block.
        n_mels: log-mel bands.
        dropout: before the classifier.
        sample_rate: of the input waveform.

    Shape:
        wave [B, T], lengths [B] or None -> logits [B, C].
    """

    model_name = "kws_logmel"

    def __init__(self, n_classes: int, width: int = 32, n_mels: int = 64, dropout: float = 0.2,
                 sample_rate: int = 16_000) -> None:
        super().__init__(n_classes, width=width, n_mels=n_mels, dropout=dropout, sample_rate=sample_rate)
        self.model_args = dict(n_classes=n_classes, width=width, n_mels=n_mels, dropout=dropout,
                               sample_rate=sample_rate)
