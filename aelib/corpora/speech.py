"""The two word-level speech tasks of the embedded corpus: keyword spotting (kws) and command ASR (asr).

This module owns the kws word lists, the asr command grammar with its held-out word combinations, and
the clip making of both (synthetic clips from :mod:`tts`, real test clips from the asterisk speaker).

ASR held-out combinations: a sentence's *frame* is the sentence with every run of digit words replaced
by ``#`` (:func:`sentence_frame`), e.g. "turn the volume up by #". Frames are partitioned into
train/val/test, so a val/test sentence is a word combination never heard in training (the digits vary
everywhere); every word of a val/test frame also occurs in some training frame.
"""
from __future__ import annotations

import itertools
import re
import warnings

import numpy as np

from ..audio import SAMPLE_RATE, is_silent, load_audio, write_audio
from . import sources, tts
from .dsp import place, rng, set_rms_db, trim

KWS_CORE = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
KWS_UNKNOWN_WORDS = ["bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
                     "backward", "forward", "follow", "learn", "visual"]
UNKNOWN, SILENCE = "_unknown_", "_silence_"
KWS_LABELS = KWS_CORE + [UNKNOWN, SILENCE]
# real asterisk recordings (one female speaker) that genuinely say a core word, and a few other words
KWS_REAL = {f"digits/{i}": w for i, w in enumerate(KWS_CORE[10:])} | {"vm-no": "no"}
KWS_REAL_UNKNOWN = ["hello", "goodbye", "digits/10", "digits/today", "number", "calling", "digits/hundred",
                    "minutes", "extension", "digits/tomorrow"]
REAL_SPEAKER = "asterisk-allison"
DIGITS = KWS_CORE[10:]

_S = {
    "room": ["kitchen", "bedroom", "bathroom", "garage", "office", "hallway", "garden", "living room"],
    "device": ["lights", "lamp", "heater", "fan", "radio", "television", "speaker"],
    "level": ["volume", "heating", "brightness", "music"],
    "updown": ["up", "down"], "onoff": ["on", "off"], "openclose": ["open", "close"],
    "name": ["anna", "peter", "maria", "john", "lucy", "david", "sarah", "tom"],
    "genre": ["jazz", "rock", "classical", "pop", "dance", "folk"],
    "mover": ["robot", "camera", "arm", "cart"],
    "direction": ["left", "right", "forward", "back", "up", "down"],
    "opening": ["door", "window", "blinds", "curtains", "gate"],
    "city": ["london", "paris", "berlin", "boston", "denver", "madrid", "tokyo", "sydney"],
    "day": ["today", "tomorrow", "tonight", "monday", "friday", "sunday"],
    "item": ["milk", "bread", "eggs", "apples", "coffee", "rice", "cheese", "butter", "tea", "sugar"],
    "chore": ["water the plants", "take my pills", "call mum", "feed the cat", "buy milk", "check the oven"],
    "phrase": ["i am late", "see you soon", "call me back", "good night", "i'm on my way", "don't wait for me"],
    "show": ["calendar", "schedule", "news", "forecast"],
    "place": ["home", "work"],
}
# (pattern, digit run length range); "#" is the digit run, {slot} a word list above
ASR_TEMPLATES = [
    ("set an alarm for #", (2, 4)), ("set the alarm for #", (2, 4)), ("wake me up at #", (3, 4)),
    ("call #", (3, 6)), ("dial #", (3, 6)), ("call {name}", None), ("call {name} at {place}", None),
    ("turn the {level} {updown} by #", (1, 1)), ("turn {onoff} the {room} {device}", None),
    ("set the {room} temperature to #", (2, 2)), ("play {genre} music in the {room}", None),
    ("move the {mover} {direction} # steps", (1, 1)), ("{openclose} the {room} {opening}", None),
    ("send a message to {name} saying {phrase}", None), ("what is the weather in {city} {day}", None),
    ("start a timer for # minutes", (1, 2)), ("stop the timer", None), ("pause the music", None),
    ("add {item} to the shopping list", None), ("remind me to {chore} at #", (2, 4)),
    ("show me the {show} for {day}", None), ("read my messages from {name}", None),
]
_DIGIT_RUN = re.compile(r"\b(?:%s)(?: (?:%s))*\b" % ("|".join(DIGITS), "|".join(DIGITS)))


def sentence_frame(sentence: str) -> str:
    """The word combination of a sentence: each run of digit words replaced by '#'."""
    return _DIGIT_RUN.sub("#", sentence.strip())


