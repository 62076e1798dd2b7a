"""Per-sample losses: the AE losses (negated metrics, asteroid style) and the CA task losses.

Every function returns one value per sample, shape [batch], never a mean: importance weights
(:mod:`aelib.importance`) are applied before the reduction, so reduction belongs to the caller.
Waveform losses take [batch, time] tensors and raise
``TypeError("Inputs must be of shape [batch, time], got ...")`` otherwise.

References:
    Choi et al. 2019, "Phase-aware speech enhancement with deep complex U-Net" (weighted SDR).
    Le Roux et al. 2019, "SDR - half-baked or well done?" (SI-SDR).
    Graves et al. 2006, "Connectionist temporal classification".
    Dietterich et al. 1997, "Solving the multiple instance problem with axis-parallel rectangles" (max pooling
    of frame scores into a bag label, as weakly labelled sound event detection uses it).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

EPS = 1e-8


def _check(*tensors: torch.Tensor) -> None:
    shape = None
    for t in tensors:
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"Inputs must be of shape [batch, time], got {got}")
        if shape is not None and t.shape != shape:
            raise TypeError(f"Inputs must have the same shape [batch, time], got {tuple(shape)} and {tuple(t.shape)}")
        shape = t.shape


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity along time, [B]; 0 when either signal is all zeros."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)


def wsdr_loss(est: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """Weighted SDR loss of DCUNet (Choi et al. 2019), per sample, in [-1, 1] (-1 is perfect).

    With clean y, noisy x, estimate y', noise z = x - y and estimated noise z' = x - y':
    ``a = |y|^2 / (|y|^2 + |z|^2)``, ``wSDR = -a cos(y, y') - (1 - a) cos(z, z')``.

    Args:
        est: enhanced waveform y'.
        clean: clean waveform y.
        noisy: the AE's input x.

    Shape:
        all [batch, time] -> [batch].
    """
    _check(est, clean, noisy)
    z, z_est = noisy - clean, noisy - est
    e_y, e_z = clean.pow(2).sum(-1), z.pow(2).sum(-1)
    a = e_y / (e_y + e_z + EPS)
    return -a * _cos(clean, est) - (1 - a) * _cos(z, z_est)


def neg_sisdr(est: torch.Tensor, clean: torch.Tensor, zero_mean: bool = True, eps: float = EPS) -> torch.Tensor:
    """Negative scale-invariant SDR in dB, per sample (asteroid's ``singlesrc_neg_sisdr``).

    Shape:
        est, clean: [batch, time] -> [batch].
    """
    _check(est, clean)
    if zero_mean:
        est = est - est.mean(-1, keepdim=True)
        clean = clean - clean.mean(-1, keepdim=True)
    scale = (est * clean).sum(-1, keepdim=True) / (clean.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * clean
    noise = est - target
    ratio = target.pow(2).sum(-1) / (noise.pow(2).sum(-1) + eps)
    return -10 * torch.log10(ratio + eps)


def spectral_mse(est: torch.Tensor, clean: torch.Tensor, n_fft: int = 512, hop: int = 128) -> torch.Tensor:
    """Mean squared error of compressed magnitude spectra ``|STFT|^0.3``, per sample.

    The power-law compression keeps quiet time-frequency regions from being ignored, as is usual
    for magnitude losses in enhancement.

    Shape:
        est, clean: [batch, time] -> [batch].
    """
    _check(est, clean)
    window = torch.hann_window(n_fft, device=est.device, dtype=est.dtype)

    def mag(x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
        return (spec.real.pow(2) + spec.imag.pow(2) + 1e-12).pow(0.15)  # |X|^0.3, finite gradient at 0

    return (mag(est) - mag(clean)).pow(2).mean(dim=(-2, -1))


AE_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "wsdr": wsdr_loss,
    "sisdr": lambda est, clean, noisy: neg_sisdr(est, clean),
    "spec_mse": lambda est, clean, noisy: spectral_mse(est, clean),
}


def ae_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The AE loss ``f(est, clean, noisy) -> [batch]`` named by ``Config.ae_loss``."""
    try:
        return AE_LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown AE loss {name!r}; choose one of {tuple(AE_LOSSES)}") from None


def ce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per sample (reduction none).

    Shape:
        logits [batch, classes], target LongTensor [batch] -> [batch].
    """
    if logits.dim() != 2 or target.dim() != 1 or target.shape[0] != logits.shape[0]:
        raise TypeError(f"expected logits [batch, classes] and target [batch], got {tuple(logits.shape)} "
                        f"and {tuple(target.shape)}")
    return F.cross_entropy(logits.float(), target, reduction="none")


def ctc_loss(log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor,
             target_lengths: torch.Tensor, blank: int = 0) -> torch.Tensor:
    """CTC loss per utterance, divided by the target length (reduction none, ``zero_infinity``).

    Why per character: the raw CTC negative log-likelihood grows with the transcript length, so
    longer utterances would look "harder" to the importance weights only because they are longer.
    Dividing by the number of target symbols makes the values comparable across utterances (the
    same normalisation as torch's ``reduction="mean"``, before the batch mean). Infeasible
    alignments (target longer than the output) give 0 rather than inf (``zero_infinity=True``).

    Shape:
        log_probs [batch, frames, vocab] (log-softmax), out_lengths [batch], targets [batch, Lmax]
        (padded with anything), target_lengths [batch] -> [batch].
    """
    if log_probs.dim() != 3 or targets.dim() != 2:
        raise TypeError(f"expected log_probs [batch, frames, vocab] and targets [batch, length], got "
                        f"{tuple(log_probs.shape)} and {tuple(targets.shape)}")
    nll = F.ctc_loss(log_probs.float().transpose(0, 1), targets, out_lengths, target_lengths, blank=blank,
                     reduction="none", zero_infinity=True)
    return nll / target_lengths.to(nll.dtype).clamp_min(1.0)


def bag_of_units_loss(log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor,
                      target_lengths: torch.Tensor, blank: int = 0) -> torch.Tensor:
    """Which units occur in the utterance, scored from the CTC outputs: an auxiliary loss per utterance.

    For every non-blank unit ``u``, ``p_u = max_t P(u at frame t)`` over the valid frames says whether
    the model emits ``u`` anywhere; the loss is the binary cross-entropy of ``p_u`` against "``u`` is in
    the transcript", summed over units and divided by the target length (as :func:`ctc_loss`).
    Multiple-instance learning (max pooling over time), the classic weak-label recipe of sound event
    detection, here on the CTC posteriors themselves: no extra head.

    Why: whole-word CTC on a small corpus spends most of a short training on its all-blank plateau,
    because only a complete alignment earns gradient; this term rewards any frame that fires a word that
    is present, from the first update. On the embedded corpus (word units, 14 epochs, weight 1) it
    lowered the best validation WER from 0.73/0.74/0.72 to 0.63/0.68/0.70 (seeds 0-2; docs/tuning.md).

    Shape:
        as :func:`ctc_loss` -> [batch].
    """
    if log_probs.dim() != 3 or targets.dim() != 2:
        raise TypeError(f"expected log_probs [batch, frames, vocab] and targets [batch, length], got "
                        f"{tuple(log_probs.shape)} and {tuple(targets.shape)}")
    b, n, v = log_probs.shape
    lp = log_probs.float()
    frames = torch.arange(n, device=lp.device)[None, :] < out_lengths.to(lp.device)[:, None]
    log_p = lp.masked_fill(~frames[:, :, None], float("-inf")).amax(1).clamp(max=-1e-6)  # [B, V]
    symbols = torch.arange(targets.shape[1], device=lp.device)[None, :] < target_lengths.to(lp.device)[:, None]
    present = torch.zeros(b, v, device=lp.device)
    present.scatter_(1, torch.where(symbols, targets.to(lp.device), blank), 1.0)
    keep = torch.ones(v, dtype=torch.bool, device=lp.device)
    keep[blank] = False
    bce = -(present * log_p + (1.0 - present) * torch.log1p(-log_p.exp()))[:, keep]
    return bce.sum(1) / target_lengths.to(lp.dtype).clamp_min(1.0)
