"""Real-recording material of the embedded corpus: the noise bank, the ASC scenes, the ASC interferers.

This module owns how the ufoai ambience loops, the music-on-hold tracks and the real speech packs are
grouped into types, how they are split (by source file; by time where a type has only one or two
files), and the three outputs built from them:

* ``noise.csv``: the noise bank of the speech tasks. Seen types (fire, water, thunder, wind, night,
  city, machinery) have train, val and test_seen material from disjoint files (or time parts);
  test_unseen holds types never used in training: babble (overlapped real es/fr/pl/ru/uk speech),
  music and static.
* ``asc.csv``: 4 s scenes of the same seven ambience types: an *ambience-type proxy*, not DCASE.
* ``noise_asc.csv``: the interferers of the asc task, where speech is the noise: synthetic speech of
  the train/val/test voices, and real recorded speech (asterisk, hedgewars) as test_unseen.
"""
from __future__ import annotations

import numpy as np

from ..audio import SAMPLE_RATE, write_audio
from . import sources, tts
from .dsp import fade, loop_to, rng, set_rms_db, trim
from .ser_proxy import SER_SENTENCES

# ambience type -> ufoai sound/ambience loops (the machinery type is needed for Figure 4)
AMBIENCE = {
    "fire": ["fire", "fire03", "fire04", "fire05", "fire06", "fire1", "fire2", "firesoft", "smallfire"],
    "water": ["water", "water01", "water02", "water03", "waterfontain", "alienbase-bubbles"],
    "thunder": ["thunder1", "thunder2", "thunder3"],
    "wind": ["arcticwind"],
    "night": ["ufo_night_atm", "cricket_loop"],
    "city": ["city_abnd_ufoai_atm", "sand-city"],
    "machinery": ["hum", "hum2", "machine1", "minepump03", "wind_turbine", "steam", "engine_alien_big",
                  "engine_alien_medium", "engine_alien_small", "alienmachinery1", "alienmachinery2",
                  "alienmachinery3", "alienpowermachinery1", "alien-generator", "alien-ventilation"],
}
STATIC = ["tv_static", "sparks", "sparks_short"]  # unseen type "static"
BABBLE_PACKS = ["Default_es", "Default_pl", "Default_ru", "Default_uk", "Russian_pl"]  # non-English
ENGLISH_PACKS = ["British", "Classic", "Default", "HillBilly", "Mobster", "Pirate", "Robot", "Russian",
                 "Singer", "Surfer"]
FRACTIONS = {"train": 0.65, "val": 0.15, "test": 0.20}
MIN_TIME_SPLIT_S = 10.0  # in a one- or two-file type, shorter files are not cut and go to train


def _allocate_files(durs: dict[str, float]) -> dict[str, str]:
    """File -> split, longest first, each to the split furthest below its share; val/test get >= 1."""
    total = sum(durs.values())
    got = {s: 0.0 for s in FRACTIONS}
    out: dict[str, str] = {}
    names = sorted(durs, key=lambda n: (-durs[n], n))
    for i, name in enumerate(names):
        empty = [s for s in ("val", "test") if got[s] == 0.0]
        if i > 0 and len(names) - i <= len(empty):
            split = empty[0]
        else:
            split = max(FRACTIONS, key=lambda s: FRACTIONS[s] * total - got[s]) if i else "train"
        out[name] = split
        got[split] += durs[name]
    return out


def ambience_parts() -> tuple[dict[str, list[dict]], dict[str, list[str]]]:
    """Per type, the split parts: dicts(split, source, audio). Also the time-split notes per type."""
    parts: dict[str, list[dict]] = {}
    notes: dict[str, list[str]] = {}
    for typ, names in AMBIENCE.items():
        audio = {n: a for n in names if (a := sources.ufoai_ambience(n)) is not None}
        if len(audio) >= 3:
            alloc = _allocate_files({n: len(a) / SAMPLE_RATE for n, a in audio.items()})
            parts[typ] = [dict(split=alloc[n], source=f"ufoai:{n}", audio=a) for n, a in sorted(audio.items())]
            continue
        parts[typ], notes[typ] = [], []
        for n, a in sorted(audio.items()):
            if len(a) / SAMPLE_RATE < MIN_TIME_SPLIT_S:
                parts[typ].append(dict(split="train", source=f"ufoai:{n}", audio=a))
                notes[typ].append(f"{n}: whole file in train (shorter than {MIN_TIME_SPLIT_S:.0f} s)")
                continue
            start = 0
            for k, (split, frac) in enumerate(FRACTIONS.items()):
                end = len(a) if split == "test" else start + int(frac * len(a))
                parts[typ].append(dict(split=split, source=f"ufoai:{n}#part{k}", audio=a[start:end]))
                notes[typ].append(f"{n}#part{k}: {split}, {start / SAMPLE_RATE:.1f}-{end / SAMPLE_RATE:.1f} s")
                start = end
    return parts, notes


