"""The corpus a study (or one run notebook) trains on: found, or built once when it is the embedded default."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from ..config import TASKS, default_data_dir
from ..corpora.embedded import build_corpus, is_built


def ensure_corpus(preset: str, data_dir: str = "", tasks: Sequence[str] = TASKS, progress: bool = True) -> Path:
    """The corpus root for ``preset``; builds the embedded corpus when it is the default root and missing.

    An explicit ``data_dir`` (or the paper preset) is never built: its manifests must exist.
    """
    default = Path(default_data_dir(preset)).expanduser()
    root = Path(data_dir).expanduser() if data_dir else default
    embedded = root.resolve() == default.resolve() and preset in ("smoke", "small")
    if embedded and not is_built(root, preset, 0):
        print(f"building the embedded {preset} corpus in {root} (once) ...", file=sys.stderr)
        return build_corpus(root, size=preset, seed=0, progress=progress)
    missing = [f"{t}.csv" for t in tasks if not (root / f"{t}.csv").exists()]
    if missing:
        raise FileNotFoundError(
            f"{root} has no {', '.join(missing)}: build the embedded corpus (python -m aelib.corpora build) or "
            "adapt a real corpus (python -m aelib.corpora adapt NAME SRC --out DIR) and pass --data-dir DIR")
    return root
