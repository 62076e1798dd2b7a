"""Speech recognition model: log-mel -> ResCNN -> BiGRU -> characters, trained with CTC.

DeepSpeech2-style (Amodei et al. 2016), in the compact "ResCNN + BiGRU" layout: a 3x3 conv with
stride 2 in time and frequency (20 ms output frames), residual 2-D conv blocks with LayerNorm over
the mel axis and GELU, a linear projection of (channels x mels) to ``rnn_dim``, bidirectional GRU
layers each preceded by LayerNorm + GELU, and a two-layer classifier to the vocabulary.
"""
from __future__ import annotations

import torch
from torch import nn

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
    def __init__(self, channels: int, n_feats: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _FeatLayerNorm(n_feats), nn.GELU(), nn.Conv2d(channels, channels, 3, padding=1),
            _FeatLayerNorm(n_feats), nn.GELU(), nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _BiGRU(nn.Module):
    def __init__(self, d_in: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_in)
        self.gru = nn.GRU(d_in, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = nn.functional.gelu(self.norm(x))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.dropout(out)


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

    Shape:
        wave [B, T], lengths [B] or None -> (log_probs [B, N, V], out_lengths [B]) with N ~ T / (160 time_stride).
    """

    model_name = "asr"

    def __init__(self, vocab_size: int, width: int = 32, n_mels: int = 64, rnn_dim: int = 128, n_res: int = 2,
                 n_rnn: int = 2, dropout: float = 0.1, freq_stride: int = 4, time_stride: int = 2,
                 sample_rate: int = 16_000) -> None:
        super().__init__()
        self.model_args = dict(vocab_size=vocab_size, width=width, n_mels=n_mels, rnn_dim=rnn_dim, n_res=n_res,
                               n_rnn=n_rnn, dropout=dropout, freq_stride=freq_stride,
                               time_stride=time_stride, sample_rate=sample_rate)
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

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None):
        check_wave(wave)
        if lengths is None:
            lengths = torch.full((wave.shape[0],), wave.shape[-1], dtype=torch.long, device=wave.device)
        feats, flen = self.frontend(wave, lengths)
        x = self.res(self.conv(feats[:, None]))  # [B, C, F', N']
        b, c, f, n = x.shape
        x = self.proj(x.permute(0, 3, 1, 2).reshape(b, n, c * f))
        out_len = self.output_lengths(flen).clamp(1, n)
        for rnn in self.rnns:
            x = rnn(x, out_len)
        return self.classifier(x).float().log_softmax(-1), out_len  # fp32 even under autocast (CTC)
