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

setup: $(VENV)/.installed

# torch first, from the CPU wheel on this machine; constraints.txt keeps it there for everything after.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e .
	$(BIN)/python -m rag.embeddings --export
	touch $@

setup-test: $(VENV)/.installed-test

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

eval: setup
	$(PIP) install -q -c constraints.txt -e '.[eval]'
	$(BIN)/rag eval --gold eval/gold.jsonl --out eval/reports/latest
	$(BIN)/rag eval --gold eval/dev.jsonl --out eval/reports/dev
	$(BIN)/rag eval --gold eval/heldout.jsonl --out eval/reports/heldout
	$(BIN)/rag eval --gold eval/dev2.jsonl --out eval/reports/dev2
	$(BIN)/rag eval --gold eval/val2.jsonl --out eval/reports/val2
	$(BIN)/rag eval --gold eval/dev3.jsonl --out eval/reports/dev3
	$(BIN)/rag eval --gold eval/val3.jsonl --out eval/reports/val3
	$(BIN)/rag eval --gold eval/dev4.jsonl --out eval/reports/dev4
	$(BIN)/rag eval --gold eval/val4.jsonl --out eval/reports/val4
	$(BIN)/rag eval --gold eval/dev5.jsonl --out eval/reports/dev5
	$(BIN)/rag eval --gold eval/val5.jsonl --out eval/reports/val5
	$(BIN)/rag eval --gold eval/dev6.jsonl --out eval/reports/dev6
	$(BIN)/rag eval --gold eval/val6.jsonl --out eval/reports/val6
	$(BIN)/rag eval --benchmark aclsum --split val

bench: setup-test
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .rag .pytest_cache
