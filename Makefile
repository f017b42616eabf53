# Every target builds .venv from pyproject.toml when it is missing; nothing relies on packages
# installed by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two steps: the runtime alone (what `make demo` needs: the package and its three dependencies),
# then the test, lint, Ray and benchmark tools on top for everything else (`make test` runs a
# quick pass of every benchmark, the FastAPI service case included).
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev

.PHONY: test test-sdk lint demo bench bench-sdk soak goldens clean

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,ray,bench]'
	touch $(DEV)

# Four workers on any machine: most tests wait on servers and clocks, not on a core.
test: $(DEV)
	$(PY) -m pytest -q -n 4

lint: $(DEV)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src

RELIABILITY_TESTS := tests/integration/test_faults.py tests/integration/test_hygiene.py \
	tests/unit/test_input_fuzz.py tests/integration/test_malformed_responses.py \
	tests/integration/test_security.py

# The reliability tests with their long variants; writes docs/reliability.md from the run.
soak: $(DEV)
	RELIABILITY_REPORT=.reliability.json $(PY) -m pytest -q -m "" $(RELIABILITY_TESTS)
	$(PY) tests/reliability_report.py .reliability.json docs/reliability.md

demo: $(RUNTIME)
	$(VENV)/bin/clarifai-workflow-predict demo

bench: $(DEV)
	GRPC_VERBOSITY=ERROR $(PY) bench/run.py

# Clarifai's official SDK against `serve`, as the README's SDK example (the `sdk` extra; not in
# `make test`, whose install it would double).
test-sdk: $(DEV)
	$(PY) -m pip install --quiet -e '.[sdk]'
	$(PY) -m pytest -q -m sdk

# The same, with Clarifai's official SDK installed for reference rows (the `sdk` extra).
bench-sdk: $(DEV)
	$(PY) -m pip install --quiet -e '.[sdk]'
	GRPC_VERBOSITY=ERROR $(PY) bench/run.py

goldens: $(DEV)
	$(PY) -m tests.integration.goldens

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
