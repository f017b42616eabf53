"""predict_iter: order, bounded reading, failures in-band."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import pytest
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    AuthenticationError,
    InputError,
    NotFoundError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT


def urls(count: int, start: int = 0) -> list[str]:
    return [f"https://example.com/bulk/{i}.jpg" for i in range(start, start + count)]


class Counted:
    """An iterable that records how far it has been read."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.read = 0

    def __iter__(self) -> Iterator[Any]:
        for value in self.values:
            self.read += 1
            yield value


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


@pytest.fixture(scope="module")
def reference(server: Any) -> dict[str, str]:
    with WorkflowClient(PAT, target=server.target, insecure=True) as client:
        return {
            u: r.id
            for u, r in zip(urls(300), client.predict("General", urls(300)).results, strict=True)
        }


def test_predict_iter_yields_in_order_and_reads_lazily(server: Any, reference: dict) -> None:
    source = Counted(urls(300))
    with WorkflowClient(
        PAT, target=server.target, insecure=True, batch_size=10, max_concurrency=3
    ) as client:
        results = client.predict_iter("General", source)
        assert source.read == 0  # nothing is read before the first result is asked for
        first = next(results)
        assert source.read <= 3 * 10 + 10  # at most the window, plus the chunk being read
        rest = list(results)
    assert [first.id, *(r.id for r in rest)] == [reference[u] for u in urls(300)]


def test_predict_iter_reports_bad_inputs_and_failed_requests_in_band(server: Any) -> None:
    values = [
        *urls(5),
        42,
        "not a url",
        "https://fail.invalid/x.jpg",
        Path("/no/such.png"),
        *urls(5, 5),
    ]
    # One request at a time, so the injected failure meets the first request, not a later one.
    with WorkflowClient(
        PAT, target=server.target, insecure=True, batch_size=4, max_concurrency=1
    ) as client:
        server.fail_next(1, status_code=status_code_pb2.MODEL_PREDICTION_FAILED)
        results = list(client.predict_iter("General", iter(values)))
    names = [r.status.name for r in results]
    assert len(results) == len(values)
    assert names[:4] == ["MODEL_PREDICTION_FAILED"] * 4
    assert names[4] == "SUCCESS"
    assert names[5:9] == [
        "INPUT_INVALID_ARGUMENT",
        "INPUT_INVALID_ARGUMENT",
        "INPUT_FAILED",
        "INPUT_INVALID_ARGUMENT",
    ]
    assert "inputs[5]" in results[5].status.description and "not sent" in results[5].status.details
    assert names[9:] == ["SUCCESS"] * 5


def test_predict_iter_raises_for_auth_and_not_found_and_bad_arguments(server: Any) -> None:
    with WorkflowClient("wrong", target=server.target, insecure=True) as wrong:
        with pytest.raises(AuthenticationError):
            list(wrong.predict_iter("General", urls(100)))
    with WorkflowClient(PAT, target=server.target, insecure=True, batch_size=10) as client:
        done = []
        with pytest.raises(NotFoundError):
            for result in client.predict_iter("Nope", urls(50)):
                done.append(result)
        assert done == []
        for bad in (
            lambda: client.predict_iter("", urls(2)),
            lambda: client.predict_iter("General", 42),
        ):
            with pytest.raises(InputError):
                bad()  # at the call, before any input is read


def test_async_predict_iter(server: Any, reference: dict) -> None:
    async def run() -> list[str]:
        async with AsyncWorkflowClient(
            PAT, target=server.target, insecure=True, batch_size=16, max_concurrency=4
        ) as client:
            source = Counted(urls(200))
            ids = []
            async for result in client.predict_iter("General", source):
                ids.append(result.id)
                assert source.read <= len(ids) + 4 * 16 + 16
            with pytest.raises(NotFoundError):
                async for _ in client.predict_iter("Nope", urls(10)):
                    pass
            return ids

    assert asyncio.run(run()) == [reference[u] for u in urls(200)]
