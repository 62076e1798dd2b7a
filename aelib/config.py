"""The one typed configuration of a run, with named presets.

Every default lives here, once, with a comment saying why. A run resolves ``Config`` from a preset
plus overrides (papermill parameters, CLI flags) and saves it into ``params.json``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = ("kws", "asr", "ser", "asc")
# the paper's five paradigms, then the classical peer: a CA trained on noisereduce's spectral gating output
PARADIGMS = ("clean", "noisy", "cascade", "joint", "iterative", "noisereduce")
PRESETS = ("smoke", "small", "paper")
LR_SCHEDULES = ("constant", "cosine")
ASR_DECODERS = ("greedy", "lexicon", "bigram")  # aelib.decoding


def default_data_dir(preset: str = "small") -> str:
    """Corpus cache outside git: $AELIB_DATA, else ~/.cache/aelib/corpus/<size>."""
    base = os.environ.get("AELIB_DATA") or str(Path.home() / ".cache" / "aelib" / "corpus")
    size = "smoke" if preset == "smoke" else "small"
    return str(Path(base) / size)


@dataclass
class Config:
    # --- what to run -------------------------------------------------------------------------
    task: str = "kws"  # kws | asr | ser | asc
    paradigm: str = "iterative"  # clean | noisy | cascade | joint | iterative | noisereduce
    preset: str = "small"  # smoke (tests) | small (2-core CPU study) | paper (GPU, real corpora)
    seed: int = 0  # set before any object is built; part of the run path
    study: str = "default"  # runs/<study>/<task>/<paradigm>/seed<k>
    data_dir: str = ""  # corpus root with <task>.csv and noise.csv; "" = default_data_dir(preset)
    run_root: str = "runs"
    device: str = "auto"  # auto = cuda when present, else cpu
    amp: bool = False  # mixed precision on CUDA only (bf16 autocast)

    # --- audio and mixing ---------------------------------------------------------------------
    sample_rate: int = 16_000  # the whole study is 16 kHz mono
    train_snr_low: float = -5.0  # training SNR is drawn uniformly from [low, high] dB per clip
    train_snr_high: float = 20.0  # covers the test grid's useful range without pure-noise clips
    test_snrs: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0, 10.0, 20.0)  # the paper-style grid (+ clean)
    clip_seconds: float = 0.0  # 0 = the task's default (kws 1, asr 6 (a maximum), ser 3, asc 4); LibriSpeech wants ~16
    speed_perturb: float = 0.1  # training clips play at x(1-s), x1 or x(1+s), drawn per clip and epoch (0 = off)
    rir_prob: float = 0.0  # probability of a simulated room response on clean speech (off: paper has none)

    # --- AE: STFT U-Net -----------------------------------------------------------------------
    n_fft: int = 512  # 32 ms at 16 kHz, the usual speech-enhancement frame
    hop: int = 128  # 75 % overlap, so the noisy-phase iSTFT is smooth
    ae_width: int = 16  # channels of the first U-Net level (doubles per level)
    ae_depth: int = 4  # encoder levels, as DESIGN.md
    ae_loss: str = "wsdr"  # wsdr (DCUNet weighted SDR, default) | sisdr | spec_mse

    # --- CA -----------------------------------------------------------------------------------
    ca_width: int = 32  # base channels of the task model
    n_mels: int = 64  # log-mel bands of the 2-D front-ends
    ser_feature_norm: str = "utterance"  # ser log-mel: utterance (CMVN per band) | gain (keeps spectral tilt) | none
    ser_speaker_norm: bool = False  # ser: subtract each speaker's mean log-mel, from their other clean clips of the split
    asr_units: str = "char"  # char (open vocabulary) | word (closed vocabulary, e.g. the embedded command grammar)
    asr_time_stride: int = 2  # ASR output frames of 10 ms x stride: 2 for characters, 4 is enough for words
    asr_rnn_dim: int = 128  # ASR BiGRU hidden size per direction
    asr_rnn_layers: int = 2  # ASR BiGRU layers
    asr_bag_weight: float = 0.0  # ASR: weight of the bag-of-units loss added to CTC (0: CTC alone, as the paper)
    asr_decoder: str = "greedy"  # greedy | lexicon | bigram (char units; lexicon and LM of the train transcripts)
    asr_lm_weight: float = 0.5  # bigram decoder: weight of the LM's log-prob (small preset: 0.8, chosen on validation)
    asr_word_score: float = 0.0  # lexicon/bigram decoders: per-word score against the LM's deletions (small: 1.0)
    asr_beam: int = 20  # lexicon/bigram decoders: beam size

    # --- optimisation -------------------------------------------------------------------------
    batch_size: int = 32
    lr: float = 1e-3  # Adam; the CA's, and the AE's unless ae_lr is set
    ae_lr: float = 0.0  # the AE's learning rate; 0 = lr
    ca_lr_schedule: str = "constant"  # the CA's lr within each phase: constant (plain Adam) | cosine (to 0)
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # keeps CTC and early wSDR steps from exploding
    ae_epochs: int = 4  # AE pre-training (cascade, iterative init)
    ca_epochs: int = 6  # CA training for clean / noisy / cascade / joint, and the clean init of iterative
    rounds: int = 2  # iterative: rounds of (AE phase, CA phase)
    ae_epochs_per_round: int = 1  # iterative: importance-weighted AE epochs per round
    ca_epochs_per_round: int = 2  # iterative: CA epochs on enhanced audio per round
    joint_lambda: float = 0.1  # joint: L = L_AE + lambda L_CA; CE/CTC are ~1-5 while wSDR is in [-1, 1]
    importance: str = "ratio"  # ratio (default) | softmax | rank | uniform (ablation)
    importance_w_max: float = 5.0  # ratio: clip so that one outlier does not own the batch
    importance_temperature: float = 1.0  # softmax temperature, in units of the batch-mean loss
    budget_matched: bool = False  # cascade: give it iterative's AE and CA epochs (the equal-budget ablation)
    gate_nonstationary: bool = False  # noisereduce: stationary gating won on validation SI-SDR (scripts/choose_gate.py)
    length_buckets: int = 0  # variable-length tasks (asr): batch training clips of similar duration, sorted within
    #                          chunks of this many batches (less padding); 0 = plain random batches
    max_train_clips: int = 0  # 0 = all; caps make smoke runs take seconds
    max_eval_clips: int = 0  # per (SNR, noise split, speech kind) cell; 0 = all
    ae_metric_clips: int = 0  # STOI/PESQ on the first N utterances of each cell (the same in every run); 0 = all
    num_workers: int = 0  # DataLoader workers; 0 is fastest on 2 cores with on-the-fly mixing
    eval_pesq: bool = True  # PESQ is the slowest metric; off in smoke

    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes saved with the run

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if self.paradigm not in PARADIGMS:
            raise ValueError(f"unknown paradigm {self.paradigm!r}; choose one of {PARADIGMS}")
        if self.ca_lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown ca_lr_schedule {self.ca_lr_schedule!r}; choose one of {LR_SCHEDULES}")
        if self.asr_decoder not in ASR_DECODERS:
            raise ValueError(f"unknown asr_decoder {self.asr_decoder!r}; choose one of {ASR_DECODERS}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {PRESETS}")
        if not self.data_dir:
            self.data_dir = default_data_dir(self.preset)
        self.test_snrs = tuple(float(s) for s in self.test_snrs)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["test_snrs"] = list(self.test_snrs)
        return d

    @property
    def run_dir(self) -> Path:
        return Path(self.run_root) / self.study / self.task / self.paradigm / f"seed{self.seed}"


# Preset overrides of the dataclass defaults; smoke is for tests, small the 2-core CPU study, paper GPUs.
PRESET_OVERRIDES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        ae_width=4, ca_width=8, n_mels=32, batch_size=8, ae_epochs=1, ca_epochs=1, rounds=1,
        ae_epochs_per_round=1, ca_epochs_per_round=1, max_train_clips=32, max_eval_clips=4,
        test_snrs=(0.0, 10.0), eval_pesq=False,
    ),
    # the default study: sized by measurement to run 4 tasks x 6 paradigms x 3 seeds in < 90 min on 2 cores;
    # STOI/PESQ on 2 utterances per noisy cell (of 40-150; 24-48 per run): they are the slowest metrics and
    # only describe the AE (PESQ was ~5 run-minutes of the study at 4 per cell)
    "small": dict(hop=256, ae_metric_clips=2, ae_epochs=3, ca_epochs=8),
    "paper": dict(
        ae_width=32, ca_width=64, n_mels=64, batch_size=32, ae_epochs=30, ca_epochs=40, rounds=5, hop=128,
        ae_epochs_per_round=3, ca_epochs_per_round=5, amp=True, clip_seconds=0.0,
    ),
}


# Per-task refinements of a preset (applied after PRESET_OVERRIDES, before the caller's overrides).
# The small preset must run 4 tasks x 6 paradigms x 3 seeds in < 90 min on 2 CPU cores, and the tasks
# differ ~10x in cost per clip (benchmark: CA training 164 clips/s for kws, 4.5 for asr at 6 s).
TASK_PRESET_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {},
    "small": {
        # sizes from measured clips/s (scripts/benchmark.py) so that every task costs ~10-15 core-minutes per seed
        # kws: 16 CA epochs (best val accuracy 0.72 on seed 0, against 0.55 at 8; still rising at 8 on
        # seeds 0-2), paid for by running its 1-D layers as 2-D channels-last layers (2.2x faster step):
        # the seed-0 grid costs 970 run-seconds at 16 epochs against 843 at 8 with the old layers
        "kws": dict(max_train_clips=1200, max_eval_clips=150, ca_epochs=16),
        # character CTC on 40 ms frames (stride 4, a first-conv time kernel of 5 that covers it), one BiGRU layer of
        # 128, decoded by a lexicon beam search with a word bigram LM of the training transcripts (aelib.decoding).
        # Whole-word CTC (the preset before) learns each word from its few examples: best validation WER
        # 0.63/0.68/0.70 (seeds 0-2, 14 epochs, with its bag-of-units term). Characters share what they learn
        # across words (validation CER 0.31 against 0.53-0.61) but misspell (greedy WER 0.78); the lexicon turns that
        # into words and the bigram adds word order: best validation WER 0.38/0.36/0.32 at 12 epochs (0.33/0.36/
        # 0.29 at 14; docs/tuning.md). Its step costs 1.45x the word model's, 1.2x the old word model's (the
        # BiGRU's unpacked directions and a time-major conv stack, models/asr.py: the step 71 against 106 ms);
        # 12 epochs train in the study in the time of the word model's 14; its evaluation costs ~10 s more per run
        # (the beam search, 40 ms frames): the study's asr runs took 8.2 % more time. Batches of similar
        # durations (length_buckets) cut the padding that was 38 % of its training audio. The decoder's
        # lm_weight and word_score were chosen on all 460 validation clips (docs/tuning.md). They stay preset
        # values: every run records every Config field, and changing a dataclass default makes the study's
        # finished runs of all tasks conflict with the config (measured: 1ab5504 did, reverted here).
        "asr": dict(asr_units="char", asr_time_stride=4, ca_width=16, asr_rnn_dim=128, asr_rnn_layers=1,
                    batch_size=8, lr=3e-3, ae_lr=1e-3, max_train_clips=500, ca_epochs=12, max_eval_clips=40,
                    length_buckets=20, asr_decoder="bigram", asr_lm_weight=0.8, asr_word_score=1.0),
        # ser: the log-mel normalisation that keeps the spectral tilt, which the proxy's vocal effort is made of
        # (best validation UAR on corpus version 2, seeds 0/1: gain 0.62/0.61 against per-band CMVN 0.58/0.47).
        # Batches of 8 (4x the steps: the CNN under-fits, training loss ~0.9 nats) with a cosine decay of the
        # CA's lr: UAR on all 344 validation clips 0.628/0.631/0.526 (seeds 0-2) against 0.570/0.570/0.497
        # for batches of 32 at a constant lr (trial runs equally fast; the study's ser runs took 7.8 % longer);
        # the decay steadies the last epochs (docs/tuning.md). Speaker normalisation (each voice's mean log-mel,
        # leave-one-out over its other clean clips): the clean CA's UAR on all 344 validation clips 0.641 against
        # 0.595 (seeds 0-2; its noisy-validation UAR 0.449 against 0.374), the noisy CA's a tie (0.535 against 0.537)
        "ser": dict(ca_width=16, max_train_clips=400, max_eval_clips=100, ser_feature_norm="gain", batch_size=8,
                    ca_lr_schedule="cosine", ser_speaker_norm=True),
        "asc": dict(ca_width=16, max_train_clips=280, max_eval_clips=80),
    },
    "paper": {},
}


def make_config(preset: str = "small", **overrides: Any) -> Config:
    """Resolve a preset (its per-task refinements included) plus overrides into a Config.

    Unknown keys are an error (typos are common).
    """
    if preset not in PRESET_OVERRIDES:
        raise ValueError(f"unknown preset {preset!r}; choose one of {tuple(PRESET_OVERRIDES)}")
    names = {f.name for f in dataclasses.fields(Config)}
    unknown = set(overrides) - names
    if unknown:
        raise TypeError(f"unknown config keys {sorted(unknown)}; valid keys: {sorted(names)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    per_task = TASK_PRESET_OVERRIDES[preset].get(given.get("task", Config.task), {})
    values = {**PRESET_OVERRIDES[preset], **per_task, **given}
    return Config(preset=preset, **values)
