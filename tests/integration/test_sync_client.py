"""What only the sync client has: its chunk thread pool. Every other behaviour is proven on
both clients in ``test_clients.py``."""

from __future__ import annotations

import threading

from clarifai_workflow_predict import WorkflowClient

from ..conftest import FAST_RETRY, PAT
from ..helpers import FakeServer

URLS = [f"https://example.com/img/{i}.jpg" for i in range(8)]


def client_for(server: FakeServer, **kwargs: object) -> WorkflowClient:
    return WorkflowClient(PAT, target=server.target, insecure=True, retry=FAST_RETRY, **kwargs)  # type: ignore[arg-type]


def test_chunk_pool_threads_end_on_close() -> None:
    with FakeServer() as server:
        client = client_for(server, batch_size=2)
        client.predict("General", URLS[:8])
        assert any(t.name.startswith("clarifai-workflow-predict") for t in threading.enumerate())
        client.close()
    assert not any(t.name.startswith("clarifai-workflow-predict") for t in threading.enumerate())
