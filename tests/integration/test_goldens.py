"""Every bundled workflow, through the client, matches its checked-in golden JSON."""

from __future__ import annotations

import json

import pytest

from .goldens import CASES, path_for, predictions


@pytest.fixture(scope="module")
def current() -> dict:
    return predictions()


@pytest.mark.parametrize("workflow_id", sorted(CASES))
def test_matches_golden(current: dict, workflow_id: str) -> None:
    golden = json.loads(path_for(workflow_id).read_text())
    assert current[workflow_id] == golden, f"run `make goldens` if {workflow_id} changed on purpose"
