"""Shared fixtures: the smoke corpus, built once per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_corpus(tmp_path_factory) -> Path:
    """Root of a finished smoke-size embedded corpus (seed 0).

    Reuses ``$AELIB_DATA/smoke`` when it holds a finished build of this builder version; otherwise builds
    into a session temporary folder (about 10 s once the Debian packages are in the cache).
    """
    from aelib.corpora.embedded import build_corpus, is_built

    if os.environ.get("AELIB_DATA"):
        cached = Path(os.environ["AELIB_DATA"]) / "smoke"
        if is_built(cached, "smoke", 0):
            return cached
    return build_corpus(tmp_path_factory.mktemp("corpus") / "smoke", size="smoke", seed=0, progress=False)


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests use small tensors: one thread is faster than two, and far faster when the cores are shared."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