def _segments(audio: np.ndarray, max_s: float) -> list[np.ndarray]:
    n = int(max_s * SAMPLE_RATE)
    k = max(1, int(np.ceil(len(audio) / n)))
    step = int(np.ceil(len(audio) / k))
    return [audio[i * step : (i + 1) * step] for i in range(k)]


def _noise_row(rel: str, split: str, typ: str, source: str, n: int) -> dict:
    return dict(path=rel, split=split, type=typ, source=source, duration=n / SAMPLE_RATE, corpus="embedded")


def build_noise(root, size, seed: int, parts: dict[str, list[dict]]) -> list[dict]:
    """Seen types from the ambience parts; unseen types: babble, music, static."""
    rows = []
    for typ, plist in parts.items():
        for p in plist:
            split = "test_seen" if p["split"] == "test" else p["split"]
            stem = p["source"].split(":", 1)[1].replace("#", "_")
            for k, seg in enumerate(_segments(p["audio"], size.noise_max_seconds)):
                seg = set_rms_db(fade(loop_to(seg, SAMPLE_RATE)), -26.0)
                rel = f"noise/{split}/{typ}/{stem}_{k}.wav"
                write_audio(root / rel, seg)
                rows.append(_noise_row(rel, split, typ, p["source"], len(seg)))
    for name in STATIC:
        a = sources.ufoai_ambience(name)
        if a is not None:
            rel = f"noise/test_unseen/static/{name}.wav"
            a = set_rms_db(loop_to(a, 2 * SAMPLE_RATE), -26.0)
            write_audio(root / rel, a)
            rows.append(_noise_row(rel, "test_unseen", "static", f"ufoai:{name}", len(a)))
    rows += _music(root, size, seed)
    rows += _babble(root, size, seed)
    return rows


def _music(root, size, seed: int) -> list[dict]:
    rows = []
    tracks = sources.moh_tracks()
    disco = sources.ufoai_ambience("disco")
    if disco is not None:
        tracks.append(("disco", loop_to(disco, 4 * SAMPLE_RATE)))
    n = int(size.noise_max_seconds * SAMPLE_RATE)
    for t, (name, a) in enumerate(tracks[: size.music_tracks]):
        for k in range(size.music_segments if len(a) > n else 1):
            gen = rng(seed, "music", t, k)
            off = int(gen.integers(0, max(1, len(a) - n)))
            seg = set_rms_db(fade(a[off : off + n]), -26.0)
            rel = f"noise/test_unseen/music/{name}_{k}.wav"
            write_audio(root / rel, seg)
            rows.append(_noise_row(rel, "test_unseen", "music", f"music:{name}", len(seg)))
    return rows


def _babble(root, size, seed: int) -> list[dict]:
    """Each file: 6 overlapped talkers, each a stream of real es/fr/pl/ru/uk utterances at equal level."""
    pools = [[w for _, w in sources.hedgewars_pack(p)] for p in BABBLE_PACKS]
    for lang in ("es", "fr"):
        names = sources.asterisk_names(lang, min_seconds=2.0)[:: size.babble_prompt_stride]
        pools.append([w for n in names if (w := sources.asterisk(lang, n)) is not None])
    pools = [p for p in pools if p]
    n = int(size.babble_seconds * SAMPLE_RATE)
    rows = []
    for b in range(size.babble_files):
        gen = rng(seed, "babble", b)
        mix = np.zeros(n, np.float64)
        for talker in gen.choice(len(pools), size=6, replace=len(pools) < 6):
            stream = [np.zeros(int(gen.uniform(0, 1.0) * SAMPLE_RATE), np.float32)]
            while sum(map(len, stream)) < n:
                stream.append(trim(pools[talker][int(gen.integers(len(pools[talker])))]))
                stream.append(np.zeros(int(gen.uniform(0.05, 0.3) * SAMPLE_RATE), np.float32))
            s = np.concatenate(stream)[:n]
            mix += s / max(np.sqrt(np.mean(s**2)), 1e-6)
        seg = set_rms_db(fade(mix.astype(np.float32)), -26.0)
        rel = f"noise/test_unseen/babble/babble_{b:02d}.wav"
        write_audio(root / rel, seg)
        rows.append(_noise_row(rel, "test_unseen", "babble", f"babble:{b:02d}", len(seg)))
    return rows


