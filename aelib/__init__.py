"""aelib: task-aware audio enhancement (Milling et al., JCST 39(4), 2024; arXiv 2408.06264).

A thin library for the study. At the bottom, importing nothing above them: ``files``
(atomic writes), ``layout`` (run and shared-stage paths), ``device`` (devices, seeds) and ``config`` (the
one Config and its presets). Above them: ``audio`` and ``mixing`` (I/O, exact-SNR mixtures), ``corpora``
(embedded corpus builder, real-corpus adapters), ``data`` (datasets) and ``profiles`` (speaker profiles),
``models`` (U-Net AE, the four CA models), ``losses``, ``importance``, ``paradigms`` (what trains on what),
``train`` (the one trainer), ``evaluate``, ``metrics``, ``runs`` (run folders, ``load_run``), then
``plots`` and ``study`` (the papermill grid runner).
"""
from .config import Config, make_config

__version__ = "0.1.0"
__all__ = ["Config", "make_config", "load_run", "execute"]


# ``runs`` is imported on first call, not here: it loads torch and every model (~4 s), and every
# ``import aelib.<module>`` runs this file first, so the modules without torch (config, layout, files,
# the study's grid and results) would pay for it too.
def load_run(run_dir):
    """A finished run as a pipeline with ``enhance(wave, sr)`` and ``predict(wave, sr)``."""
    from .runs import load_run as _load

    return _load(run_dir)


def execute(cfg):
    """Train (or resume) and evaluate one run; returns its metrics dict."""
    from .runs import execute as _execute

    return _execute(cfg)
