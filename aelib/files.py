"""Atomic file writes: the one home of write-to-a-temporary-file-then-rename.

Every file aelib writes that another process (a resuming run, a parallel study worker, a reader of a
study) may look at is written here: under its final name it is either the old file or the whole new
one, never a truncated one. Nothing in this module knows about runs, configs or models.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp", mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block ends without an error (and
    removed when it raises). ``mode``: the file's permissions (``mkstemp`` makes 0600); None keeps
    mkstemp's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if mode is not None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, mode & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", suffix: str = ".tmp", **kwargs: Any) -> Iterator[IO]:
    """``open`` a temporary file beside ``path`` for writing; it replaces ``path`` once closed cleanly."""
    with atomic_path(path, suffix) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def json_default(o: Any) -> Any:
    """``json.dump``'s fallback for numpy scalars and paths."""
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def atomic_write_json(path: str | os.PathLike, obj: Any, *, sort_keys: bool = False, newline: bool = False) -> None:
    """JSON with one-space indents, written atomically (``newline``: end the file with one)."""
    with atomic_open(path, "w", suffix=".json") as f:
        json.dump(obj, f, indent=1, default=json_default, sort_keys=sort_keys)
        if newline:
            f.write("\n")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", suffix=".txt") as f:
        f.write(text)


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves a truncated checkpoint."""
    import torch  # the one heavy import of this module, only for checkpoints

    with atomic_path(path, ".tmp") as tmp:
        torch.save(obj, tmp)


def atomic_write_with(path: str | os.PathLike, write: Callable[[Path], Any], suffix: str = ".tmp",
                      mode: int | None = None) -> Path:
    """Call ``write(tmp)`` (a writer that takes a path: soundfile, savefig, np.save), then rename."""
    with atomic_path(path, suffix, mode) as tmp:
        write(tmp)
    return Path(path)


def write_csv(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV (columns in first-seen order, floats to 5 significant digits), written atomically."""
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols)
    with atomic_open(path, "w", suffix=".csv", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in r.items()})
