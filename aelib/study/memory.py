"""The memory monitor of a study: resident memory of the runner's process tree, and its peak."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


def tree_rss_mb(root_pid: int | None = None) -> float:
    """Resident memory (MB) of a process and all its descendants, from /proc (0.0 where there is none)."""
    root_pid = os.getpid() if root_pid is None else root_pid
    parent: dict[int, int] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == pid and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total / 2**20


class PeakMemory:
    """Samples :func:`tree_rss_mb` of this process tree every ``interval`` s in a thread; ``peak_mb``.

    The runs are child processes of the runner (notebook workers and their kernels), so the tree is
    what a study costs in memory.
    """

    def __init__(self, interval: float = 2.0) -> None:
        self.interval, self.peak_mb = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
