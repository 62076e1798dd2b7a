"""Real-corpus adapters: a dataset folder on disk -> manifests that the study reads.

An adapter only reads the folder it is given (it never downloads) and writes ``<task>.csv`` and/or
``noise.csv`` into ``out_dir``, pointing at the original audio by absolute path (nothing is copied;
Speech Commands' 1-s ``_silence_`` clips are the one exception). Durations come from file headers.
Splits are seeded and reproducible: the same input gives the same manifest bytes. Point a study at
the folder with ``Config(data_dir=out_dir)``; see ``docs/own_data.md``.

    >>> from aelib.corpora.adapters import adapt
    >>> adapt("speechcommands", "/data/speech_commands_v0.02", "/data/aelib/kws")   # doctest: +SKIP
    [PosixPath('/data/aelib/kws/kws.csv'), PosixPath('/data/aelib/kws/noise.csv')]

Command line: ``python -m aelib.corpora.adapters NAME SRC_DIR --out OUT_DIR [options]``.

Adding a dataset is one function ``adapt_x(src, out_dir, *, seed, merge, overwrite, progress, ...)``
returning an :class:`AdaptResult`, one entry in :data:`ADAPTERS`, and its options in ``__main__``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .common import AdapterWarning, AdaptResult
from .emotion import adapt_cremad, adapt_emodb, adapt_ravdess
from .librispeech import adapt_librispeech
from .noise import adapt_demand, adapt_esc50, adapt_musan
from .scenes import adapt_tau2020mobile
from .speechcommands import adapt_speechcommands

# name -> adapter; the name is also the ``corpus`` column of every row it writes
ADAPTERS: dict[str, Callable[..., AdaptResult]] = {
    "speechcommands": adapt_speechcommands,  # kws.csv (+ noise.csv)
    "librispeech": adapt_librispeech,  # asr.csv
    "ravdess": adapt_ravdess,  # ser.csv
    "cremad": adapt_cremad,  # ser.csv
    "emodb": adapt_emodb,  # ser.csv
    "tau2020mobile": adapt_tau2020mobile,  # asc.csv
    "demand": adapt_demand,  # noise.csv
    "musan": adapt_musan,  # noise.csv
    "esc50": adapt_esc50,  # noise.csv
}


def adapt(name: str, src: str | Path, out_dir: str | Path, **opts: Any) -> AdaptResult:
    """Run adapter ``name`` on the dataset folder ``src``; write its manifests into ``out_dir``.

    Returns:
        The written manifest paths (an :class:`AdaptResult`, a ``list[Path]`` that also carries
        ``counts`` per split, ``skipped`` files and ``summary()``).

    Raises:
        ValueError: unknown adapter name.
        FileNotFoundError: ``src`` is not a folder.
        aelib.corpora.manifest.ManifestError: the folder lacks what the dataset's layout needs (the
            message says what was expected where), or the manifest would overwrite another corpus's rows.
    """
    if name not in ADAPTERS:
        raise ValueError(f"unknown adapter {name!r}; choose one of {sorted(ADAPTERS)}")
    return ADAPTERS[name](src, out_dir, **opts)


__all__ = ["ADAPTERS", "AdaptResult", "AdapterWarning", "adapt"]
