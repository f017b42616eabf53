# Every target builds .venv from pyproject.toml when it is missing; nothing relies on packages
# installed by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint demo bench bench-sdk soak goldens clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not soak"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src

RELIABILITY_TESTS := tests/integration/test_faults.py tests/integration/test_hygiene.py \
	tests/unit/test_input_fuzz.py tests/integration/test_malformed_responses.py \
	tests/integration/test_security.py

# The reliability tests with their long variants; writes docs/reliability.md from the run.
soak: $(STAMP)
	RELIABILITY_REPORT=.reliability.json $(PY) -m pytest -q $(RELIABILITY_TESTS)
	$(PY) tests/reliability_report.py .reliability.json docs/reliability.md

demo: $(STAMP)
	$(VENV)/bin/clarifai-workflow-predict demo

bench: $(STAMP)
	GRPC_VERBOSITY=ERROR $(PY) bench/run.py

# The same, with Clarifai's official SDK installed for reference rows (the `bench` extra).
bench-sdk: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	GRPC_VERBOSITY=ERROR $(PY) bench/run.py

goldens: $(STAMP)
	$(PY) -m tests.integration.goldens

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
