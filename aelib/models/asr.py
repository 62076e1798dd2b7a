"""Speech recognition model: log-mel -> ResCNN -> BiGRU -> characters, trained with CTC.

DeepSpeech2-style (Amodei et al. 2016), in the compact "ResCNN + BiGRU" layout: a conv with stride 4
in frequency and ``time_stride`` in time (20-80 ms output frames), residual 2-D conv blocks with
LayerNorm over the mel axis and GELU, a linear projection of (channels x mels) to ``rnn_dim``,
bidirectional GRU layers each preceded by LayerNorm + GELU, and a two-layer classifier to the
vocabulary (characters, or words). Decoding is :mod:`aelib.decoding`'s (``decoder``).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..decoding import make_decoder
from .frontends import LogMel
from .unet import check_wave


def time_kernel_for(time_stride: int) -> int:
    """Time kernel of the first conv: 3, or the odd ``time_stride + 1`` once a kernel of 3 would skip frames."""
    return 3 if time_stride <= 3 else time_stride + 1 + time_stride % 2


class _FeatLayerNorm(nn.Module):
    """LayerNorm over the feature (mel) axis of a [B, C, F, N] map."""

    def __init__(self, n_feats: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(2, 3)).transpose(2, 3)


class _ResCNN(nn.Module):
    """Residual block: (LayerNorm over mels, GELU, 3x3 conv) twice, on a time-major [B, C, N, F] map.

    The weights are stored as for a [B, C, F, N] map (the layout of the paper's model and of older
    checkpoints) and transposed on the fly: the same function, but LayerNorm over the last axis needs
    no transposed copies (the block's training step ~35 % faster on one CPU thread, measured).
    """

    def __init__(self, channels: int, n_feats: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _FeatLayerNorm(n_feats), nn.GELU(), nn.Conv2d(channels, channels, 3, padding=1),
            _FeatLayerNorm(n_feats), nn.GELU(), nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm1, _, conv1, norm2, _, conv2 = self.body
        h = F.conv2d(F.gelu(norm1.norm(x)), conv1.weight.transpose(2, 3), conv1.bias, padding=1)
        h = F.conv2d(F.gelu(norm2.norm(h)), conv2.weight.transpose(2, 3), conv2.bias, padding=1)
        return x + h


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, N, D] with each sequence's first ``lengths[b]`` frames in reverse order (padding stays put)."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    n = lengths.to(x.device)[:, None]
    idx = torch.where(t < n, n - 1 - t, t)
    return x.gather(1, idx[:, :, None].expand_as(x))


class _BiGRU(nn.Module):
    """LayerNorm, GELU and a bidirectional GRU over the valid frames of padded sequences.

    The two directions are two GRUs on padded batches, the backward one on each sequence reversed within
    its length: the same outputs as a bidirectional ``nn.GRU`` on a packed sequence, whose backward pass
    is ~2x slower on the CPU (measured: 47 against 28 ms for 8 x 55 frames). Padding frames output 0.
    Checkpoints of the packed version (keys ``gru.*``) load into it.
    """

    def __init__(self, d_in: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_in)
        self.fwd = nn.GRU(d_in, hidden, batch_first=True)
        self.bwd = nn.GRU(d_in, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = nn.functional.gelu(self.norm(x))
        lengths = lengths.to(x.device)
        fwd, _ = self.fwd(x)
        bwd, _ = self.bwd(reverse_within(x, lengths))
        valid = torch.arange(x.shape[1], device=x.device)[None, :, None] < lengths[:, None, None]
        return self.dropout(torch.cat([fwd, reverse_within(bwd, lengths)], -1) * valid)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        for key in [k for k in state_dict if k.startswith(prefix + "gru.")]:
            name = key[len(prefix) + 4:]
            new = prefix + ("bwd." + name[: -len("_reverse")] if name.endswith("_reverse") else "fwd." + name)
            state_dict[new] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class ASRNet(nn.Module):
    """Character CTC recogniser.

    Args:
        vocab_size: output symbols including the CTC blank at index 0.
        width: channels of the conv stack.
        n_mels: log-mel bands (even).
        rnn_dim: GRU hidden size per direction.
        n_res: residual conv blocks.
        n_rnn: BiGRU layers.
        dropout: in every block.
        time_stride: of the first conv: 2 gives 20 ms output frames (characters need them), 4 or 8 give
            40 or 80 ms (enough for whole-word units, and a half or a quarter of the GRU steps). The conv's
            time kernel is 3, or ``time_stride + 1`` for strides above 3, so that no input frame is skipped.
        sample_rate: of the input waveform.
        decoder: :func:`aelib.decoding.decoder_spec`'s dict (lexicon, bigram counts, beam), saved with the
            model so that a loaded run decodes as it was evaluated; None decodes greedily.

    Shape:
        wave [B, T], lengths [B] or None -> (log_probs [B, N, V], out_lengths [B]) with N ~ T / (160 time_stride).
    """

    model_name = "asr"

    def __init__(self, vocab_size: int, width: int = 32, n_mels: int = 64, rnn_dim: int = 128, n_res: int = 2,
                 n_rnn: int = 2, dropout: float = 0.1, freq_stride: int = 4, time_stride: int = 2,
                 sample_rate: int = 16_000, decoder: dict | None = None) -> None:
        super().__init__()
        self.model_args = dict(vocab_size=vocab_size, width=width, n_mels=n_mels, rnn_dim=rnn_dim, n_res=n_res,
                               n_rnn=n_rnn, dropout=dropout, freq_stride=freq_stride,
                               time_stride=time_stride, sample_rate=sample_rate)
        self.set_decoder(decoder)
        self.time_stride = time_stride
        self.frontend = LogMel(sample_rate, n_mels)
        n_feats = (n_mels - 1) // freq_stride + 1
        time_kernel = time_kernel_for(time_stride)
        self.conv = nn.Conv2d(1, width, (3, time_kernel), stride=(freq_stride, time_stride),
                              padding=(1, time_kernel // 2))
        self.res = nn.Sequential(*[_ResCNN(width, n_feats) for _ in range(n_res)])
        self.proj = nn.Linear(width * n_feats, rnn_dim)
        self.rnns = nn.ModuleList(_BiGRU(rnn_dim if i == 0 else 2 * rnn_dim, rnn_dim, dropout) for i in range(n_rnn))
        self.classifier = nn.Sequential(nn.Linear(2 * rnn_dim, rnn_dim), nn.GELU(), nn.Dropout(dropout),
                                        nn.Linear(rnn_dim, vocab_size))

    def output_lengths(self, frame_lengths: torch.Tensor) -> torch.Tensor:
        return (frame_lengths - 1) // self.time_stride + 1  # odd kernel k, padding k // 2

    def set_decoder(self, decoder: dict | None) -> None:
        """Decode with ``decoder`` from now on (:func:`aelib.decoding.decoder_spec`; None: greedy), saved with the
        model too; the decoders built for the previous one are dropped."""
        self.decoder = decoder
        self._decoders: dict[tuple[str, ...], Any] = {}  # built on first use, per label set
        self.model_args.pop("decoder", None)
        if decoder is not None:
            self.model_args["decoder"] = decoder

    def transcribe(self, log_probs: torch.Tensor, lengths: torch.Tensor, labels: Sequence[str]) -> list[str]:
        """Transcripts of this model's outputs with its own decoder (:func:`aelib.decoding.make_decoder`)."""
        key = tuple(labels)
        if key not in self._decoders:
            self._decoders[key] = make_decoder(self.decoder, labels)
        return self._decoders[key](log_probs, lengths)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None):
        check_wave(wave)
        if lengths is None:
            lengths = torch.full((wave.shape[0],), wave.shape[-1], dtype=torch.long, device=wave.device)
        feats, flen = self.frontend(wave, lengths)
        x = self.res(self.conv(feats[:, None]).transpose(2, 3).contiguous())  # time-major [B, C, N', F']
        b, c, n, f = x.shape
        x = self.proj(x.transpose(1, 2).reshape(b, n, c * f))
        out_len = self.output_lengths(flen).clamp(1, n)
        for rnn in self.rnns:
            x = rnn(x, out_len)
        return self.classifier(x).float().log_softmax(-1), out_len  # fp32 even under autocast (CTC)
