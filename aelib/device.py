"""Devices and seeds: where tensors go, and the state set before any object is built."""
from __future__ import annotations

import platform
from pathlib import Path

from typing import Any

import numpy as np
import torch


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else the CPU; any other name as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """A batch's tensors on ``device`` (other values as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def seed_everything(seed: int) -> None:
    """Seed torch and numpy before any object is built (the seed is part of the run path)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def cpu_model() -> str:
    """This machine's CPU model (``/proc/cpuinfo``), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
