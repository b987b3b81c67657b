# `make demo` and `make test` are all a fresh machine needs: the demo installs what it runs on
# only (the package and moto; no Node.js, no development tools), the tests `make setup` (Python
# with the development tools, the npm tools, Prometheus).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
NODE_STAMP := node_modules/.installed
PROMETHEUS_STAMP := $(VENV)/.prometheus
# The Lambda runtime's Python: `make lock` resolves lambda/requirements.txt for it
# (infra/scheduled_functions.py's RUNTIME_PYTHON_VERSION; a test keeps the two equal).
LAMBDA_PYTHON := 3.12

.PHONY: setup demo test lint unit synth bench lock rules clean

setup: $(PY_STAMP) $(NODE_STAMP) $(PROMETHEUS_STAMP)

# The demo's environment: the package as the Lambda pins it, and moto for the simulated AWS.
$(DEMO_STAMP): lambda/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r lambda/requirements.txt -e '.[demo]'
	touch $@

# Everything for development on top: CDK, test and lint tools.
$(PY_STAMP): $(DEMO_STAMP) requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt -e '.[demo]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's prometheus (2.42, with promtool) and prometheus-alertmanager (0.25): the alerting
# rules' tests run them. Installed with apt where there is apt and root (CI); elsewhere the tests
# that need them skip, saying so.
$(PROMETHEUS_STAMP): $(PY_STAMP)
	@if command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager; \
	else echo "make: no apt-get as root: the Prometheus and Alertmanager tests will skip"; fi
	touch $@

# dashboards/ipaudit-alerts.yaml from the finding kinds (lambda/ipaudit/finding_kinds.py).
rules: $(PY_STAMP)
	$(BIN)/python -m ipaudit.alert_rules > dashboards/ipaudit-alerts.yaml

demo: $(DEMO_STAMP)
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

# Re-pin the function's runtime (pyproject.toml's dependencies and everything they pull in) after
# changing a dependency; commit the result. Upgrades: `make lock UPGRADE=--upgrade`.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version $(LAMBDA_PYTHON) \
		--custom-compile-command "make lock" $(UPGRADE) --output-file lambda/requirements.txt

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules cdk.out
