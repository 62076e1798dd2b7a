"""CTC decoding for asr: greedy, or a beam search over a lexicon, optionally with a word bigram LM.

* ``greedy``: best path, repeats merged, blanks dropped (the library default: the paper names no LM).
* ``lexicon``: flashlight's lexicon-constrained beam search (``torchaudio.models.decoder.ctc_decoder``)
  over character CTC outputs: every hypothesis is a sequence of words of the lexicon (the training
  transcripts' words), so a character model's misspellings snap to words.
* ``bigram``: the same search with a word bigram LM of the training transcripts (add-k smoothed),
  weighted by ``lm_weight``; ``word_score`` is a bonus per word that balances the LM's deletions.

Why: on the embedded corpus's command grammar a character model hears better than a whole-word one
(validation CER 0.31 against 0.53-0.61 at the same 14 epochs) but misspells (greedy WER 0.78); the lexicon
search turns that into words (validation WER 0.45) and the bigram adds the grammar's word order (0.34;
all 460 validation clips, seeds 0-1).
The numbers, and the choice of ``lm_weight`` and ``word_score`` on validation data, are in docs/tuning.md.

The decoder's resources (words and bigram counts) are plain lists, saved with the model
(:class:`aelib.models.ASRNet`'s ``decoder`` argument), so a loaded run decodes as it was evaluated.
"""
from __future__ import annotations

import collections
import os
import tempfile
from typing import Any, Sequence

import numpy as np
import torch

from . import metrics
from .config import ASR_DECODERS as DECODERS
BLANK_TOKEN, SIL_TOKEN = "-", "|"  # flashlight's names for the CTC blank and the word boundary
START, END = "<s>", "</s>"


def is_word_vocab(labels: Sequence[str]) -> bool:
    """Whole-word units (the blank first, then words) rather than characters."""
    return any(len(u) > 1 for u in labels[1:])


def greedy(log_probs: torch.Tensor, lengths: torch.Tensor, labels: Sequence[str]) -> list[str]:
    """Best path: merge repeats, drop blanks (index 0), normalise spaces; word units are space-joined."""
    best = log_probs.argmax(-1).cpu()
    sep = " " if is_word_vocab(labels) else ""
    texts = []
    for path, n in zip(best.tolist(), lengths.cpu().tolist()):
        units, prev = [], None
        for k in path[:n]:
            if k != prev and k != 0:
                units.append(labels[k])
            prev = k
        texts.append(" ".join(sep.join(units).split()))
    return texts


def bigram_counts(texts: Sequence[str]) -> list[list[Any]]:
    """``[[previous word, word, count], ...]`` over normalised transcripts, with ``<s>`` and ``</s>``."""
    counts: collections.Counter = collections.Counter()
    for t in texts:
        words = [START, *metrics.normalize_text(t).split(), END]
        counts.update(zip(words, words[1:]))
    return [[a, b, n] for (a, b), n in sorted(counts.items())]


def decoder_spec(kind: str, texts: Sequence[str], *, lm_weight: float, word_score: float, beam: int,
                 smoothing: float = 0.1) -> dict[str, Any] | None:
    """The JSON-able description of a decoder built from training transcripts (None for greedy)."""
    if kind not in DECODERS:
        raise ValueError(f"unknown asr decoder {kind!r}; choose one of {DECODERS}")
    if kind == "greedy":
        return None
    words = sorted({w for t in texts for w in metrics.normalize_text(t).split()})
    if not words:
        raise ValueError(f"asr decoder {kind!r} needs the training transcripts (none given)")
    return {"kind": kind, "words": words, "bigrams": bigram_counts(texts) if kind == "bigram" else [],
            "lm_weight": lm_weight if kind == "bigram" else 0.0, "word_score": word_score, "beam": beam,
            "smoothing": smoothing}


def bigram_table(words: Sequence[str], bigrams: Sequence[Sequence[Any]], smoothing: float) -> np.ndarray:
    """log P(word | previous) as a [V + 1, V + 1] array over ``words + [</s>]`` (rows: ``<s>``/words,
    row V is ``<s>``), add-``smoothing`` estimates: every continuation keeps some probability."""
    index = {w: i for i, w in enumerate(words)}
    index[END] = index[START] = len(words)  # row V: context <s>; column V: outcome </s>
    counts = np.full((len(words) + 1, len(words) + 1), smoothing, dtype=np.float64)
    for a, b, n in bigrams:
        if a in index and b in index:
            counts[index[a], index[b]] += n
    return np.log(counts / counts.sum(1, keepdims=True))


def check_char_units(labels: Sequence[str], kind: str) -> None:
    """Raise unless ``labels`` are character units (the blank, then a space, then single characters)."""
    if len(labels) < 3 or labels[1] != " " or any(len(u) != 1 for u in labels[1:]):
        raise ValueError(f"the {kind!r} decoder needs character units (asr_units='char'), got {list(labels[:5])}...")


