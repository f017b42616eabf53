"""Fixtures the command-line tests share: an emulator, and the command run in this process."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from clarifai_workflow_predict.cli import main
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def server() -> Any:
    """The emulator, taking only ``PAT``; one per test module."""
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv)``: the command in this process, as ``(exit code, stdout, stderr)``."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
