from __future__ import annotations

import os

# gRPC's core logs connection events (GOAWAY on server shutdown) at INFO; tests stop servers often.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from typing import Any  # noqa: E402

import pytest  # noqa: E402

from clarifai_workflow_predict import RetryPolicy  # noqa: E402

# Tests never reach Clarifai: drop any credentials or target the environment carries.
for _name in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_GRPC_BASE"):
    os.environ.pop(_name, None)

pytest_plugins = ["pytester"]

PAT = "test-pat-0123456789abcdef"
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return FAST_RETRY


@pytest.fixture(params=("sync", "async"))
def harness(request: pytest.FixtureRequest) -> Any:
    """Each client kind in turn, behind one synchronous face (``tests.clients.Harness``)."""
    from .clients import Harness

    made = Harness(request.param)
    yield made
    made.close()


class Reliability:
    """Counters the fault, load and hygiene tests add to; ``make reliability`` writes them to
    ``docs/reliability.md`` (the environment variable ``RELIABILITY_REPORT`` names the JSON file)."""

    FIELDS = (
        "predictions",
        "inputs_sent",
        "calls_made",
        "faults_injected",
        "retries",
        "failed_inputs_reported",
        "calls_failed_typed",
        "inputs_lost",
        "misalignments",
        "bad_inputs_tried",
        "malformed_responses_tried",
        "open_close_cycles",
        "leaks_found",
    )

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self.FIELDS, 0)
        self.notes: list[str] = []

    def add(self, **counts: int) -> None:
        for name, value in counts.items():
            self.counts[name] += value


@pytest.fixture(scope="session")
def reliability() -> Any:
    stats = Reliability()
    yield stats
    path = os.environ.get("RELIABILITY_REPORT")
    if path:
        import json

        with open(path, "w") as f:
            json.dump({"counts": stats.counts, "notes": stats.notes}, f, indent=1)