class LexiconDecoder:
    """Lexicon beam search (flashlight, via torchaudio) over character CTC log-probs.

    Args:
        spec: :func:`decoder_spec`'s dict.
        labels: the model's units: the CTC blank first, then a space, then the other characters.
    """

    def __init__(self, spec: dict[str, Any], labels: Sequence[str]) -> None:
        from torchaudio.models.decoder import ctc_decoder

        check_char_units(labels, spec["kind"])
        tokens = [BLANK_TOKEN, SIL_TOKEN, *labels[2:]]
        known = set(labels[2:])
        words = [w for w in spec["words"] if set(w) <= known]
        fd, path = tempfile.mkstemp(suffix=".lexicon.txt")
        try:
            with os.fdopen(fd, "w") as f:
                f.writelines(f"{w}\t{' '.join(w)} {SIL_TOKEN}\n" for w in words)  # a word ends at a boundary
            lm = _bigram_lm(words, spec["bigrams"], spec["smoothing"]) if spec["kind"] == "bigram" else None
            self._decode = ctc_decoder(lexicon=path, tokens=tokens, lm=lm, beam_size=int(spec["beam"]),
                                       lm_weight=float(spec["lm_weight"]), word_score=float(spec["word_score"]),
                                       blank_token=BLANK_TOKEN, sil_token=SIL_TOKEN, unk_word="<unk>")
        finally:
            os.unlink(path)
        if lm is not None:
            lm.bind(self._decode.word_dict)

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        emissions, lengths = with_final_boundary(log_probs.detach().float().cpu(), lengths.cpu())
        hyps = self._decode(emissions.contiguous(), lengths.to(torch.int32))
        return [" ".join(h[0].words) if h else "" for h in hyps]


def with_final_boundary(log_probs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Append a frame that is surely a word boundary (the space, index 1) after each utterance.

    Lexicon words end with the boundary token, and a transcript has no space after its last word, so
    without this frame the search could never complete the last word and would drop it.
    """
    b, n, v = log_probs.shape
    boundary = torch.full((v,), -1e4, dtype=log_probs.dtype)
    boundary[1] = 0.0
    out = torch.cat([log_probs, boundary.expand(b, 1, v)], 1)
    out[torch.arange(b), lengths.long()] = boundary
    return out, lengths + 1


def _bigram_lm_class() -> type:
    from torchaudio.models.decoder import CTCDecoderLM, CTCDecoderLMState

    class BigramLM(CTCDecoderLM):
        """flashlight's LM interface over :func:`bigram_table`; a state remembers the previous word."""

        def __init__(self, words: Sequence[str], bigrams: Sequence[Sequence[Any]], smoothing: float) -> None:
            CTCDecoderLM.__init__(self)
            self.words = list(words)
            self.table = bigram_table(self.words, bigrams, smoothing)
            self.column: dict[int, int] = {}
            self.previous: dict[Any, int] = {}

        def bind(self, word_dict: Any) -> None:
            """Map the decoder's word indices to table columns (unknown words: the ``</s>`` column)."""
            self.column = {word_dict.get_index(w): i for i, w in enumerate(self.words)}

        def start(self, start_with_nothing: bool = False) -> Any:
            self.previous = {}
            state = CTCDecoderLMState()
            self.previous[state] = len(self.words)
            return state

        def score(self, state: Any, usr_token_idx: int) -> tuple[Any, float]:
            column = self.column.get(usr_token_idx, len(self.words))
            child = state.child(usr_token_idx)
            self.previous[child] = column
            return child, float(self.table[self.previous[state], column])

        def finish(self, state: Any) -> tuple[Any, float]:
            return state, float(self.table[self.previous[state], len(self.words)])

    return BigramLM


def _bigram_lm(words: Sequence[str], bigrams: Sequence[Sequence[Any]], smoothing: float) -> Any:
    """A flashlight LM (built lazily: torchaudio's decoder module needs flashlight-text at import)."""
    return _bigram_lm_class()(words, bigrams, smoothing)


def make_decoder(spec: dict[str, Any] | None, labels: Sequence[str]):
    """A callable ``(log_probs [B, N, V], lengths [B]) -> transcripts`` for ``spec`` (greedy for None)."""
    if spec is None or spec.get("kind", "greedy") == "greedy":
        return lambda log_probs, lengths: greedy(log_probs, lengths, labels)
    return LexiconDecoder(spec, labels)


def lm_log_prob(spec: dict[str, Any], text: str) -> float:
    """Natural-log probability of a transcript under ``spec``'s bigram LM (for tests and inspection)."""
    table = bigram_table(spec["words"], spec["bigrams"], spec["smoothing"])
    index = {w: i for i, w in enumerate(spec["words"])}
    prev, total = len(spec["words"]), 0.0
    for w in metrics.normalize_text(text).split():
        col = index.get(w, len(spec["words"]))
        total += float(table[prev, col])
        prev = col
    return total + float(table[prev, len(spec["words"])])


__all__ = ["DECODERS", "is_word_vocab", "check_char_units", "greedy", "bigram_counts", "decoder_spec", "bigram_table",
           "LexiconDecoder", "make_decoder", "with_final_boundary", "lm_log_prob"]
