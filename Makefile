# Every target sets up what it needs, idempotently: a .venv with the pinned
# Python dependencies and this project in editable mode, and node_modules with
# the pinned CDK CLI and Node.js 22 (put first on PATH so jsii runs on it).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
STAGE ?= dev
CDK := $(CURDIR)/node_modules/.bin/cdk
PYTEST_ARGS ?=

.PHONY: setup synth test lint format bootstrap deploy destroy demo bench clean
.PHONY: test-stress

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	$(CDK) synth --quiet -c stage=$(STAGE)
	@ls cdk.out/*.template.json

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The full suite while two CPU-burning processes compete with it, as on a busy
# two-core machine: run it before calling a change done. The burners are killed
# however the suite ends.
test-stress: setup
	@yes > /dev/null & one=$$!; yes > /dev/null & two=$$!; \
	trap 'kill $$one $$two 2>/dev/null' EXIT INT TERM; \
	echo "test-stress: CPU burners $$one and $$two running"; \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bootstrap: setup
	$(CDK) bootstrap -c stage=$(STAGE)

deploy: setup
	$(CDK) deploy --all -c stage=$(STAGE)

destroy: setup
	$(CDK) destroy --all -c stage=$(STAGE)

# The demo deploys the `local` stage (sized for a laptop) into the embedded local cloud.
demo: setup
	$(CDK) synth --quiet -c stage=local --output cdk.out.local
	$(BIN)/sqs-blueprint demo --cdk-out cdk.out.local

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
