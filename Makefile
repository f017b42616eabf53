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
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not soak"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src

soak: $(STAMP)
	$(PY) -m pytest -q -m soak

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
