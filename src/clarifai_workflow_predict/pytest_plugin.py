"""pytest fixtures for code that calls Clarifai workflows, registered when the package is installed.

- ``clarifai_server``: a started ``LocalWorkflowServer`` (the bundled workflows), stopped after
  the test. Configure it in the test: ``clarifai_server.fail_next(2)``,
  ``clarifai_server.cold_start(3)``, ``clarifai_server.latency = 0.1``.
- ``clarifai_client``: a ``WorkflowClient`` pointed at it, closed after the test.

Every pytest run of a project that installs the package loads this module, so it imports nothing
beyond pytest until a fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from .client import WorkflowClient
    from .testing import LocalWorkflowServer

__all__ = ["clarifai_server", "clarifai_client"]


@pytest.fixture
def clarifai_server() -> Iterator[LocalWorkflowServer]:
    """A running ``LocalWorkflowServer`` on 127.0.0.1, stopped when the test ends."""
    from .testing import LocalWorkflowServer

    with LocalWorkflowServer() as server:
        yield server


@pytest.fixture
def clarifai_client(clarifai_server: LocalWorkflowServer) -> Iterator[WorkflowClient]:
    """A ``WorkflowClient`` for ``clarifai_server`` (plaintext on loopback, no PAT needed)."""
    from .client import WorkflowClient

    with WorkflowClient(target=clarifai_server.target, insecure=True) as client:
        yield client