def build_asc(root, size, seed: int, parts: dict[str, list[dict]]) -> list[dict]:
    """4 s scene clips at random offsets inside each split's parts, at a random level."""
    n = int(size.asc_seconds * SAMPLE_RATE)
    rows = []
    for c, (typ, plist) in enumerate(sorted(parts.items())):
        for split, count in size.asc_per_class.items():
            pool = [p for p in plist if p["split"] == split]
            weights = np.array([max(len(p["audio"]), n) for p in pool], dtype=float)
            for i in range(count):
                gen = rng(seed, "asc", c, ["train", "val", "test"].index(split), i)
                p = pool[int(gen.choice(len(pool), p=weights / weights.sum()))]
                a = loop_to(p["audio"], n)
                off = int(gen.integers(0, len(a) - n + 1))
                clip = set_rms_db(fade(a[off : off + n]), float(gen.uniform(-35, -20)))
                rel = f"asc/{split}/{typ}/{split}_{typ}_{i:04d}.wav"
                write_audio(root / rel, clip)
                rows.append(dict(path=rel, split=split, label=typ, source=p["source"], kind="real",
                                 duration=n / SAMPLE_RATE, corpus="embedded"))
    return rows


def build_asc_interferers(root, size, seed: int, workers: int, progress: bool) -> list[dict]:
    """Speech as the asc noise: synthetic voices per split, real recorded speech as test_unseen."""
    jobs, key = [], 0
    for split, n in size.speech_noise.items():
        if split == "test_unseen":
            continue
        for i in range(n):
            gen = rng(seed, "speech-noise", key)
            picks = gen.choice(len(SER_SENTENCES), size=3, replace=False)
            text = ". ".join(SER_SENTENCES[int(k)] for k in picks) + "."
            voice = tts.pick_voice({"test_seen": "test"}.get(split, split), gen)
            rel = f"noise_asc/{split}/speech_{split}_{i:03d}.wav"
            jobs.append(tts.Job(key, voice, text, tts.Prosody(rate=float(gen.uniform(0.9, 1.15))), (split, rel)))
            key += 1

    def finish(job: tts.Job, wave: np.ndarray) -> dict | None:
        split, rel = job.payload
        seg = set_rms_db(fade(trim(wave)[: int(size.noise_max_seconds * SAMPLE_RATE)]), -26.0)
        write_audio(root / rel, seg)
        return _noise_row(rel, split, "speech", job.voice.base, len(seg))

    rows = tts.run_jobs(jobs, finish, workers, "asc interferers", progress)
    rows += _real_speech(root, size, seed)
    return rows


def _real_speech(root, size, seed: int) -> list[dict]:
    """Real English speech as unseen interferers: asterisk prompts and hedgewars English packs."""
    n = int(size.real_speech_seconds * SAMPLE_RATE)
    groups: list[tuple[str, list[np.ndarray]]] = []
    prompts = sources.asterisk_names("en", min_seconds=2.0)
    half = size.speech_noise["test_unseen"] // 2
    for g in range(half):
        gen = rng(seed, "real-speech-asterisk", g)
        chosen = [prompts[int(i)] for i in gen.choice(len(prompts), size=8, replace=False)]
        groups.append((f"asterisk-allison_{g:02d}", [w for c in chosen if (w := sources.asterisk("en", c)) is not None]))
    for pack in ENGLISH_PACKS[: size.speech_noise["test_unseen"] - half]:
        groups.append((f"hedgewars-{pack}", [w for _, w in sources.hedgewars_pack(pack)]))
    rows = []
    for g, (name, clips) in enumerate(groups):
        gen = rng(seed, "real-speech", g)
        order = gen.permutation(len(clips))
        stream, total = [], 0
        for k in order:
            if total >= n:
                break
            piece = trim(clips[int(k)])
            stream += [piece, np.zeros(int(gen.uniform(0.1, 0.4) * SAMPLE_RATE), np.float32)]
            total += len(piece)
        seg = set_rms_db(fade(np.concatenate(stream)[:n]), -26.0)
        rel = f"noise_asc/test_unseen/{name}.wav"
        write_audio(root / rel, seg)
        source = "asterisk-allison" if name.startswith("asterisk") else name
        rows.append(_noise_row(rel, "test_unseen", "real_speech", source, len(seg)))
    return rows
