"""Acoustic scene classification model: a fully convolutional net on log-mel features that
CONCATENATES the globally pooled outputs of several blocks (multi-scale features), followed by a
1x1 convolution (a linear layer on the pooled vector) as classifier.

Scenes are textures, so the front-end is not normalised per utterance (that would remove the
spectral envelope that tells a scene); a BatchNorm over the mel bands standardises the input instead.
"""
from __future__ import annotations

import torch
from torch import nn

from .frontends import LogMel, masked_mean, pooled_lengths, valid_mask
from .ser import conv_block
from .unet import check_wave


class ASCNet(nn.Module):
    """Multi-scale fully convolutional scene classifier.

    Args:
        n_classes: scene classes.
        width: channels of the first block (blocks have w, 2w, 4w, 4w).
        n_mels: log-mel bands.
        dropout: before the classifier.
        sample_rate: of the input waveform.

    Shape:
        wave [B, T], lengths [B] or None -> logits [B, C].
    """

    model_name = "asc"

    def __init__(self, n_classes: int, width: int = 32, n_mels: int = 64, dropout: float = 0.2,
                 sample_rate: int = 16_000) -> None:
        super().__init__()
        self.model_args = dict(n_classes=n_classes, width=width, n_mels=n_mels, dropout=dropout,
                               sample_rate=sample_rate)
        self.frontend = LogMel(sample_rate, n_mels, normalize="none")
        self.input_norm = nn.BatchNorm2d(n_mels)  # per-band standardisation, learned statistics
        w = width
        chans = [w, 2 * w, 4 * w, 4 * w]
        self.blocks = nn.ModuleList(conv_block(i, o) for i, o in zip([1] + chans[:-1], chans))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv1d(sum(chans), n_classes, 1)  # 1x1 conv on the concatenated pooled features
        # NHWC conv weights: oneDNN then runs the few-channel 2-D convs ~1.7x faster on one CPU thread
        # (a training step at width 16, batch 32, measured), same function to float rounding
        self.to(memory_format=torch.channels_last)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        check_wave(wave)
        feats, flen = self.frontend(wave, lengths)
        x = self.input_norm(feats[:, :, None]).transpose(1, 2)  # [B, 1, M, N]
        pooled = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            y = x.mean(2)  # [B, C, N']
            n = y.shape[-1]
            mask = valid_mask(pooled_lengths(flen, 2 ** (i + 1), n), n, y.shape[0], y.device)
            pooled.append(masked_mean(y, mask))
        z = self.dropout(torch.cat(pooled, dim=1))[:, :, None]
        return self.classifier(z)[:, :, 0]
