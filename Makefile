# ecgfoundry: every target creates .venv when missing and installs what it needs.
# torch is installed FIRST and PINNED: an unpinned torch pulls gigabytes of CUDA wheels.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
PIP     := $(BIN)/python -m pip
EXTRAS_TEST := all
EXTRAS_DEMO := synth,train,bench,eval

.PHONY: test test-all demo install clean bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files: re-install only when pyproject.toml changes.
$(VENV)/.torch: | $(BIN)/python
	$(PIP) install --quiet "$(TORCH)"
	touch $@

$(VENV)/.installed-%: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e ".[$*]" "$(TORCH)"
	$(BIN)/python -c "import torch, sys; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

install: $(VENV)/.installed-$(EXTRAS_TEST)

test: $(VENV)/.installed-$(EXTRAS_TEST)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

test-all: $(VENV)/.installed-$(EXTRAS_TEST)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not gpu and not network" tests

demo: $(VENV)/.installed-$(EXTRAS_DEMO)
	$(BIN)/python -m ecgfoundry.cli.demo

bench: $(VENV)/.installed-$(EXTRAS_TEST)
	$(BIN)/python benchmarks/bench_cache.py

clean:
	rm -rf $(VENV) build *.egg-info runs
