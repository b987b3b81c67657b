# `make demo` and `make test` are all a fresh machine needs: both run `make setup` first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup demo test lint unit synth bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt lambda/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(BIN)/ipaudit demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pip check
	$(BIN)/pytest

synth: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" npx --no-install cdk synth --quiet

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules cdk.out
