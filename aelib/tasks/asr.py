"""Speech recognition: utterances up to 6 s (not padded), CTC, WER (and CER).

Output units (``Config.asr_units``):

* ``char`` (the default, for open-vocabulary corpora such as LibriSpeech): a fixed vocabulary, index 0
  the CTC blank, then space, apostrophe and a-z. Characters outside it (digits) are dropped, so write
  numbers as words in a corpus.
* ``word``: index 0 the blank, then the sorted words of the *training* transcripts. For a closed
  vocabulary such as the embedded corpus's 154-word command grammar this is the classic choice
  (whole-word models, as for digit strings); on a 2-core CPU budget character CTC did not leave its
  all-blank plateau (validation WER 1.0 after 3 epochs, measured).
  Words never seen in training are dropped from targets (and cannot be predicted).

Transcripts are normalised by :func:`aelib.metrics.normalize_text` in both cases.

Decoding (``Config.asr_decoder``, :mod:`aelib.decoding`): greedy, or for character units a lexicon beam
search, optionally with a word bigram LM, both built from the training transcripts and saved with the model.

The training loss is CTC, optionally plus a weighted bag-of-units term (``Config.asr_bag_weight``,
:func:`aelib.losses.bag_of_units_loss`) that gets whole-word CTC off its plateau sooner.
"""
from __future__ import annotations

import string
from typing import Any, Sequence

import torch
from torch import nn

from .. import decoding, metrics
from ..decoding import is_word_vocab
from ..losses import bag_of_units_loss, ctc_loss
from ..models import ASRNet
from .base import TaskSpec, register

BLANK = "<blank>"
VOCAB: tuple[str, ...] = (BLANK, " ", "'", *string.ascii_lowercase)


class ASRSpec(TaskSpec):
    def labels_from_manifest(self, rows: Sequence[dict], cfg: Any = None) -> list[str]:
        units = getattr(cfg, "asr_units", "char")
        if units == "char":
            return list(VOCAB)
        if units != "word":
            raise ValueError(f"asr_units must be 'char' or 'word', got {units!r}")
        words = sorted({w for r in rows if r.get("split", "train") == "train"
                        for w in metrics.normalize_text(r["label"]).split()})
        if not words:
            raise ValueError("asr: no train transcripts to build a word vocabulary from")
        return [BLANK, *words]

    def encode(self, label: str, labels: Sequence[str]) -> torch.Tensor:
        """Unit ids of the normalised transcript (LongTensor [L]; unknown characters or words dropped)."""
        index = {c: i for i, c in enumerate(labels) if c != BLANK}
        if is_word_vocab(labels):
            ids = [index[w] for w in metrics.normalize_text(label).split() if w in index]
        else:
            text = " ".join("".join(c for c in metrics.normalize_text(label) if c in index).split())
            ids = [index[c] for c in text]
        return torch.tensor(ids, dtype=torch.long)

    def build_model(self, cfg: Any, labels: Sequence[str], texts: Sequence[str] = ()) -> nn.Module:
        """ASRNet; its decoder (``cfg.asr_decoder``) takes its lexicon and LM from ``texts``."""
        decoder = decoding.decoder_spec(cfg.asr_decoder, texts, lm_weight=cfg.asr_lm_weight,
                                        word_score=cfg.asr_word_score, beam=cfg.asr_beam)
        if decoder is not None:
            decoding.check_char_units(labels, cfg.asr_decoder)  # at build time, not at the first validation
        return ASRNet(len(labels), width=cfg.ca_width, n_mels=cfg.n_mels, rnn_dim=cfg.asr_rnn_dim,
                      n_rnn=cfg.asr_rnn_layers, time_stride=cfg.asr_time_stride, sample_rate=cfg.sample_rate,
                      decoder=decoder)

    def loss(self, output: Any, batch: dict[str, Any], cfg: Any = None) -> torch.Tensor:
        """CTC per utterance, normalised by the transcript length (see :func:`aelib.losses.ctc_loss`), plus
        ``cfg.asr_bag_weight`` times the bag-of-units loss (:func:`aelib.losses.bag_of_units_loss`)."""
        log_probs, out_lengths = output
        target, target_length = batch["target"].to(log_probs.device), batch["target_length"].to(log_probs.device)
        loss = ctc_loss(log_probs, out_lengths, target, target_length)
        weight = getattr(cfg, "asr_bag_weight", 0.0)
        if weight > 0:
            loss = loss + weight * bag_of_units_loss(log_probs, out_lengths, target, target_length)
        return loss

    def collate_targets(self, targets: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"target": [B, Lmax] padded with 0, "target_length": [B]}``."""
        lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
        padded = nn.utils.rnn.pad_sequence(list(targets), batch_first=True, padding_value=0)
        return {"target": padded, "target_length": lengths}

    def decode(self, output: Any, labels: Sequence[str], model: nn.Module | None = None) -> list[str]:
        """The model's own decoder (``ASRNet.transcribe``) when it has one, else greedy CTC."""
        log_probs, out_lengths = output
        if model is not None and getattr(model, "decoder", None):
            return model.transcribe(log_probs, out_lengths, labels)
        return decoding.greedy(log_probs, out_lengths, labels)

    def score(self, preds: Sequence[str], refs: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        return metrics.wer_cer(preds, refs)

    def per_sample_correct(self, pred: str, ref: str) -> float:
        """Utterance WER (lower is better, unlike the classification tasks' 1/0)."""
        return metrics.per_utterance_wer(pred, ref)


ASR = register(ASRSpec(
    name="asr", clip_seconds=6.0, interferer="noise", primary_metric="wer", higher_is_better=False,
    fixed_length=False, model="asr", description="speech recognition (WER, CER)",
))
