# Two commands: `make run` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
export RAG_HOME ?= $(CURDIR)/.rag
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: setup setup-test run test lint bench eval chromium clean

setup: $(VENV)/.installed $(VENV)/.near-words

# torch first, from the CPU wheel on this machine; constraints.txt keeps it there for everything after.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e .
	$(BIN)/python -m rag.embeddings --export
	touch $@

# Which of the model's words are near which (rag/neighbours.py), its own step so that existing installs get it.
$(VENV)/.near-words: $(VENV)/.installed
	$(BIN)/python -m rag.neighbours --build
	touch $@

setup-test: $(VENV)/.installed-test $(VENV)/.near-words

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e '.[test,bench]'
	touch $@

run: setup
	$(BIN)/rag ingest
	$(BIN)/rag ui

# Debian's chromium drives the browser tests (never `playwright install`: it downloads).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup-test chromium
	$(BIN)/python -m pytest -q

lint: setup-test
	$(BIN)/ruff check rag ui tests bench eval
	$(BIN)/ruff format --check rag ui tests bench

# Dev and val question sets, in the order `make eval` runs them (gold, the first, writes eval/reports/latest).
EVAL_SETS := dev heldout dev2 val2 dev3 val3 dev4 val4 dev5 val5 dev6 val6 dev7 val7 dev8 val8

eval: setup
	$(PIP) install -q -c constraints.txt -e '.[eval]'
	$(BIN)/rag eval --gold eval/gold.jsonl --out eval/reports/latest
	for set in $(EVAL_SETS); do $(BIN)/rag eval --gold eval/$$set.jsonl --out eval/reports/$$set || exit 1; done
	$(BIN)/rag eval --benchmark aclsum --split val

bench: setup-test
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .rag .pytest_cache
