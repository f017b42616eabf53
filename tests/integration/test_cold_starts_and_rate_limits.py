"""Cold starts and rate limits: the emulator shows them, and both clients ride them out."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    Input,
    ModelDeployingError,
    RateLimitError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import FAST_RETRY, PAT
from ..helpers import FakeServer, Response, echo, ok_status

URLS = [f"https://example.com/rl/{i}.jpg" for i in range(1600)]


def predict(kind: str, server: Any, inputs: Any, **options: Any) -> Any:
    """``predict`` through the sync or the async client, with a fresh client."""
    client_options = {
        k: options.pop(k) for k in ("rate_limit", "retry", "max_concurrency") if k in options
    }
    if kind == "sync":
        with WorkflowClient(PAT, target=server.target, insecure=True, **client_options) as client:
            return client.predict("General", inputs, **options)

    async def run() -> Any:
        async with AsyncWorkflowClient(
            PAT, target=server.target, insecure=True, **client_options
        ) as client:
            return await client.predict("General", inputs, **options)

    return asyncio.run(run())


# --- the emulator ----------------------------------------------------------------------------


def call(server: LocalWorkflowServer, pat: str = PAT) -> Any:
    """One raw PostWorkflowResults call, no client retries or pacing."""
    with grpc.insecure_channel(server.target) as channel:
        method = channel.unary_unary(
            "/clarifai.api.V2/PostWorkflowResults",
            request_serializer=service_pb2.PostWorkflowResultsRequest.SerializeToString,
            response_deserializer=service_pb2.PostWorkflowResultsResponse.FromString,
        )
        request = service_pb2.PostWorkflowResultsRequest(
            workflow_id="General", inputs=[Input.from_url(URLS[0]).proto]
        )
        return method(request, metadata=(("authorization", f"Key {pat}"),), timeout=10)


def test_rate_limit_is_a_token_bucket_per_pat_answering_like_the_api() -> None:
    with LocalWorkflowServer(rate_limit=5) as server:
        codes = [call(server).status for _ in range(8)]  # a burst: 5 allowed at once
        assert [s.code for s in codes].count(status_code_pb2.SUCCESS) == 5
        throttled = [s for s in codes if s.code == status_code_pb2.CONN_THROTTLED]
        assert len(throttled) == 3 and server.throttled == 3 and len(server.requests) == 8
        assert throttled[0].description == "Making too many requests"
        assert throttled[0].details == "exceeded limit of 5 requests per second"
        assert call(server, "another-pat").status.code == status_code_pb2.SUCCESS  # its own bucket
        time.sleep(0.25)  # a token comes back every 0.2 s
        assert call(server).status.code == status_code_pb2.SUCCESS


def test_rate_limit_is_checked_before_anything_else() -> None:
    with LocalWorkflowServer(pat=PAT, rate_limit=1) as server:
        server.fail_next(5)
        with pytest.raises(grpc.RpcError):
            call(server, "wrong")  # within the limit: the injected failure
        # Over it: throttled before the injected failure or the PAT are looked at.
        assert call(server, "wrong").status.code == status_code_pb2.CONN_THROTTLED
        assert server.faults_injected == 1 and server.throttled == 1


def test_cold_start_answers_model_deploying_for_that_workflow_until_it_ends() -> None:
    with LocalWorkflowServer() as server:
        server.cold_start(0.6, "General")
        assert call(server).status.code == status_code_pb2.MODEL_DEPLOYING
        with WorkflowClient(target=server.target, insecure=True, retry=None) as client:
            assert client.predict("Text", Input.from_text("warm")).ok  # another workflow
        time.sleep(0.7)
        assert call(server).status.code == status_code_pb2.SUCCESS
        server.cold_start(30)  # every workflow
        with WorkflowClient(target=server.target, insecure=True, retry=None) as client:
            with pytest.raises(ModelDeployingError) as caught:
                client.predict("Text", Input.from_text("cold"))
        assert caught.value.attempts == 1  # retry=None retries nothing, deploying included


def test_get_workflow_and_list_workflows_answer_from_the_fixtures() -> None:
    with LocalWorkflowServer(pat=PAT) as server, grpc.insecure_channel(server.target) as channel:
        get = channel.unary_unary(
            "/clarifai.api.V2/GetWorkflow",
            request_serializer=service_pb2.GetWorkflowRequest.SerializeToString,
            response_deserializer=service_pb2.SingleWorkflowResponse.FromString,
        )
        listing = channel.unary_unary(
            "/clarifai.api.V2/ListWorkflows",
            request_serializer=service_pb2.ListWorkflowsRequest.SerializeToString,
            response_deserializer=service_pb2.MultiWorkflowResponse.FromString,
        )
        auth = (("authorization", f"Key {PAT}"),)
        one = get(service_pb2.GetWorkflowRequest(workflow_id="Detection"), metadata=auth)
        assert one.status.code == status_code_pb2.SUCCESS
        assert one.workflow == server.workflows["Detection"]
        missing = get(service_pb2.GetWorkflowRequest(workflow_id="Nope"), metadata=auth)
        assert missing.status.code == status_code_pb2.CONN_DOES_NOT_EXIST  # as the API answers
        every = listing(service_pb2.ListWorkflowsRequest(), metadata=auth)
        assert [w.id for w in every.workflows] == sorted(server.workflows)
        refused = listing(service_pb2.ListWorkflowsRequest(), metadata=(("authorization", "x"),))
        assert refused.status.code == status_code_pb2.CONN_KEY_INVALID
        # What Clarifai's SDK asks next, to learn a workflow's input types.
        model = channel.unary_unary(
            "/clarifai.api.V2/GetModel",
            request_serializer=service_pb2.GetModelRequest.SerializeToString,
            response_deserializer=service_pb2.SingleModelResponse.FromString,
        )(service_pb2.GetModelRequest(model_id="ocr-scene-english"), metadata=auth)
        assert model.model.model_type_id == "ocr"
        model_type = channel.unary_unary(
            "/clarifai.api.V2/GetModelType",
            request_serializer=service_pb2.GetModelTypeRequest.SerializeToString,
            response_deserializer=service_pb2.SingleModelTypeResponse.FromString,
        )(service_pb2.GetModelTypeRequest(model_type_id="ocr"), metadata=auth)
        assert list(model_type.model_type.input_fields) == ["image"]


def test_messages_up_to_128_mib_are_accepted() -> None:
    big = os.urandom(5 * 1024 * 1024)  # over gRPC's default 4 MiB
    with LocalWorkflowServer() as server:
        prediction = predict("sync", server, Input.from_bytes(big))
    assert prediction.ok


def test_a_port_in_use_is_an_error() -> None:
    with LocalWorkflowServer() as first:
        with pytest.raises(OSError, match="in use"):
            LocalWorkflowServer(port=first.port).start()
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        try:
            with pytest.raises(OSError, match="in use"):
                LocalWorkflowServer(port=held.getsockname()[1]).start()
        finally:
            held.close()


def test_serve_with_a_rate_limit_and_a_cold_start() -> None:
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clarifai_workflow_predict",
            "serve",
            "--rate-limit",
            "2",
            "--cold-start",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )
    try:
        target = serve.stdout.readline().split()[-1]  # type: ignore[union-attr]
        banner = [serve.stdout.readline() for _ in range(4)]  # type: ignore[union-attr]
        assert "rate limit: 2 requests per second" in "".join(banner)
        assert "cold start: MODEL_DEPLOYING for 30 s" in "".join(banner)
        with WorkflowClient(target=target, insecure=True, retry=None) as client:
            with pytest.raises(ModelDeployingError):
                client.predict("General", URLS[0])
            client.predict_request(service_pb2.PostWorkflowResultsRequest(workflow_id="General"))
            with pytest.raises(RateLimitError):
                client.predict("General", URLS[0])  # the third call within a second
    finally:
        serve.terminate()
        serve.communicate(timeout=30)


# --- cold starts in the client ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_cold_start_is_ridden_out_until_the_deadline(kind: str) -> None:
    with LocalWorkflowServer() as server:
        server.cold_start(3)
        started = time.monotonic()
        prediction = predict(kind, server, URLS[:3], timeout=20)
        took = time.monotonic() - started
        polls = len(server.requests)
    assert prediction.ok and len(prediction) == 3
    assert 3 <= took < 3 + 1.5 + 2  # at most one poll interval past the model being ready
    assert polls > 4  # more than max_attempts: deploying is retried until the deadline


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_cold_start_longer_than_the_deadline_raises_model_deploying(kind: str) -> None:
    with LocalWorkflowServer() as server:
        server.cold_start(30)
        started = time.monotonic()
        with pytest.raises(ModelDeployingError) as caught:
            predict(kind, server, URLS[0], timeout=1.5)
        took = time.monotonic() - started
    error = caught.value
    assert took < 1.5 + 1.0
    assert error.code == status_code_pb2.MODEL_DEPLOYING and error.attempts == len(server.requests)
    assert error.attempts > 1 and "deploying" in str(error).lower()


@pytest.mark.parametrize(
    "code",
    [
        status_code_pb2.MODEL_DEPLOYING,
        status_code_pb2.MODEL_QUEUED_FOR_DEPLOYMENT,
        status_code_pb2.MODEL_LOADING,
    ],
)
def test_every_deploying_status_is_retried_past_max_attempts(code: int) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        return Response(status=ok_status(code, "deploying")) if call < 6 else echo(request)

    with FakeServer(handler) as server:
        assert predict("sync", server, URLS[0], timeout=30, retry=FAST_RETRY).ok
    assert server.calls == 7 > FAST_RETRY.max_attempts


def test_predict_iter_rides_out_a_cold_start_with_its_defaults() -> None:
    with LocalWorkflowServer() as server:
        server.cold_start(2)
        # A client timeout shorter than the cold start: each attempt gets it, while the request
        # keeps polling the deploying model (up to 10 minutes by default).
        with WorkflowClient(target=server.target, insecure=True, timeout=1.0) as client:
            results = list(client.predict_iter("General", URLS[:64]))
    assert len(results) == 64 and all(r.ok for r in results)


# --- rate limiting in the client -------------------------------------------------------------


def throughput(server: LocalWorkflowServer, **client_options: Any) -> tuple[list[Any], int, int]:
    before, throttled = len(server.requests), server.throttled
    with WorkflowClient(
        PAT, target=server.target, insecure=True, max_concurrency=8, **client_options
    ) as client:
        results = list(client.predict_iter("General", URLS))
    return results, len(server.requests) - before, server.throttled - throttled


def test_adaptive_limiting_rides_a_rate_limit_that_an_unpaced_client_runs_into() -> None:
    with LocalWorkflowServer(rate_limit=10) as server:
        results, calls, throttled = throughput(server)
        assert len(results) == 1600 and all(r.ok for r in results)
        assert throttled <= 0.25 * calls  # a small share, mostly the first burst
    with LocalWorkflowServer(rate_limit=10) as server:
        results, calls, throttled = throughput(server, rate_limit=None)
    assert throttled > 10  # the limit is real


def test_a_fixed_rate_limit_sends_at_most_that_many_requests_per_second() -> None:
    with FakeServer() as server:
        with WorkflowClient(
            PAT, target=server.target, insecure=True, rate_limit=5, max_concurrency=8
        ) as client:
            started = time.monotonic()
            client.predict("General", URLS[: 16 * 8], timeout=30)  # batch_size 32: 4 requests
            list(client.predict_iter("General", URLS[: 32 * 8]))  # and 8 more
            took = time.monotonic() - started
    assert server.calls == 12
    assert took >= 11 / 5 * 0.95  # 12 requests: 11 gaps of 0.2 s
    arrivals = server.arrivals
    assert all(b - a >= 0.15 for a, b in zip(arrivals, arrivals[1:], strict=False))


def test_one_limiter_paces_every_thread_and_task_of_a_client() -> None:
    import threading

    with FakeServer() as server:
        client = WorkflowClient(PAT, target=server.target, insecure=True, rate_limit=10)
        threads = [
            threading.Thread(target=client.predict, args=("General", URLS[i])) for i in range(8)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
        took = time.monotonic() - started

        async def tasks() -> None:
            async with AsyncWorkflowClient(
                PAT, target=server.target, insecure=True, rate_limit=10
            ) as aio:
                await asyncio.gather(*(aio.predict("General", URLS[i]) for i in range(8)))

        started = time.monotonic()
        asyncio.run(tasks())
        took_async = time.monotonic() - started
    assert took >= 0.7 * 0.95 and took_async >= 0.7 * 0.95  # 8 requests at 10/s: 7 gaps


# --- the pytest plugin -----------------------------------------------------------------------


def test_the_pytest_plugin_gives_a_server_and_a_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            def test_my_code(clarifai_server, clarifai_client):
                clarifai_server.fail_next(1)
                prediction = clarifai_client.predict("General", "https://example.com/a.jpg")
                assert prediction.ok and len(clarifai_server.requests) == 2
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_pytest_plugin_imports_nothing_heavy_until_used() -> None:
    probe = (
        "import sys, clarifai_workflow_predict.pytest_plugin; "
        "print(sorted(m for m in ('grpc', 'clarifai_grpc', 'google.protobuf') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
