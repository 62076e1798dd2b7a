"""Sample importance: per-sample CA losses -> weights of the per-sample AE losses.

In the iterative paradigm (Milling et al. 2024) the AE is trained with
``L = sum_i w_i L_AE,i / sum_i w_i`` where ``w_i`` grows with the frozen CA's loss on the enhanced
sample i, so that the AE spends its capacity on what the task finds hard. The paper does not give
the exact normalisation of the weights, so this module offers four, all computed per batch from
DETACHED losses (no CA gradient can reach the AE through the weights), all non-negative and
monotone non-decreasing in the loss:

``ratio`` (default)
    ``w_i = min(l_i / mean(l), w_max)``. Linear in the loss, so "twice as hard" means "twice the
    weight"; scale-free, so CE (kws, ser, asc) and per-character CTC (asr) need no per-task tuning;
    mean one before the clip, so the AE's learning rate keeps its meaning; the clip bounds the
    variance that one outlier (e.g. a mislabelled clip) can inject.
``softmax``
    ``w = B * softmax(l / (T * mean(l)))``: mean one exactly; the temperature T is in units of the
    batch-mean loss (T -> inf gives uniform weights, small T concentrates on the hardest sample).
``rank``
    weights linear in the rank of the loss, from ``0`` (easiest) to ``2`` (hardest), mean one; ties
    share their average rank. Ignores how much harder a sample is, so it is robust to outliers.
``uniform``
    all ones: the ablation, under which iterative AE training reduces to cascade-style AE training.

Degenerate batches (B == 1, all-zero or non-finite mean losses) give ones.
"""
from __future__ import annotations

import torch

from .config import IMPORTANCE_METHODS as METHODS  # declared with Config.importance


def importance_weights(losses: torch.Tensor, method: str = "ratio", *, w_max: float = 5.0,
                       temperature: float = 1.0) -> torch.Tensor:
    """Per-sample AE loss weights from per-sample CA losses.

    Args:
        losses: per-sample CA losses, shape [batch]; gradients are never tracked.
        method: one of :data:`METHODS`.
        w_max: clip of ``ratio`` weights (ignored by the others).
        temperature: ``softmax`` temperature in units of the batch-mean loss.

    Returns:
        detached weights [batch], non-negative, on the device and in the float dtype of ``losses``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown importance method {method!r}; choose one of {METHODS}")
    if not isinstance(losses, torch.Tensor) or losses.dim() != 1:
        got = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
        raise TypeError(f"losses must be of shape [batch], got {got}")
    losses = losses.detach()
    dtype = losses.dtype if losses.is_floating_point() else torch.float32
    l = losses.to(dtype).clamp_min(0.0)  # noqa: E741 - CE and per-character CTC are >= 0 anyway
    ones = torch.ones_like(l)
    b = l.numel()
    mean = l.mean() if b else l.new_tensor(0.0)
    if method == "uniform" or b <= 1 or not torch.isfinite(mean) or float(mean) <= 0.0:
        return ones
    if method == "ratio":
        if w_max <= 0:
            raise ValueError(f"w_max must be positive, got {w_max}")
        return (l / mean).clamp(max=w_max)
    if method == "softmax":
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        return b * torch.softmax(l / (temperature * mean), dim=0)
    # rank: average ranks for ties, mapped linearly to [0, 2] (mean exactly 1)
    order = torch.argsort(l, stable=True)
    ranks = torch.empty_like(l)
    ranks[order] = torch.arange(b, dtype=dtype, device=l.device)
    uniq, inverse = torch.unique(l, return_inverse=True)
    avg = torch.zeros(len(uniq), dtype=dtype, device=l.device).index_add_(0, inverse, ranks)
    avg = avg / torch.bincount(inverse, minlength=len(uniq)).to(dtype)
    return 2.0 * avg[inverse] / (b - 1)
