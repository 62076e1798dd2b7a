"""pocketsphinx as a frozen black-box ASR: the recogniser of aelib.own's worked example.

pocketsphinx (PyPI) ships its en-us acoustic model; nobody here trained it. :func:`pocketsphinx_box`
decodes with that acoustic model and a word bigram language model of the *training* transcripts (written
as an ARPA file: absolute discounting, unigram backoff), which is how a user points a recogniser at a
vocabulary, and scores each utterance by its WER (:func:`aelib.metrics.per_utterance_wer`).
"""
from __future__ import annotations

import collections
import math
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..metrics import per_utterance_wer
from .downstream import BlackBox

DISCOUNT = 0.5


def bigram_arpa(transcripts: Sequence[str], path: str | Path) -> Path:
    """Write a word bigram LM of ``transcripts`` as ARPA (absolute discounting ``DISCOUNT``, backoff 0.5)."""
    sents = [t.split() for t in transcripts if t.split()]
    uni = collections.Counter(w for s in sents for w in s)
    bi = collections.Counter((a, b) for s in sents for a, b in zip(["<s>", *s], [*s, "</s>"]))
    ctx = collections.Counter()
    for (a, _), c in bi.items():
        ctx[a] += c
    total = sum(uni.values()) + len(sents)
    backoff = math.log10(0.5)
    lines = ["\\data\\", f"ngram 1={len(uni) + 2}", f"ngram 2={len(bi)}", "", "\\1-grams:",
             f"-99 <s> {backoff:.4f}", f"{math.log10(len(sents) / total):.4f} </s> {backoff:.4f}"]
    lines += [f"{math.log10(uni[w] / total):.4f} {w} {backoff:.4f}" for w in sorted(uni)]
    lines += ["", "\\2-grams:"]
    lines += [f"{math.log10(max(c - DISCOUNT, 0.01) / ctx[a]):.4f} {a} {b}" for (a, b), c in sorted(bi.items())]
    path = Path(path)
    path.write_text("\n".join([*lines, "", "\\end\\", ""]))
    return path


class Recogniser:
    """pocketsphinx's decoder with the bundled en-us acoustic model and a bigram LM of ``transcripts``."""

    def __init__(self, transcripts: Sequence[str]) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as e:  # an optional dependency
            raise ImportError("the pocketsphinx example needs `pip install pocketsphinx` (PyPI; bundles en-us)") from e
        self._dir = tempfile.TemporaryDirectory(prefix="aelib-ps-")
        lm = bigram_arpa(transcripts, Path(self._dir.name) / "train.arpa")
        self.decoder = Decoder(lm=str(lm), loglevel="ERROR")

    def __call__(self, wave: np.ndarray) -> str:
        pcm = (np.clip(np.asarray(wave, np.float32), -1.0, 1.0) * 32767).astype(np.int16)
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm.tobytes(), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""


def pocketsphinx_box(transcripts: Sequence[str], batch_size: int = 16) -> BlackBox:
    """A :class:`BlackBox` whose per-utterance error is pocketsphinx's WER against the target transcript."""
    rec = Recogniser(transcripts)

    def errors(waves: list[np.ndarray], targets: list[str]) -> list[float]:
        return [per_utterance_wer(rec(w), t) for w, t in zip(waves, targets)]

    box = BlackBox(errors, sr=16_000, batch_size=batch_size)
    box.recogniser = rec  # type: ignore[attr-defined]  # for transcripts in examples
    return box


def from_clips(train) -> BlackBox:
    """The factory of ``notebooks/04_own_model.ipynb``: pocketsphinx with an LM of ``train``'s transcripts."""
    return pocketsphinx_box(train.targets)
