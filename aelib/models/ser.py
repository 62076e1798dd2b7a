"""Speech emotion recognition model: log-mel -> conv2d blocks -> global pooling -> linear.

Four blocks of conv3x3 + BN + ReLU + 2x2 max-pool (channels w, w, 2w, 4w), mean + max pooling over
the valid frames (after averaging the frequency axis), dropout, and a linear classifier. The front-end's
per-utterance normalisation keeps the model from keying on the input gain: ``utterance`` (CMVN per
band) or ``gain`` (one mean and variance, which keeps the spectral tilt; see ``Config.ser_feature_norm``).

With ``speaker_norm`` the features also lose their speaker's average log-mel spectrum (a *profile*,
:meth:`SERNet.profile`): the proxy's emotions, like acted emotions, are departures from a voice's own
pitch, rate and timbre, so the voice's mean is what the classes are defined against (speaker-level
normalisation, as SER systems commonly use). The caller passes each clip's profile (:mod:`aelib.profiles`
computes it from the speaker's *other* clean clips); without one, the training speakers' mean
(``profile_prior``, saved with the weights) stands in.

With ``prosody`` a second branch adds the clip's prosodic statistics (:mod:`aelib.models.prosody`: pitch
level, range and movement, voicing, spectral tilt, rhythm), speaker-normalised by the same profile (which then
holds the speaker's mean statistics after its mean log-mel) and standardised by a BatchNorm, to the pooled CNN
features before the classifier. They carry no gradient: with a front-end trained through the CA, only the
CNN branch reaches it.
"""
from __future__ import annotations

import torch
from torch import nn

from .frontends import LogMel, masked_max, masked_mean, pooled_lengths, valid_mask
from .prosody import N_PROSODY, prosody
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
        speaker_norm: subtract a speaker profile [B, n_mels] from the features (see the module docstring).
        prosody: add the prosodic statistics branch (see the module docstring); the profile is then
            [B, n_mels + N_PROSODY].

    Shape:
        wave [B, T], lengths [B] or None, profile [B, D] or None -> logits [B, C].
    """

    model_name = "ser"

    def __init__(self, n_classes: int, width: int = 32, n_mels: int = 64, dropout: float = 0.2,
                 sample_rate: int = 16_000, normalize: str = "utterance", speaker_norm: bool = False,
                 prosody: bool = False) -> None:
        super().__init__()
        self.model_args = dict(n_classes=n_classes, width=width, n_mels=n_mels, dropout=dropout,
                               sample_rate=sample_rate, normalize=normalize, speaker_norm=speaker_norm)
        if prosody:  # only when on: the checkpoints of models without it stay as they were
            self.model_args["prosody"] = True
        self.frontend = LogMel(sample_rate, n_mels, normalize=normalize)
        self.speaker_norm, self.prosody, self.n_mels, self.sample_rate = speaker_norm, prosody, n_mels, sample_rate
        n_prosody = N_PROSODY if prosody else 0
        if speaker_norm:  # the training speakers' mean profile, for clips whose speaker is unknown
            self.register_buffer("profile_prior", torch.zeros(n_mels + n_prosody))
        if prosody:
            self.prosody_norm = nn.BatchNorm1d(N_PROSODY)
        w = width
        self.blocks = nn.Sequential(conv_block(1, w), conv_block(w, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w))
        self.n_pools = 4
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * w + n_prosody, n_classes)  # mean and max of 4w channels (+ the prosody)
        # NHWC conv weights: oneDNN then runs the few-channel 2-D convs ~1.7x faster on one CPU thread
        # (a training step at width 16, batch 32, measured), same function to float rounding
        self.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def profile(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Each clip's mean normalised log-mel over its valid frames, [B, n_mels], followed by its prosodic
        statistics with ``prosody`` ([B, n_mels + N_PROSODY]): averaged over a speaker's clips, the profile that
        ``forward`` subtracts. Never augmented: the front-end runs in eval mode."""
        mode = self.frontend.training
        self.frontend.eval()
        feats, flen = self.frontend(wave, lengths)
        self.frontend.train(mode)
        mel = masked_mean(feats, valid_mask(flen, feats.shape[-1], feats.shape[0], feats.device))
        return torch.cat([mel, prosody(wave, lengths, self.sample_rate)], 1) if self.prosody else mel

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                profile: torch.Tensor | None = None) -> torch.Tensor:
        check_wave(wave)
        feats, flen = self.frontend(wave, lengths)
        prof = None
        if self.speaker_norm:
            prof = self.profile_prior.expand(feats.shape[0], -1) if profile is None else profile.to(feats)
            feats = feats - prof[:, :self.n_mels, None]
        elif profile is not None:
            raise ValueError("a speaker profile was given to a model built without speaker_norm")
        x = self.blocks(feats[:, None]).mean(2)  # [B, C, N']
        n = x.shape[-1]
        mask = valid_mask(pooled_lengths(flen, 2**self.n_pools, n), n, x.shape[0], x.device)
        pooled = torch.cat([masked_mean(x, mask), masked_max(x, mask)], dim=1)
        pooled = self.dropout(pooled)
        if self.prosody:  # ten numbers that carry the label: no dropout on them
            stats = prosody(wave, lengths, self.sample_rate)
            if prof is not None:
                stats = stats - prof[:, self.n_mels:]
            pooled = torch.cat([pooled, self.prosody_norm(stats)], dim=1)
        return self.fc(pooled)
