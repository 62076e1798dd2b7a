# The two headline targets are the README's two commands:
#   make study   -> set up, build the embedded corpus, run the default study (a clone's committed runs are
#                   skipped), then the first look: the demo's runs trained here, beside the committed ones
#   make test    -> set up, run the tests (unit, smoke runs, notebooks)
# make demo serves the SNR-slider page (Voila) on 127.0.0.1 for the first look's runs.
# Everything installs itself: system packages (apt), a venv in .venv, the corpus under ~/.cache/aelib.
PY       ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
PRESET   ?= small
STUDY    ?= default
WORKERS  ?= 2
SEEDS    ?=# empty: the study's default seeds (aelib.config.SEEDS)
SEED_ARGS := $(if $(strip $(SEEDS)),--seeds $(SEEDS))
DEMO_STUDY ?= runs/first-look
DEMO_PORT  ?= 8866
DEMO_TASK  ?= asr

.PHONY: study first-look demo test setup system venv corpus bench ablations power report reproduce clean-venv

study: setup corpus
	$(BIN)/python -m aelib.study --preset $(PRESET) --study $(STUDY) --workers $(WORKERS) $(SEED_ARGS)
	$(MAKE) --no-print-directory first-look

# asr and asc x clean, cascade, iterative, seed 0, trained here into runs/first-look/ (skipped once done),
# Figure 4 from them, and their numbers beside the same runs of runs/$(STUDY)
first-look: venv
	$(BIN)/python -m aelib.study.first_look --reference runs/$(STUDY) --workers $(WORKERS)

demo: venv
	AELIB_DEMO_STUDY_DIR=$(abspath $(DEMO_STUDY)) AELIB_DEMO_TASK=$(DEMO_TASK) $(BIN)/voila --no-browser --port=$(DEMO_PORT) \
		--Voila.ip=127.0.0.1 notebooks/03_demo.ipynb

test: setup
	$(BIN)/python -m pytest -q tests

setup: system venv

system:
	@bash scripts/install_system.sh

venv: $(VENV)/.installed

# torch first, pinned exactly: a looser range can pull a multi-GB CUDA download
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchaudio==2.11.0
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

corpus: venv
	$(BIN)/python -m aelib.corpora build --size $(PRESET)

bench: setup corpus
	$(BIN)/python scripts/benchmark.py --study-dir runs/$(STUDY)

# after `make study`: the equal-budget ablations (reuse the study's shared stages), then the README section
# the equal-budget pair (matched cascade, uniform weights) on every task; softmax and rounds1 on kws and asc;
# longer (iterative with as many rounds as the cascade's CA has epochs) on kws
ablations: setup corpus
	$(BIN)/python -m aelib.ablations --preset $(PRESET) --workers $(WORKERS) $(SEED_ARGS) \
		--tasks kws asr ser asc --ablations matched uniform
	$(BIN)/python -m aelib.ablations --preset $(PRESET) --workers $(WORKERS) $(SEED_ARGS) \
		--tasks kws asc --ablations softmax rounds1
	$(BIN)/python -m aelib.ablations --preset $(PRESET) --workers $(WORKERS) $(SEED_ARGS) --tasks kws --ablations longer

# more seeds for the paper's question: seeds 3-5 of every task (every paradigm of the question, the equal-budget
# pair, kws's longer rounds) under runs/power/, pooled with runs/default's seeds 0-2 (~105 min for 87 runs)
power: setup corpus
	$(BIN)/python -m aelib.study --preset $(PRESET) --study default --run-root runs/power --workers $(WORKERS) \
		--tasks kws asr ser asc --paradigms clean noisy cascade joint iterative --seeds 3 4 5 --results never
	$(BIN)/python -m aelib.ablations --preset $(PRESET) --run-root runs/power --workers $(WORKERS) --seeds 3 4 5 \
		--tasks kws asr ser asc --ablations matched uniform
	$(BIN)/python -m aelib.ablations --preset $(PRESET) --run-root runs/power --workers $(WORKERS) --seeds 3 4 5 \
		--tasks kws --ablations longer
	$(BIN)/python scripts/pooled_seeds.py --roots runs runs/power --tasks kws asr ser asc \
		--ablations matched uniform longer --out runs/power/pooled.md

report: venv
	$(BIN)/python scripts/report.py --study runs/$(STUDY)

# a newcomer's check: the same study from scratch under runs/reproduce/ (its own shared stages too),
# compared run by run with the committed one; exits 1 when a paradigm moved beyond the seed-to-seed noise
# (two-sample t-test per paradigm, Holm-adjusted over the table)
reproduce: setup corpus
	$(BIN)/python -m aelib.study --preset $(PRESET) --study $(STUDY) --run-root runs/reproduce --workers $(WORKERS) $(SEED_ARGS)
	$(BIN)/python scripts/compare_studies.py runs/$(STUDY) runs/reproduce/$(STUDY) --out runs/reproduce/$(STUDY)/reproduction.md

clean-venv:
	rm -rf $(VENV)
