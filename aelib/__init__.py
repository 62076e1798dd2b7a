"""aelib: task-aware audio enhancement (Milling et al., JCST 39(4), 2024; arXiv 2408.06264).

A thin library for the study: ``config`` (the one Config and its presets), ``audio`` and ``mixing``
(I/O, exact-SNR mixtures), ``corpora`` (embedded corpus builder, real-corpus adapters), ``data``
(datasets), ``models`` (U-Net AE, the four CA models), ``losses``, ``importance``, ``paradigms``
(what trains on what), ``train`` (the one trainer), ``evaluate``, ``metrics``, ``runs`` (run folders,
``load_run``), ``plots`` and ``study`` (the papermill grid runner).
"""
from .config import Config, make_config

__version__ = "0.1.0"
__all__ = ["Config", "make_config", "load_run", "execute"]


def load_run(run_dir):
    """A finished run as a pipeline with ``enhance(wave, sr)`` and ``predict(wave, sr)``."""
    from .runs import load_run as _load

    return _load(run_dir)


def execute(cfg):
    """Train (or resume) and evaluate one run; returns its metrics dict."""
    from .runs import execute as _execute

    return _execute(cfg)
