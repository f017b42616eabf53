"""AsyncWorkflowClient against real grpc.aio servers on 127.0.0.1 (plain ``asyncio.run``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import grpc.aio
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    DeadlineExceededError,
    Input,
    InputError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    TransportError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import FAST_RETRY, PAT
from ..helpers import AioFakeServer, FakeServer, Response, echo, first_concepts, ok_status

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


def test_predict_sends_auth_and_returns_results_in_order() -> None:
    async def main() -> None:
        async with (
            AioFakeServer() as server,
            client_for(server, user_id="clarifai", app_id="main") as client,
        ):
            prediction = await client.predict("General", URLS[:3])
            assert first_concepts(prediction) == URLS[:3]
            assert server.metadata[0]["authorization"] == f"Key {PAT}"
            assert server.requests[0].user_app_id.app_id == "main"

    asyncio.run(main())


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


def test_retries_statuses_and_exhaustion() -> None:
    async def main() -> None:
        async with AioFakeServer(grpc_failures(2)) as server, client_for(server) as client:
            assert (await client.predict("General", URLS[0])).ok
            assert server.calls == 3

        def throttled(request: Any, context: Any, call: int) -> Response:
            if call < 1:
                return Response(status=ok_status(status_code_pb2.CONN_THROTTLED, "slow down"))
            return echo(request)

        async with AioFakeServer(throttled) as server, client_for(server) as client:
            assert (await client.predict("General", URLS[0])).ok
            assert server.calls == 2

        async with AioFakeServer(grpc_failures(100)) as server, client_for(server) as client:
            with pytest.raises(TransportError) as caught:
                await client.predict("General", URLS[0])
            assert server.calls == 4 and isinstance(caught.value.__cause__, grpc.RpcError)

        def always_throttled(request: Any, context: Any, call: int) -> Response:
            return Response(status=ok_status(status_code_pb2.CONN_THROTTLED, "slow down"))

        # Pacing off: this is about the retry schedule, not the rate limiter.
        async with (
            AioFakeServer(always_throttled) as server,
            client_for(server, rate_limit=None) as client,
        ):
            with pytest.raises(RateLimitError):
                await client.predict("General", URLS[0])
            assert server.calls == 4
            response = await client.predict_request(
                service_pb2.PostWorkflowResultsRequest(workflow_id="W")
            )
            assert response.status.code == status_code_pb2.CONN_THROTTLED and server.calls == 8

    asyncio.run(main())


def test_deadline_bounds_slow_calls_and_retries() -> None:
    async def main() -> None:
        async with AioFakeServer(slow_echo(5)) as server, client_for(server) as client:
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError):
                await client.predict("General", URLS[0], timeout=0.3)
            assert time.monotonic() - started < 1.5
        policy = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.05, jitter=0)
        async with (
            AioFakeServer(grpc_failures(10_000)) as server,
            client_for(server, retry=policy) as client,
        ):
            started = time.monotonic()
            with pytest.raises(TransportError):
                await client.predict("General", URLS[0], timeout=0.5)
            assert time.monotonic() - started < 1.5 and 2 <= server.calls < 50

    asyncio.run(main())


def test_128_inputs_run_4_requests_at_once_and_merge_in_order() -> None:
    async def main() -> None:
        async with (
            AioFakeServer(slow_echo(0.2)) as server,
            client_for(server, max_concurrency=4) as client,
        ):
            started = time.monotonic()
            prediction = await client.predict("General", URLS[:128])
            elapsed = time.monotonic() - started
            assert first_concepts(prediction) == URLS[:128]
            assert server.calls == 4 and server.in_flight_max == 4
            assert elapsed < 0.2 * 4 * 0.75  # concurrent, not one after another

        async with (
            AioFakeServer(slow_echo(0.05)) as server,
            client_for(server, max_concurrency=2, batch_size=8) as client,
        ):
            prediction = await client.predict("General", URLS[:64])
            assert first_concepts(prediction) == URLS[:64] and server.in_flight_max == 2

    asyncio.run(main())


def test_50_concurrent_predicts_on_one_client() -> None:
    async def main() -> None:
        async with AioFakeServer(slow_echo(0.01)) as server, client_for(server) as client:
            calls = [client.predict("General", URLS[i : i + 3]) for i in range(50)]
            predictions = await asyncio.gather(*calls)
            for i, prediction in enumerate(predictions):
                assert first_concepts(prediction) == URLS[i : i + 3]
            assert server.calls == 50 and server.in_flight_max > 1

    asyncio.run(main())


def test_partial_chunk_failure_and_all_failed() -> None:
    async def main() -> None:
        async def first_fails(request: Any, context: Any, call: int) -> Response:
            if request.inputs[0].data.image.url == URLS[0]:
                await context.abort(grpc.StatusCode.INTERNAL, "broken")
            return echo(request)

        async with (
            AioFakeServer(first_fails) as server,
            client_for(server, batch_size=10) as client,
        ):
            prediction = await client.predict("General", URLS[:25])
            assert [r.ok for r in prediction.results] == [False] * 10 + [True] * 15
            assert "gRPC INTERNAL" in prediction.results[0].status.details
            assert prediction.status.name == "MIXED_STATUS"

        def missing(request: Any, context: Any, call: int) -> Response:
            return Response(status=ok_status(status_code_pb2.WORKFLOW_DOES_NOT_EXIST, "no"))

        async with AioFakeServer(missing) as server, client_for(server, batch_size=10) as client:
            with pytest.raises(NotFoundError):
                await client.predict("General", URLS[:25])
            assert server.calls == 3

    asyncio.run(main())


def test_drop_in_aio_channel_and_stub_are_left_open() -> None:
    async def main() -> None:
        from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
        from clarifai_grpc.grpc.api import service_pb2_grpc

        async with AioFakeServer() as server:
            channel = grpc.aio.insecure_channel(server.target)
            async with AsyncWorkflowClient(PAT, channel=channel) as client:
                assert first_concepts(await client.predict("General", URLS[:2])) == URLS[:2]
            again = AsyncWorkflowClient(PAT, channel=channel)
            assert (await again.predict("General", URLS[0])).ok  # the channel is still open
            await channel.close()

            stub_channel = ClarifaiChannel.get_aio_insecure_grpc_channel(
                base="127.0.0.1", port=server.port
            )
            stub = service_pb2_grpc.V2Stub(stub_channel)
            async with AsyncWorkflowClient(PAT, stub=stub) as client:
                assert first_concepts(await client.predict("General", URLS[:3])) == URLS[:3]
            response = await stub.PostWorkflowResults(
                service_pb2.PostWorkflowResultsRequest(workflow_id="W")
            )
            assert response.status.code == status_code_pb2.SUCCESS
            await stub_channel.close()
            assert server.metadata[-2]["authorization"] == f"Key {PAT}"

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


def test_bad_input_and_closed_client() -> None:
    async def main() -> None:
        async with AioFakeServer() as server:
            client = client_for(server)
            for bad in (None, [], [URLS[0], 5], "not a url"):
                with pytest.raises(InputError):
                    await client.predict("General", bad)
            await client.close()
            await client.close()
            with pytest.raises(RuntimeError, match="closed"):
                await client.predict("General", URLS[0])
            assert server.calls == 0

    asyncio.run(main())
