# The README's commands. `make test` and `make demo` work on a fresh clone: they create .venv when missing.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# On CPU machines pin the local CPU wheel of torch; a plain `torch` requirement resolves to a multi-GB CUDA build.
TORCH ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-slow lint bench demo clean vllm-env

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e '.[train,dev]'

install: $(BIN)/python

test: $(BIN)/python
	$(BIN)/pytest -q -p no:cacheprovider

test-slow: $(BIN)/python
	$(BIN)/pytest -q -p no:cacheprovider -m slow

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/python
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

demo: $(BIN)/python
	bash scripts/demo.sh

clean:
	rm -rf $(VENV) demo; for d in lake/*/; do rm -rf "$$d"; done; rm -f lake/_*.json
