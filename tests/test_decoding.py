"""asr decoding: greedy, the lexicon beam search, the bigram LM, and the decoder saved with the model."""
from __future__ import annotations

import math

import pytest
import torch

from aelib import decoding
from aelib.config import make_config
from aelib.models import deserialize, serialize
from aelib.tasks import get_task

TASK = get_task("asr")
LABELS = TASK.labels_from_manifest([])  # characters: blank, space, apostrophe, a-z


def _emissions(frames: list[dict[str, float]]) -> torch.Tensor:
    """[1, N, V] log-probs: each frame's listed characters get their probability, the blank the rest."""
    lp = torch.full((1, len(frames), len(LABELS)), 1e-4)
    for t, probs in enumerate(frames):
        for c, p in probs.items():
            lp[0, t, LABELS.index(c)] = p
        lp[0, t, 0] = max(1.0 - sum(probs.values()), 1e-4)
    return (lp / lp.sum(-1, keepdim=True)).log()


def _spell(text: str, ambiguous: dict[int, dict[str, float]] | None = None) -> list[dict[str, float]]:
    """One confident frame per character, a blank frame between; ``ambiguous`` replaces frames by index."""
    frames: list[dict[str, float]] = []
    for c in text:
        frames += [{c: 0.95}, {}]
    for i, probs in (ambiguous or {}).items():
        frames[i] = probs
    return frames


def test_greedy_merges_repeats_and_drops_blanks():
    lp = _emissions(_spell("cal tom"))
    assert decoding.greedy(lp, torch.tensor([lp.shape[1]]), LABELS) == ["cal tom"]
    assert decoding.greedy(lp, torch.tensor([4]), LABELS) == ["ca"]  # stops at the output length


def test_lexicon_search_snaps_a_misspelling_to_a_word():
    """The second 'l' of "call" is heard weakly (greedy drops it); only "call" is in the lexicon."""
    frames = _spell("cal tom")  # c _ a _ l _ " " _ t _ o _ m _
    frames.insert(6, {"l": 0.3})  # a weak second 'l' after the blank that separates repeated letters
    lp = _emissions(frames)
    n = torch.tensor([lp.shape[1]])
    assert decoding.greedy(lp, n, LABELS) == ["cal tom"]
    spec = decoding.decoder_spec("lexicon", ["call tom", "call maria"], lm_weight=0.0, word_score=0.0, beam=10)
    assert decoding.make_decoder(spec, LABELS)(lp, n) == ["call tom"]


def test_bigram_lm_breaks_an_acoustic_tie_by_context():
    """"t?m" is equally "tom" or "tim"; the training transcripts say "call tom" and "see tim"."""
    texts = ["call tom"] * 5 + ["see tim"] * 5
    spec = decoding.decoder_spec("bigram", texts, lm_weight=1.0, word_score=0.0, beam=10)
    decode = decoding.make_decoder(spec, LABELS)
    tie = {"o": 0.45, "i": 0.45}
    lp = _emissions(_spell("call tom", {12: tie}))  # frame 12: the vowel of the second word
    assert decode(lp, torch.tensor([lp.shape[1]])) == ["call tom"]
    lp = _emissions(_spell("see tom", {10: tie}))
    assert decode(lp, torch.tensor([lp.shape[1]])) == ["see tim"]
    acoustic = decoding.make_decoder(decoding.decoder_spec("lexicon", texts, lm_weight=0, word_score=0, beam=10),
                                     LABELS)
    assert acoustic(lp, torch.tensor([lp.shape[1]])) in (["see tim"], ["see tom"])  # a tie without the LM


def test_bigram_counts_and_lm_log_prob():
    counts = decoding.bigram_counts(["Call Tom.", "call maria"])
    assert ["<s>", "call", 2] in counts and ["call", "tom", 1] in counts and ["tom", "</s>", 1] in counts
    spec = decoding.decoder_spec("bigram", ["call tom", "call maria", "play jazz music"] * 3,
                                 lm_weight=0.5, word_score=0.0, beam=5)
    seen, shuffled = decoding.lm_log_prob(spec, "call maria"), decoding.lm_log_prob(spec, "maria call")
    assert seen > shuffled and seen < 0
    table = decoding.bigram_table(spec["words"], spec["bigrams"], spec["smoothing"])
    assert table.shape == (len(spec["words"]) + 1,) * 2
    assert all(math.isclose(math.fsum(math.exp(v) for v in row), 1.0) for row in table.tolist())


def test_decoder_spec_checks_its_input():
    assert decoding.decoder_spec("greedy", [], lm_weight=0.5, word_score=0.0, beam=5) is None
    with pytest.raises(ValueError, match="unknown asr decoder"):
        decoding.decoder_spec("trigram", ["a b"], lm_weight=0.5, word_score=0.0, beam=5)
    with pytest.raises(ValueError, match="training transcripts"):
        decoding.decoder_spec("bigram", [], lm_weight=0.5, word_score=0.0, beam=5)
    with pytest.raises(ValueError, match="unknown asr_decoder"):
        make_config("smoke", task="asr", asr_decoder="beam")


def test_word_units_refuse_the_lexicon_decoder():
    cfg = make_config("smoke", task="asr", asr_units="word", asr_decoder="lexicon")
    rows = [{"label": "call tom", "split": "train"}]
    with pytest.raises(ValueError, match="asr_units='char'"):
        TASK.build_model(cfg, TASK.labels_from_manifest(rows, cfg), ["call tom"])


def test_the_decoder_travels_with_the_model():
    """build_model attaches the decoder; a serialised model decodes the same way after loading."""
    cfg = make_config("smoke", task="asr", asr_decoder="bigram")
    model = TASK.build_model(cfg, LABELS, ["call tom", "call maria"]).eval()
    assert model.decoder["kind"] == "bigram" and model.model_args["decoder"] == model.decoder
    frames = _spell("cal tom")
    frames.insert(6, {"l": 0.3})
    out = (_emissions(frames), torch.tensor([len(frames)]))
    assert TASK.decode(out, LABELS, model) == ["call tom"]
    assert TASK.decode(out, LABELS) == ["cal tom"]  # without the model: greedy
    loaded = deserialize(serialize(model))
    assert loaded.decoder == model.decoder and TASK.decode(out, LABELS, loaded) == ["call tom"]
    spec = model.decoder
    model.set_decoder(None)  # the decoder built for the bigram spec is dropped with it
    assert TASK.decode(out, LABELS, model) == ["cal tom"] and "decoder" not in model.model_args
    model.set_decoder(spec)
    assert TASK.decode(out, LABELS, model) == ["call tom"] and model.model_args["decoder"] == spec
    greedy_model = TASK.build_model(make_config("smoke", task="asr"), LABELS)
    assert greedy_model.decoder is None and "decoder" not in greedy_model.model_args
    assert TASK.decode(out, LABELS, greedy_model) == ["cal tom"]


def test_lexicon_search_decodes_a_padded_batch_to_the_last_word():
    """Each utterance gets its own final word boundary, at its own length (the last word is kept)."""
    short, long = _spell("call tom"), _spell("call maria")
    lp = torch.cat([_emissions(short + [{}] * (len(long) - len(short))), _emissions(long)])
    spec = decoding.decoder_spec("lexicon", ["call tom", "call maria"], lm_weight=0.0, word_score=0.0, beam=10)
    assert decoding.make_decoder(spec, LABELS)(lp, torch.tensor([len(short), len(long)])) == ["call tom", "call maria"]
