"""Speech emotion recognition model: log-mel -> conv2d blocks -> global pooling -> linear.

Four blocks of conv3x3 + BN + ReLU + 2x2 max-pool (channels w, w, 2w, 4w), mean + max pooling over
the valid frames (after averaging the frequency axis), dropout, and a linear classifier. The front-end's
per-utterance normalisation keeps the model from keying on the input gain: ``utterance`` (CMVN per
band) or ``gain`` (one mean and variance, which keeps the spectral tilt; see ``Config.ser_feature_norm``).
"""
from __future__ import annotations

import torch
from torch import nn

from .frontends import LogMel, masked_max, masked_mean, pooled_lengths, valid_mask
from .unet import check_wave


def conv_block(c_in: int, c_out: int, pool: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2, ceil_mode=True))
    return nn.Sequential(*layers)


class SERNet(nn.Module):
    """2-D CNN emotion classifier on log-mel features.

    Args:
        n_classes: emotions.
        width: channels of the first block.
        n_mels: log-mel bands.
        dropout: before the classifier.
        sample_rate: of the input waveform.
        normalize: the log-mel normalisation (:class:`aelib.models.frontends.LogMel`).

    Shape:
        wave [B, T], lengths [B] or None -> logits [B, C].
    """

    model_name = "ser"

    def __init__(self, n_classes: int, width: int = 32, n_mels: int = 64, dropout: float = 0.2,
                 sample_rate: int = 16_000, normalize: str = "utterance") -> None:
        super().__init__()
        self.model_args = dict(n_classes=n_classes, width=width, n_mels=n_mels, dropout=dropout,
                               sample_rate=sample_rate, normalize=normalize)
        self.frontend = LogMel(sample_rate, n_mels, normalize=normalize)
        w = width
        self.blocks = nn.Sequential(conv_block(1, w), conv_block(w, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w))
        self.n_pools = 4
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * w, n_classes)  # mean and max of 4w channels
        # NHWC conv weights: oneDNN then runs the few-channel 2-D convs ~1.7x faster on one CPU thread
        # (a training step at width 16, batch 32, measured), same function to float rounding
        self.to(memory_format=torch.channels_last)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        check_wave(wave)
        feats, flen = self.frontend(wave, lengths)
        x = self.blocks(feats[:, None]).mean(2)  # [B, C, N']
        n = x.shape[-1]
        mask = valid_mask(pooled_lengths(flen, 2**self.n_pools, n), n, x.shape[0], x.device)
        pooled = torch.cat([masked_mean(x, mask), masked_max(x, mask)], dim=1)
        return self.fc(self.dropout(pooled))
