# seats-eval: one command sets up and runs the offline demo, one runs the tests.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.seats-installed
ARTIFACTS ?= artifacts
PYTEST_ARGS ?=

.PHONY: setup demo test test-all lint clean-artifacts

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/seats-eval demo --artifacts $(ARTIFACTS)

test: setup
	SEATS_TEST_ARTIFACTS=$(abspath $(ARTIFACTS))/test $(PY) -m pytest -q $(PYTEST_ARGS)

test-all: setup
	SEATS_TEST_ARTIFACTS=$(abspath $(ARTIFACTS))/test $(PY) -m pytest -q -m "not gpu" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check seats_eval tests tasks

clean-artifacts:
	rm -rf $(ARTIFACTS)
