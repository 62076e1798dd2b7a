"""Task registry: ``TASKS`` maps a name to its :class:`~aelib.tasks.base.TaskSpec`; ``get_task(name)``.

Every module in this package except ``base`` is imported on first use and registers its spec, so
adding a task is one new file that calls :func:`aelib.tasks.base.register`.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import TASKS, TaskSpec, register


def _discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_discover()


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {tuple(sorted(TASKS))}") from None


__all__ = ["TASKS", "TaskSpec", "get_task", "register"]
