"""What only the async client has: event loops, ``grpc.aio`` servers and channels, many tasks on
one client. Every other behaviour is proven on both clients in ``test_clients.py``."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio
import pytest
from clarifai_grpc.grpc.api import resources_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    Input,
    InputError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import FAST_RETRY, PAT
from ..helpers import AioFakeServer, FakeServer, Response, echo, first_concepts

URLS = [f"https://example.com/img/{i}.jpg" for i in range(200)]


def client_for(server: Any, **kwargs: Any) -> AsyncWorkflowClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return AsyncWorkflowClient(PAT, target=server.target, insecure=True, **kwargs)


def slow_echo(delay: float) -> Any:
    async def handler(request: Any, context: Any, call: int) -> Response:
        await asyncio.sleep(delay)
        return echo(request)

    return handler


def grpc_failures(count: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> Any:
    async def handler(request: Any, context: Any, call: int) -> Response:
        if call < count:
            await context.abort(code, f"injected {code.name}")
        return echo(request)

    return handler


def test_both_clients_send_byte_identical_requests() -> None:
    selector = resources_pb2.RunnerSelector(nodepool=resources_pb2.Nodepool(id="pool"))
    inputs = [
        URLS[0],
        b"\x89PNG fake image bytes",
        Input.from_text("hello", id="t", metadata={"k": [1, "two"]}),
        Input.from_url(URLS[1], kind="video"),
        resources_pb2.Input(
            id="raw", data=resources_pb2.Data(image=resources_pb2.Image(url=URLS[2]))
        ),
    ] * 8  # 40 inputs: two requests each
    options: dict[str, Any] = {
        "user_id": "u",
        "app_id": "a",
        "version_id": "v",
        "output_config": {"max_concepts": 7, "min_value": 0.25},
        "node_runner_selectors": {"node": selector},
        "workflow_state_id": "s",
    }
    with (
        FakeServer() as sync_server,
        WorkflowClient(PAT, target=sync_server.target, insecure=True, max_concurrency=1) as sync,
    ):
        sync.predict("General", inputs, **options)

    async def main() -> list[bytes]:
        async with AioFakeServer() as server, client_for(server, max_concurrency=1) as client:
            await client.predict("General", inputs, **options)
            return server.raw_requests

    assert asyncio.run(main()) == sync_server.raw_requests
    assert len(sync_server.raw_requests) == 2


def test_50_concurrent_predicts_on_one_client() -> None:
    async def main() -> None:
        async with AioFakeServer(slow_echo(0.01)) as server, client_for(server) as client:
            calls = [client.predict("General", URLS[i : i + 3]) for i in range(50)]
            predictions = await asyncio.gather(*calls)
            for i, prediction in enumerate(predictions):
                assert first_concepts(prediction) == URLS[i : i + 3]
            assert server.calls == 50 and server.in_flight_max > 1

    asyncio.run(main())


def test_wrong_channel_kinds_are_refused() -> None:
    sync_channel = grpc.insecure_channel("127.0.0.1:1")
    with pytest.raises(InputError, match="belongs with WorkflowClient"):
        AsyncWorkflowClient(channel=sync_channel)
    sync_channel.close()

    async def main() -> None:
        aio_channel = grpc.aio.insecure_channel("127.0.0.1:1")
        with pytest.raises(InputError, match="belongs with AsyncWorkflowClient"):
            WorkflowClient(channel=aio_channel)
        await aio_channel.close()

    asyncio.run(main())


def test_emulator_from_async_code() -> None:
    async def main(target: str) -> Any:
        async with AsyncWorkflowClient(PAT, target=target, insecure=True) as client:
            return await client.predict("General", [URLS[0], "https://fail.invalid/x.jpg"])

    with LocalWorkflowServer(pat=PAT) as server:
        prediction = asyncio.run(main(server.target))
        with WorkflowClient(PAT, target=server.target, insecure=True) as sync:
            assert (
                sync.predict("General", [URLS[0], "https://fail.invalid/x.jpg"]).results
                == prediction.results
            )
    assert [r.ok for r in prediction.results] == [True, False]


def test_a_client_stays_with_its_event_loop() -> None:
    with LocalWorkflowServer() as server:
        client = AsyncWorkflowClient(target=server.target, insecure=True)
        first = asyncio.new_event_loop()
        try:
            assert first.run_until_complete(client.predict("General", URLS[0])).ok

            async def elsewhere() -> None:
                with pytest.raises(RuntimeError, match="another event loop"):
                    await client.predict("General", URLS[0])

            asyncio.run(elsewhere())  # a second loop while the first is alive: refused at once
        finally:
            first.close()

        async def after() -> None:
            assert (await client.predict("General", URLS[0])).ok  # the first loop is gone
            await client.close()

        asyncio.run(after())
