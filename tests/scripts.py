"""``scripts/<name>.py`` loaded as a module, for the tests of the repository's scripts (not a package)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    """Execute ``scripts/<name>.py`` as a fresh module and return it."""
    spec = importlib.util.spec_from_file_location(f"aelib_script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
