# kdtrack_lite: every target bootstraps .venv first (once; later runs reuse it in a second).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kdtrack-installed
NB_CELL_TIMEOUT ?= 900
PYTEST_ARGS ?=
# Tests and nbval run in FAST mode, without progress bars, with a non-interactive plot backend.
TEST_ENV := KDTRACK_FAST=1 KDTRACK_PROGRESS=0 MPLBACKEND=Agg
# Jupyter refuses to start as root (containers, some cloud VMs) unless told it is fine.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test test-unit test-notebooks notebooks tour clean-venv help

help:
	@echo "make lab    set up .venv and open the notebooks in JupyterLab"
	@echo "make test   set up .venv and run the whole test suite (pytest + nbval, FAST mode)"
	@echo "make notebooks  re-execute every notebook in place (the figures readers see on GitHub)"
	@echo "make tour   run every method headless (lite profile, < 30 min on 2 cores); report in runs/tour/lite"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

test: setup
	$(TEST_ENV) $(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NB_CELL_TIMEOUT) --durations=10 $(PYTEST_ARGS)

test-unit: setup
	$(TEST_ENV) $(BIN)/python -m pytest tests $(PYTEST_ARGS)

test-notebooks: setup
	$(TEST_ENV) $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NB_CELL_TIMEOUT) $(PYTEST_ARGS)

notebooks: setup
	KDTRACK_PROGRESS=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=3600 notebooks/*.ipynb

# The whole walkthrough headless; TOUR_ARGS="--profile fast" for a few minutes, or
# TOUR_ARGS="--out benchmarks/tour --update-readme README.md" to refresh the README's results table.
TOUR_ARGS ?=
tour: setup
	OMP_WAIT_POLICY=PASSIVE $(BIN)/kdtrack tour $(TOUR_ARGS)

clean-venv:
	rm -rf $(VENV)