def _frames(pattern: str) -> list[str]:
    slots = re.findall(r"{(\w+)}", pattern)
    out = []
    for values in itertools.product(*(_S[s] for s in slots)):
        f = pattern
        for s, v in zip(slots, values):
            f = f.replace("{%s}" % s, v, 1)
        out.append(f)
    return out


def asr_partition(seed: int) -> dict[str, list[tuple[int, str]]]:
    """(template index, frame) per split; a template with fewer than 5 frames stays in train."""
    gen = rng(seed, "asr-frames")
    parts: dict[str, list[tuple[int, str]]] = {"train": [], "val": [], "test": []}
    for t, (pattern, _) in enumerate(ASR_TEMPLATES):
        frames = _frames(pattern)
        order = [frames[i] for i in gen.permutation(len(frames))]
        n_test = 0 if len(frames) < 5 else max(1, round(0.2 * len(frames)))
        n_val = 0 if len(frames) < 5 else max(1, round(0.15 * len(frames)))
        parts["test"] += [(t, f) for f in order[:n_test]]
        parts["val"] += [(t, f) for f in order[n_test : n_test + n_val]]
        parts["train"] += [(t, f) for f in order[n_test + n_val :]]
    vocab = {w for _, f in parts["train"] for w in f.split()}
    for split in ("val", "test"):  # a held-out frame may not need a word training never has
        keep = []
        for t, f in parts[split]:
            (keep if set(f.split()) - {"#"} <= vocab else parts["train"]).append((t, f))
        parts[split] = keep
    return parts


def asr_vocabulary() -> list[str]:
    words = {w for p, _ in ASR_TEMPLATES for f in _frames(p) for w in f.split()} - {"#"}
    return sorted(words | set(DIGITS))


def _sentence(frame: str, digits: tuple[int, int] | None, gen: np.random.Generator) -> str:
    if "#" not in frame:
        return frame
    n = int(gen.integers(digits[0], digits[1] + 1))
    return frame.replace("#", " ".join(DIGITS[int(d)] for d in gen.integers(0, 10, n)))


def _prosody(gen: np.random.Generator) -> tts.Prosody:
    return tts.Prosody(pitch=float(gen.uniform(-0.15, 0.15)), range=float(gen.uniform(0.7, 1.4)),
                       rate=float(gen.uniform(0.85, 1.2)))


def _row(rel: str, split: str, label: str, source: str, kind: str, n: int) -> dict:
    return dict(path=rel, split=split, label=label, source=source, kind=kind, duration=n / SAMPLE_RATE,
                corpus="embedded")


def build_kws(root, size, seed: int, noise_rows: list[dict], workers: int, progress: bool) -> list[dict]:
    """1 s clips of the 20 core words, _unknown_ (other words) and _silence_ (noise-only)."""
    jobs, rows, key = [], [], 0
    for split, n in size.kws_per_class.items():
        for label in KWS_CORE + [UNKNOWN]:
            for i in range(n):
                gen = rng(seed, "kws", key)
                word = KWS_UNKNOWN_WORDS[int(gen.integers(len(KWS_UNKNOWN_WORDS)))] if label == UNKNOWN else label
                voice = tts.pick_voice(split, gen)
                rel = f"kws/{split}/{label}/{split}_{label}_{i:04d}.wav"
                jobs.append(tts.Job(key, voice, word, _prosody(gen), (split, label, rel)))
                key += 1

    def finish(job: tts.Job, wave: np.ndarray) -> dict | None:
        split, label, rel = job.payload
        word = trim(wave)
        if is_silent(word):
            warnings.warn(f"kws: {job.voice.name} gave silence for {job.text!r}; clip {rel} skipped")
            return None
        gen = rng(seed, "kws-place", job.key)
        clip = set_rms_db(place(word, SAMPLE_RATE, gen), float(gen.uniform(-32, -20)))
        write_audio(root / rel, clip)
        return _row(rel, split, label, job.voice.base, "synthetic", len(clip))

    rows += tts.run_jobs(jobs, finish, workers, "kws synth", progress)
    rows += _kws_silence(root, size, seed, noise_rows)
    if size.real_tests:
        rows += _kws_real(root, seed)
    return rows


