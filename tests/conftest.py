from __future__ import annotations

import os

# gRPC's core logs connection events (GOAWAY on server shutdown) at INFO; tests stop servers often.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import pytest  # noqa: E402

from clarifai_workflow_predict import RetryPolicy  # noqa: E402

# Tests never reach Clarifai: drop any credentials or target the environment carries.
for _name in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_GRPC_BASE"):
    os.environ.pop(_name, None)

PAT = "test-pat-0123456789abcdef"
FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return FAST_RETRY
