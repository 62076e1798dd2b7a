"""The run notebook's parameters <-> a run's Config.

``notebooks/01_train.ipynb`` declares only what a person edits by hand (task, paradigm, preset, seed,
study, data_dir, run_root, threads, progress) and ``config_json``, a JSON object of any other Config
fields. The grid runner resolves each run's Config here (preset, then its ``--set`` overrides) and
passes all of it in ``config_json``, so the notebook rebuilds exactly the Config the runner checked
against the run folder; every knob is declared once, in :mod:`aelib.config`.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..config import PARADIGMS, TASKS, Config, make_config
from ..layout import REPO

TRAIN_NOTEBOOK = REPO / "notebooks" / "01_train.ipynb"
# Notebook parameters that are not Config fields.
RUNTIME_PARAMETERS = ("threads", "progress")


def config_from_parameters(task: str, paradigm: str, preset: str = "small", *, run_root: str = "",
                           test_snrs: Any = "", config_json: str = "", **knobs: Any) -> Config:
    """The Config of a 01_train notebook's parameters (also used by the grid runner to check runs).

    ``""`` and ``None`` mean "the preset's default" (config.py stays the one source of defaults), in
    ``config_json`` as in the other parameters; ``test_snrs`` is a comma-separated string or a sequence
    (and wins over one in ``config_json``); ``config_json`` a JSON object of any other Config fields;
    ``run_root`` "" is ``<repository>/runs`` wherever the notebook runs.
    """
    values = {k: v for k, v in knobs.items() if k not in RUNTIME_PARAMETERS}
    values.update(json.loads(config_json) if config_json else {})
    if (isinstance(test_snrs, str) and test_snrs.strip()) or (isinstance(test_snrs, (list, tuple)) and test_snrs):
        values["test_snrs"] = test_snrs
    values = {k: v for k, v in values.items() if v is not None and v != ""}
    snrs = values.get("test_snrs")
    if isinstance(snrs, str):  # "-5,0,5"
        values["test_snrs"] = tuple(float(s) for s in snrs.split(","))
    elif isinstance(snrs, (list, tuple)):  # JSON has lists only
        values["test_snrs"] = tuple(float(s) for s in snrs)
    values["run_root"] = run_root or str(REPO / "runs")
    return make_config(preset, task=task, paradigm=paradigm, **values)


def overrides_for(overrides: dict[str, Any], task: str, paradigm: str) -> dict[str, Any]:
    """The overrides that apply to one run: unscoped keys, then task, paradigm, task/paradigm scopes."""
    out: dict[str, Any] = {}
    rank = {"": 0, task: 1, paradigm: 2, f"{task}/{paradigm}": 3}
    for key, value in sorted(overrides.items(), key=lambda kv: rank.get(kv[0].rpartition(":")[0], -1)):
        scope, _, name = key.rpartition(":")
        t, slash, p = scope.partition("/")
        if scope and not (scope in (*TASKS, *PARADIGMS) or (slash and t in TASKS and p in PARADIGMS)):
            raise ValueError(f"unknown --set scope {scope!r}: use a task, a paradigm or task/paradigm")
        if scope in rank:
            out[name] = value
    return out


def notebook_parameters(path: str | Path = TRAIN_NOTEBOOK) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (read without importing papermill)."""
    nb = json.loads(Path(path).read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            return {m.group(1) for m in re.finditer(r"^(\w+)\s*(?::[^=]*)?=", src, flags=re.M)}
    raise ValueError(f"{path} has no cell tagged 'parameters'")


def _split_parameters(knobs: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Knobs that are notebook parameters (``names``) pass as themselves; the rest travel in ``config_json``."""
    direct = {k: v for k, v in knobs.items() if k in names and k != "config_json"}
    rest = {k: v for k, v in knobs.items() if k not in direct}
    if rest:
        direct["config_json"] = json.dumps(rest)
    return direct


def run_parameters(task: str, paradigm: str, seed: int, *, preset: str, study: str, data_dir: str, run_root: str,
                   overrides: dict[str, Any], notebook: str | Path = TRAIN_NOTEBOOK) -> tuple[dict[str, Any], Config]:
    """The run notebook's parameters for one run of a grid, and the Config they resolve to.

    The notebook's own parameters stay readable at the top of the executed notebook (``data_dir`` ""
    keeps the preset's default); ``config_json`` carries every other field of the resolved Config.
    Raises what :func:`aelib.config.make_config` raises for a bad override (or ValueError for a bad scope).
    """
    names = notebook_parameters(notebook)
    params: dict[str, Any] = {"task": task, "paradigm": paradigm, "preset": preset, "seed": int(seed),
                              "study": study, "data_dir": data_dir, "run_root": run_root}
    params.update(_split_parameters(overrides_for(overrides, task, paradigm), names))
    cfg = config_from_parameters(**params)
    params["config_json"] = json.dumps({k: v for k, v in cfg.to_dict().items() if k not in names})
    return params, cfg
