# Every target sets up what it needs, idempotently: a .venv with the pinned
# Python dependencies and this project in editable mode, and node_modules with
# the pinned CDK CLI and Node.js 22 (put first on PATH so jsii runs on it).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export NO_MKDOCS_2_WARNING := 1
STAGE ?= dev
CDK := $(CURDIR)/node_modules/.bin/cdk
PYTEST_ARGS ?=
# The suite runs as three pytest processes (tests/run_suite.sh says which and why).
# PYTEST_ARGS takes options (-x, -k ...); to run some files, call pytest on them.
RUN_TESTS = tests/run_suite.sh $(BIN)/python $(PYTEST_ARGS)

.PHONY: setup synth test lint format bootstrap deploy destroy demo bench clean
.PHONY: test-stress mutate docs

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
	@# Removes the templates an earlier synth left (another stage, a removed pipeline).
	@$(BIN)/python -m sqs_blueprint.local.assembly cdk.out

test: setup
	@$(RUN_TESTS)

# The full suite while two CPU-burning processes compete with it, as on a busy
# two-core machine: run it before calling a change done. The burners are killed
# however the suite ends.
test-stress: setup
	@yes > /dev/null & one=$$!; yes > /dev/null & two=$$!; \
	trap 'kill $$one $$two 2>/dev/null' EXIT INT TERM; \
	echo "test-stress: CPU burners $$one and $$two running"; \
	$(RUN_TESTS)

# Mutation testing of the write path (tools/mutate.py, docs/mutation.md): each module's
# mutants against the unit tests that exercise it; prints killed / total per module and
# fails under 90%. Not part of make test. MUTATE_ARGS: modules (e.g. pacing), --jobs N.
MUTATE_ARGS ?=
mutate: setup
	$(BIN)/python tools/mutate.py $(MUTATE_ARGS)

# checkov pins an older boto3 than the project, so it gets a virtualenv of its own.
CHECKOV_VENV := $(VENV)/checkov
# The templates checkov reads: dev as shipped, and prod with the account and alarm
# address a user sets (docs/deploying.md); these are read, never deployed.
REVIEW_OUT := build/review
REVIEW_PROD := -c account=123456789012 -c alarms_to=oncall@yourcompany.com

$(CHECKOV_VENV)/.installed: requirements-checkov.txt | $(VENV)/.installed
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# The documentation site (mkdocs-material) gets a virtualenv of its own too.
DOCS_VENV := $(VENV)/docs

$(DOCS_VENV)/.installed: requirements-docs.txt | $(VENV)/.installed
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-docs.txt
	touch $@

# docs/ as a site in build/site; --strict turns a broken link or anchor into a failure
# (not with --quiet, which hides the warnings strict mode counts).
docs: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/mkdocs build --strict

lint: setup $(CHECKOV_VENV)/.installed docs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# Each handler is its own module named `handler`: one mypy run per function.
	for handler in sqs_blueprint_cdk/handlers/*/handler.py; do $(BIN)/mypy --strict "$$handler" || exit 1; done
	rm -rf $(REVIEW_OUT)
	$(CDK) synth --quiet -c stage=dev --output $(REVIEW_OUT)/dev
	$(CDK) synth --quiet -c stage=prod $(REVIEW_PROD) --output $(REVIEW_OUT)/prod
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --directory $(REVIEW_OUT)

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