def _kws_silence(root, size, seed: int, noise_rows: list[dict]) -> list[dict]:
    rows = []
    for split, n in size.kws_per_class.items():
        pool = [r for r in noise_rows if r["split"] == {"test": "test_seen"}.get(split, split)]
        for i in range(n):
            gen = rng(seed, "kws-silence", ["train", "val", "test"].index(split), i)
            src = pool[int(gen.integers(len(pool)))]
            noise = load_audio(root / src["path"])
            off = int(gen.integers(0, max(1, len(noise) - SAMPLE_RATE)))
            clip = set_rms_db(place(noise[off : off + SAMPLE_RATE], SAMPLE_RATE, gen), float(gen.uniform(-50, -30)))
            rel = f"kws/{split}/{SILENCE}/{split}_{SILENCE}_{i:04d}.wav"
            write_audio(root / rel, clip)
            rows.append(_row(rel, split, SILENCE, src["source"], "synthetic", len(clip)))
    return rows


def _kws_real(root, seed: int) -> list[dict]:
    rows = []
    items = list(KWS_REAL.items()) + [(name, UNKNOWN) for name in KWS_REAL_UNKNOWN]
    for i, (name, label) in enumerate(items):
        wave = sources.asterisk("en", name)
        if wave is None:
            continue
        gen = rng(seed, "kws-real", i)
        clip = set_rms_db(place(trim(wave), SAMPLE_RATE, gen), float(gen.uniform(-32, -20)))
        rel = f"kws/test/real/{label}_{name.replace('/', '-')}.wav"
        write_audio(root / rel, clip)
        rows.append(_row(rel, "test", label, REAL_SPEAKER, "real", len(clip)))
    return rows


def build_asr(root, size, seed: int, workers: int, progress: bool) -> list[dict]:
    """Command sentences; val/test frames are held out of training (see the module docstring)."""
    parts = asr_partition(seed)
    jobs, key = [], 0
    for split, n in size.asr.items():
        by_template: dict[int, list[str]] = {}
        for t, f in parts[split]:
            by_template.setdefault(t, []).append(f)
        templates = sorted(by_template)
        for i in range(n):
            gen = rng(seed, "asr", key)
            t = templates[int(gen.integers(len(templates)))]
            frame = by_template[t][int(gen.integers(len(by_template[t])))]
            text = _sentence(frame, ASR_TEMPLATES[t][1], gen)
            voice = tts.pick_voice(split, gen)
            rel = f"asr/{split}/{split}_{i:05d}.wav"
            jobs.append(tts.Job(key, voice, text, _prosody(gen), (split, rel)))
            key += 1

    def finish(job: tts.Job, wave: np.ndarray) -> dict | None:
        split, rel = job.payload
        speech = trim(wave)
        if is_silent(speech):
            warnings.warn(f"asr: {job.voice.name} gave silence for {job.text!r}; clip {rel} skipped")
            return None
        gen = rng(seed, "asr-pad", job.key)
        pads = (gen.uniform(0.1, 0.4, 2) * SAMPLE_RATE).astype(int)
        clip = set_rms_db(np.pad(speech, tuple(pads)), float(gen.uniform(-30, -20)))
        write_audio(root / rel, clip)
        return _row(rel, split, job.text, job.voice.base, "synthetic", len(clip))

    rows = tts.run_jobs(jobs, finish, workers, "asr synth", progress)
    if size.real_tests:
        rows += _asr_real(root, size, seed)
    return rows


def _asr_real(root, size, seed: int) -> list[dict]:
    """Real digit strings: the asterisk speaker's digit recordings joined with short gaps."""
    digits = [sources.asterisk("en", f"digits/{d}") for d in range(10)]
    if any(d is None for d in digits):
        warnings.warn("asr: asterisk digit recordings incomplete; real asr test set skipped")
        return []
    digits = [trim(d) for d in digits]
    rows = []
    for i in range(size.asr_real):
        gen = rng(seed, "asr-real", i)
        seq = gen.integers(0, 10, int(gen.integers(3, 7)))
        parts = [np.zeros(int(gen.uniform(0.1, 0.3) * SAMPLE_RATE), np.float32)]
        for d in seq:
            parts += [digits[int(d)], np.zeros(int(gen.uniform(0.05, 0.25) * SAMPLE_RATE), np.float32)]
        clip = set_rms_db(np.concatenate(parts), float(gen.uniform(-30, -20)))
        rel = f"asr/test/real/real_{i:04d}.wav"
        write_audio(root / rel, clip)
        rows.append(_row(rel, "test", " ".join(DIGITS[int(d)] for d in seq), REAL_SPEAKER, "real", len(clip)))
    return rows
