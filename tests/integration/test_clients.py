"""Every behaviour of a client, proven on both: each test runs on ``WorkflowClient`` and on
``AsyncWorkflowClient`` through ``tests.clients.Harness``, against real gRPC servers on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    ApiError,
    AuthenticationError,
    DeadlineExceededError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    PredictionError,
    RateLimitError,
    RetryPolicy,
    TransportError,
)
from clarifai_workflow_predict._options import NOT_GIVEN

from ..clients import Harness, client_for
from ..conftest import PAT
from ..helpers import FakeServer, Response, echo, echo_result, first_concepts, ok_status


def first_concepts_of(results: list[Any]) -> list[str]:
    return [r.outputs[0].concepts[0].name for r in results]


URLS = [f"https://example.com/img/{i}.jpg" for i in range(70)]


def slow_echo(delay: float) -> Any:
    def handler(request: Any, context: Any, call: int) -> Response:
        time.sleep(delay)
        return echo(request)

    return handler


def grpc_failures(count: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> Any:
    def handler(request: Any, context: Any, call: int) -> Response:
        if call < count:
            context.abort(code, f"injected {code.name} {call}")
        return echo(request)

    return handler


def status_failures(count: int, code: int) -> Any:
    def handler(request: Any, context: Any, call: int) -> Response:
        if call < count:
            return Response(status=ok_status(code, "injected"))
        return echo(request)

    return handler


# --- chunking ------------------------------------------------------------------------------


def test_70_inputs_go_in_3_concurrent_requests_and_come_back_in_order(harness: Harness) -> None:
    with FakeServer(slow_echo(0.2)) as server, client_for(harness, server) as client:
        prediction = client.predict("General", URLS)
    assert sorted(len(r.inputs) for r in server.requests) == [6, 32, 32]
    assert first_concepts(prediction) == URLS
    assert len(prediction) == 70 and prediction.ok
    assert server.in_flight_max >= 2  # the chunks overlapped
    assert len(prediction.request_ids) == 3 and len(prediction.raw) == 3


def test_max_concurrency_bounds_requests_in_flight(harness: Harness) -> None:
    with (
        FakeServer(slow_echo(0.05)) as server,
        # No pacing: a new client's slow start would hold the chunks back before the bound.
        client_for(harness, server, max_concurrency=2, batch_size=5, rate_limit=None) as client,
    ):
        prediction = client.predict("General", URLS[:40])
    assert server.calls == 8 and server.in_flight_max == 2
    assert first_concepts(prediction) == URLS[:40]


def test_every_request_carries_the_same_fields(harness: Harness) -> None:
    with (
        FakeServer() as server,
        client_for(harness, server, user_id="u", app_id="a", batch_size=10) as client,
    ):
        client.predict("General", URLS[:25], version_id="v1", output_config={"max_concepts": 3})
    for request in server.requests:
        assert request.workflow_id == "General" and request.version_id == "v1"
        assert request.user_app_id.user_id == "u" and request.output_config.max_concepts == 3
    assert all(m["authorization"] == f"Key {PAT}" for m in server.metadata)


# --- retries -------------------------------------------------------------------------------


def test_unavailable_twice_then_success_takes_three_calls(harness: Harness) -> None:
    with FakeServer(grpc_failures(2)) as server, client_for(harness, server) as client:
        prediction = client.predict("General", URLS[0])
    assert server.calls == 3 and prediction.ok


def test_resource_exhausted_is_retried(harness: Harness) -> None:
    with (
        FakeServer(grpc_failures(1, grpc.StatusCode.RESOURCE_EXHAUSTED)) as server,
        client_for(harness, server) as client,
    ):
        assert client.predict("General", URLS[0]).ok
    assert server.calls == 2


@pytest.mark.parametrize(
    "code",
    [
        status_code_pb2.CONN_THROTTLED,
        status_code_pb2.MODEL_DEPLOYING,
        status_code_pb2.MODEL_BUSY_PLEASE_RETRY,
        status_code_pb2.MODEL_LOADING,
        status_code_pb2.RPC_REQUEST_QUEUE_FULL,
        status_code_pb2.RPC_SERVER_UNAVAILABLE,
    ],
)
def test_retryable_in_band_statuses_are_retried(harness: Harness, code: int) -> None:
    with FakeServer(status_failures(1, code)) as server, client_for(harness, server) as client:
        assert client.predict("General", URLS[0]).ok
    assert server.calls == 2


def test_unavailable_exhausts_after_four_attempts(harness: Harness) -> None:
    with FakeServer(grpc_failures(100)) as server, client_for(harness, server) as client:
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])
    assert server.calls == 4
    assert caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE
    assert isinstance(caught.value.__cause__, grpc.RpcError)


def test_throttling_exhausts_into_rate_limit_error(harness: Harness) -> None:
    with (
        FakeServer(status_failures(100, status_code_pb2.CONN_THROTTLED)) as server,
        client_for(harness, server, rate_limit=None) as client,  # the retries alone, no pacing
    ):
        with pytest.raises(RateLimitError) as caught:
            client.predict("General", URLS[0])
    assert server.calls == 4 and caught.value.code == status_code_pb2.CONN_THROTTLED


@pytest.mark.parametrize(
    ("retry", "calls"), [(RetryPolicy(max_attempts=2, initial_backoff=0.01), 2), (None, 1)]
)
def test_max_attempts_counts_the_first_attempt_and_retry_none_makes_one(
    harness: Harness, retry: RetryPolicy | None, calls: int
) -> None:
    with FakeServer(grpc_failures(100)) as server, client_for(harness, server, retry=retry) as c:
        with pytest.raises(TransportError):
            c.predict("General", URLS[0])
    assert server.calls == calls


def test_non_retryable_codes_make_one_call(harness: Harness) -> None:
    with (
        FakeServer(grpc_failures(100, grpc.StatusCode.INTERNAL)) as server,
        client_for(harness, server) as client,
    ):
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])
    assert server.calls == 1 and caught.value.grpc_code is grpc.StatusCode.INTERNAL


def test_own_channel_adds_no_grpc_retries(harness: Harness) -> None:
    # Were a gRPC retry policy active on our channel, each UNAVAILABLE would be re-sent below us.
    with (
        FakeServer(grpc_failures(100)) as server,
        client_for(harness, server, retry=None) as client,
    ):
        for _ in range(3):
            with pytest.raises(TransportError):
                client.predict("General", URLS[0])
    assert server.calls == 3


# --- deadlines -----------------------------------------------------------------------------


def test_deadline_bounds_retries(harness: Harness) -> None:
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.05, jitter=0)
    with (
        FakeServer(grpc_failures(10_000)) as server,
        # No pacing: the slow start's 2 requests/s would space the retries, not the deadline.
        client_for(harness, server, retry=policy, rate_limit=None) as client,
    ):
        started = time.monotonic()
        with pytest.raises(TransportError):
            client.predict("General", URLS[0], timeout=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert 2 <= server.calls < 50


def test_backoff_never_sleeps_past_the_deadline(harness: Harness) -> None:
    policy = RetryPolicy(max_attempts=4, initial_backoff=5, max_backoff=5, jitter=0)
    with (
        FakeServer(grpc_failures(100)) as server,
        client_for(harness, server, retry=policy) as client,
    ):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0], timeout=1)
    assert time.monotonic() - started < 0.9  # it did not sleep 5 s into a 1 s deadline
    assert server.calls == 1 and caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE


def test_slow_server_raises_deadline_exceeded_and_server_sees_the_deadline(
    harness: Harness,
) -> None:
    seen: list[float] = []

    def handler(request: Any, context: Any, call: int) -> Response:
        seen.append(context.time_remaining())
        time.sleep(2)
        return echo(request)

    with FakeServer(handler) as server, client_for(harness, server, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            client.predict("General", URLS[0])
        assert time.monotonic() - started < 1.5
    assert 0 < seen[0] <= 0.31  # the deadline travels with millisecond rounding
    assert caught.value.grpc_code is grpc.StatusCode.DEADLINE_EXCEEDED


def test_one_deadline_covers_all_chunks(harness: Harness) -> None:
    with (
        FakeServer(slow_echo(0.3)) as server,
        client_for(harness, server, max_concurrency=1, batch_size=10) as client,
    ):
        started = time.monotonic()
        prediction = client.predict("General", URLS[:30], timeout=0.8)
        elapsed = time.monotonic() - started
    assert elapsed < 1.6
    assert len(prediction) == 30
    ok = [r.ok for r in prediction.results]
    assert ok[:10] == [True] * 10 and not all(ok)  # later chunks ran out of time
    late = prediction.results[-1]
    assert late.status.name == "FAILURE" and "DEADLINE_EXCEEDED" in late.status.details


# --- statuses and partial failure ----------------------------------------------------------


def mixed(request: Any, context: Any, call: int) -> Response:
    response = echo(request)
    response.status.CopyFrom(ok_status(status_code_pb2.MIXED_STATUS, "Mixed Success"))
    bad = response.results[1]
    bad.status.CopyFrom(ok_status(status_code_pb2.INPUT_DOWNLOAD_FAILED, "could not download"))
    del bad.outputs[:]
    return response


def test_mixed_status_returns_per_input_statuses(harness: Harness) -> None:
    with FakeServer(mixed) as server, client_for(harness, server) as client:
        prediction = client.predict("General", URLS[:3])
    assert prediction.status.name == "MIXED_STATUS" and not prediction.ok
    assert [r.ok for r in prediction.results] == [True, False, True]
    assert prediction.results[1].status.code == status_code_pb2.INPUT_DOWNLOAD_FAILED
    # 30002 has two enum names; protobuf's canonical one (the first declared) is used.
    assert prediction.results[1].status.name == "INPUT_FAILED"
    with pytest.raises(PredictionError, match=r"inputs\[1\]"):
        prediction.raise_for_status()


def test_every_input_failing_returns_each_failure_in_its_result(harness: Harness) -> None:
    # How the API says that every input failed: top-level FAILURE, and a result per input.
    def handler(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        response.status.CopyFrom(ok_status(status_code_pb2.FAILURE, "Failure"))
        for result in response.results:
            result.status.CopyFrom(ok_status(status_code_pb2.INPUT_DOWNLOAD_FAILED, "gone"))
        return response

    with FakeServer(handler) as server, client_for(harness, server) as client:
        one = client.predict("General", URLS[0])
        many = client.predict("General", URLS[:40])
    assert one.status.name == "FAILURE" and one.results[0].status.description == "gone"
    assert many.status.name == "FAILURE" and len(many) == 40 and server.calls == 3
    assert {r.status.code for r in many.results} == {status_code_pb2.INPUT_DOWNLOAD_FAILED}


@pytest.mark.parametrize(
    ("failure", "name", "details"),
    [
        ("grpc", "FAILURE", "gRPC INTERNAL"),
        ("status", "MODEL_PREDICTION_FAILED", ""),
    ],
)
def test_one_failed_chunk_of_two_marks_only_its_inputs(
    harness: Harness, failure: str, name: str, details: str
) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        if request.inputs[0].data.image.url == URLS[0]:
            if failure == "grpc":
                context.abort(grpc.StatusCode.INTERNAL, "first chunk broke")
            return Response(
                status=ok_status(status_code_pb2.MODEL_PREDICTION_FAILED, "model failed")
            )
        return echo(request)

    with FakeServer(handler) as server, client_for(harness, server) as client:
        prediction = client.predict("General", URLS[:40])
    assert len(prediction) == 40
    failed, succeeded = prediction.results[:32], prediction.results[32:]
    assert all(r.status.name == name and details in r.status.details for r in failed)
    assert all(r.outputs == () for r in failed)
    assert (
        first_concepts(type(prediction)(prediction.workflow_id, prediction.status, succeeded))
        == URLS[32:40]
    )
    assert prediction.status.name == "MIXED_STATUS"
    assert len(prediction.request_ids) == 1


def test_every_chunk_failing_raises(harness: Harness) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        return Response(
            status=ok_status(status_code_pb2.WORKFLOW_DOES_NOT_EXIST, "no such workflow")
        )

    with FakeServer(handler) as server, client_for(harness, server) as client:
        with pytest.raises(NotFoundError) as caught:
            client.predict("Nope", URLS[:40])
    assert caught.value.code == status_code_pb2.WORKFLOW_DOES_NOT_EXIST
    assert server.calls == 2


def test_wrong_result_count_raises_and_never_misaligns(harness: Harness) -> None:
    def short(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        del response.results[-1]
        return response

    with FakeServer(short) as server, client_for(harness, server) as client:
        with pytest.raises(ApiError, match="2 results for 3 inputs"):
            client.predict("General", URLS[:3])


def test_wrong_result_count_in_one_chunk_fails_only_that_chunk(harness: Harness) -> None:
    def short_first(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        if request.inputs[0].data.image.url == URLS[0]:
            del response.results[-1]
        return response

    with FakeServer(short_first) as server, client_for(harness, server, batch_size=10) as client:
        prediction = client.predict("General", URLS[:20])
    assert all(not r.ok and "10 inputs" in r.status.description for r in prediction.results[:10])
    assert (
        first_concepts(type(prediction)("w", prediction.status, prediction.results[10:]))
        == URLS[10:20]
    )


def test_results_for_other_inputs_are_refused(harness: Harness) -> None:
    def swapped(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        response.results[0].input.id, response.results[1].input.id = "b", "a"
        return response

    with FakeServer(swapped) as server, client_for(harness, server) as client:
        inputs = [
            resources_pb2.Input(id=i, data=resources_pb2.Data(image=resources_pb2.Image(url=u)))
            for i, u in (("a", URLS[0]), ("b", URLS[1]))
        ]
        with pytest.raises(ApiError, match="malformed response"):
            client.predict("General", inputs)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (status_code_pb2.CONN_KEY_INVALID, AuthenticationError),
        (status_code_pb2.CONN_INSUFFICIENT_SCOPES, PermissionDeniedError),
        (status_code_pb2.WORKFLOW_DOES_NOT_EXIST, NotFoundError),
        (status_code_pb2.CONN_EXCEED_HOURLY_LIMIT, RateLimitError),
    ],
)
def test_failing_statuses_raise_typed_errors(harness: Harness, code: int, error: type) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        response = Response(status=ok_status(code, "refused"))
        response.status.req_id = "req-42"
        return response

    with FakeServer(handler) as server, client_for(harness, server) as client:
        with pytest.raises(error) as caught:
            client.predict("General", URLS[0])
    assert caught.value.req_id == "req-42" and caught.value.code == code
    assert server.calls == 1


@pytest.mark.parametrize(
    ("grpc_code", "error"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, AuthenticationError),
        (grpc.StatusCode.PERMISSION_DENIED, PermissionDeniedError),
    ],
)
def test_grpc_auth_failures_map_to_auth_errors(
    harness: Harness, grpc_code: grpc.StatusCode, error: type
) -> None:
    with FakeServer(grpc_failures(100, grpc_code)) as server, client_for(harness, server) as client:
        with pytest.raises(error) as caught:
            client.predict("General", URLS[0])
    assert caught.value.grpc_code is grpc_code and server.calls == 1


# --- predict_request -----------------------------------------------------------------------


def test_predict_request_retries_then_returns_the_response_whatever_its_status(
    harness: Harness,
) -> None:
    with (
        FakeServer(status_failures(100, status_code_pb2.MODEL_BUSY_PLEASE_RETRY)) as server,
        client_for(harness, server) as client,
    ):
        request = service_pb2.PostWorkflowResultsRequest(workflow_id="General")
        response = client.predict_request(request)
    assert response.status.code == status_code_pb2.MODEL_BUSY_PLEASE_RETRY
    assert server.calls == 4
    assert server.requests[0] == request and server.metadata[0]["authorization"] == f"Key {PAT}"


def test_predict_request_raises_for_rpc_failures(harness: Harness) -> None:
    with (
        FakeServer(grpc_failures(100, grpc.StatusCode.UNAUTHENTICATED)) as server,
        client_for(harness, server) as client,
    ):
        with pytest.raises(AuthenticationError):
            client.predict_request(service_pb2.PostWorkflowResultsRequest(workflow_id="General"))


# --- drop-in channels and stubs ------------------------------------------------------------


def test_drop_in_channel_is_used_and_left_open(harness: Harness) -> None:
    with FakeServer() as server:
        channel = harness.channel(server.target)
        with harness.client(PAT, channel=channel) as client:
            assert first_concepts(client.predict("General", URLS[:2])) == URLS[:2]
        # Still usable by its owner after the client closed.
        again = harness.client(PAT, channel=channel)
        assert again.predict("General", URLS[0]).ok
        harness.close_channel(channel)
    assert server.calls == 2


def test_drop_in_v2_stub_is_used_and_left_open(harness: Harness) -> None:
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import service_pb2_grpc

    make = (
        ClarifaiChannel.get_aio_insecure_grpc_channel
        if harness.loop
        else ClarifaiChannel.get_insecure_grpc_channel
    )

    async def made() -> Any:
        return make(base="127.0.0.1", port=server.port)

    with FakeServer() as server:
        channel = harness.run(made()) if harness.loop else make(base="127.0.0.1", port=server.port)
        stub = service_pb2_grpc.V2Stub(channel)
        with harness.client(PAT, stub=stub, user_id="clarifai", app_id="main") as client:
            prediction = client.predict("General", URLS[:3])
        assert first_concepts(prediction) == URLS[:3]
        request = service_pb2.PostWorkflowResultsRequest(
            workflow_id="General", inputs=[echo_result(resources_pb2.Input(id="x"), 0).input]
        )
        metadata = (("authorization", f"Key {PAT}"),)

        async def direct() -> Any:
            return await stub.PostWorkflowResults(request, metadata=metadata)

        response = (
            harness.run(direct())
            if harness.loop
            else stub.PostWorkflowResults(request, metadata=metadata)
        )
        assert response.status.code == status_code_pb2.SUCCESS
        harness.close_channel(channel)
    assert server.metadata[0]["authorization"] == f"Key {PAT}"
    assert server.requests[0].user_app_id.app_id == "main"


def test_closed_client_refuses_calls(harness: Harness) -> None:
    with FakeServer() as server:
        client = client_for(harness, server)
        client.close()
        client.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            client.predict("General", URLS[0])
    assert server.calls == 0


# --- secrets -------------------------------------------------------------------------------


def test_pat_never_appears_in_reprs_errors_or_debug_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(grpc_failures(100)) as server, client_for(harness, server) as client:
        texts = [repr(client), str(client)]
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])
        texts += [str(caught.value), repr(caught.value)]
        with pytest.raises(InputError) as bad:
            client.predict("General", [URLS[0], 3])
        texts += [str(bad.value)]
    assert "retrying" in caplog.text  # the retries were logged at DEBUG
    for text in [*texts, caplog.text]:
        assert PAT not in text


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (None, "got NoneType"),
        (42, "got int"),
        (3.5, "got float"),
        ([], "empty"),
        ((), "empty"),
        ({"url": URLS[0]}, "ordered sequence"),
        ({URLS[0]}, "ordered sequence"),
        ("not a url", "not an http"),
        ("ftp://example.com/a.jpg", "not an http"),
        ("http://", "not a valid"),
        ("https:// spaced.example/a.jpg", "not a valid"),
        ("https://example.com/a b.jpg", "not a valid"),
        (b"", "no bytes"),
        ([URLS[0], object()], r"inputs\[1\]"),
        ([URLS[0], [URLS[1]]], r"inputs\[1\]: expected"),
        ([URLS[0], None], r"inputs\[1\]"),
    ],
)
def test_bad_inputs_raise_before_anything_is_sent(
    harness: Harness, inputs: Any, message: str
) -> None:
    with FakeServer() as server, client_for(harness, server) as client:
        with pytest.raises(InputError, match=message):
            client.predict("General", inputs)
    assert server.calls == 0


def test_bad_files_raise_before_anything_is_sent(harness: Harness, tmp_path: Any) -> None:
    from pathlib import Path

    unknown = tmp_path / "data.unknownsuffix"
    unknown.write_bytes(b"x")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with FakeServer() as server, client_for(harness, server) as client:
        for value, message in (
            (Path(tmp_path / "missing.jpg"), "cannot read"),
            (unknown, "cannot tell the kind"),
            (empty, "is empty"),
        ):
            with pytest.raises(InputError, match=message):
                client.predict("General", [value])
    assert server.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workflow_id": ""}, "workflow_id"),
        ({"workflow_id": None}, "workflow_id"),
        ({"version_id": 5}, "version_id"),
        ({"output_config": {"no_such_field": 1}}, "output_config"),
        ({"output_config": "max_concepts=5"}, "output_config"),
        ({"node_runner_selectors": {"node": 3.5}}, "node_runner_selectors"),
        ({"workflow_state_id": 1}, "workflow_state_id"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"metadata": [("x-key", 5)]}, "metadata"),
        ({"metadata": "x-key=5"}, "metadata"),
        ({"metadata": [("Authorization", "Key other")]}, "pat="),
        ({"user_id": "only-user"}, "app_id is missing"),
    ],
)
def test_bad_arguments_raise_before_anything_is_sent(
    harness: Harness, kwargs: dict[str, Any], message: str
) -> None:
    args = {"workflow_id": "General", **kwargs}
    workflow_id = args.pop("workflow_id")
    with FakeServer() as server, client_for(harness, server) as client:
        with pytest.raises(InputError, match=message):
            client.predict(workflow_id, URLS[0], **args)
    assert server.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 33}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"retry": 3}, "retry"),
        ({"timeout": 0}, "timeout"),
        ({"target": "https://api.clarifai.com"}, "URL"),
        ({"insecure": True, "target": "api.clarifai.com"}, "plaintext"),
        ({"insecure": True, "target": "10.1.2.3:50051"}, "plaintext"),
        ({"root_certificates": "/no/such/ca.pem"}, "cannot read"),
        ({"root_certificates": b"not pem"}, "no PEM"),
        ({"channel": object()}, r"must be a grpc(\.aio)?\.Channel, got object$"),
        ({"stub": object()}, "V2Stub"),
        ({"user_id": "only-user"}, "app_id is missing"),
    ],
)
def test_bad_constructor_arguments(harness: Harness, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        harness.cls(PAT, **kwargs)


def test_malformed_pat_is_refused_without_echoing_it(harness: Harness) -> None:
    with pytest.raises(InputError) as caught:
        harness.cls("secret\nvalue", target="127.0.0.1:1", insecure=True)
    assert "secret" not in str(caught.value)


def test_plaintext_to_remote_host_needs_the_named_opt_in(harness: Harness) -> None:
    with pytest.raises(InputError, match="allow_insecure_pat=True"):
        harness.cls(PAT, target="10.1.2.3:50051", insecure=True)
    with harness.client(
        PAT, target="10.1.2.3:50051", insecure=True, allow_insecure_pat=True
    ) as opted_in:
        assert opted_in.real.target == "10.1.2.3:50051" and "pat=set" in repr(opted_in)
    for target in ("localhost:1", "127.0.0.9:1", "[::1]:1"):
        with harness.client(PAT, target=target, insecure=True) as loopback:
            assert loopback.real.target == target


def test_no_pat_is_refused_for_a_remote_target_but_not_for_loopback_or_drop_in(
    harness: Harness,
) -> None:
    for target in (None, "10.1.2.3:443", "api-dev.clarifai.com"):
        with pytest.raises(InputError, match="CLARIFAI_PAT"):
            harness.cls(target=target)
    with harness.client(target="127.0.0.1:1", insecure=True) as loopback:
        assert "pat=none" in repr(loopback)
    channel = harness.channel("10.1.2.3:443")
    with harness.client(channel=channel) as drop_in:
        assert drop_in.real.target is None
    harness.close_channel(channel)


def test_environment_fallbacks(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        monkeypatch.setenv("CLARIFAI_PAT", PAT)
        monkeypatch.setenv("CLARIFAI_USER_ID", "env-user")
        monkeypatch.setenv("CLARIFAI_APP_ID", "env-app")
        monkeypatch.setenv("CLARIFAI_GRPC_BASE", server.target)
        with harness.client(insecure=True) as client:
            assert client.real.target == server.target
            client.predict("General", URLS[0])
    assert server.metadata[0]["authorization"] == f"Key {PAT}"
    assert server.requests[0].user_app_id.user_id == "env-user"


def test_default_target_gets_port_443(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", "api-dev.clarifai.com")
    with harness.client(PAT) as client:
        assert client.real.target == "api-dev.clarifai.com:443"
    monkeypatch.delenv("CLARIFAI_GRPC_BASE")
    with harness.client(PAT) as client:
        assert client.real.target == "api.clarifai.com:443"


# --- per-call options ----------------------------------------------------------------------


def test_with_options_changes_only_what_is_given_and_shares_the_connection(
    harness: Harness,
) -> None:
    with FakeServer() as server:
        base = client_for(harness, server, user_id="owner", app_id="app")
        derived = base.with_options(metadata=[("x-team", "search")], user_id="other")
        assert derived.real._conn is base.real._conn  # one channel, one pool
        assert (derived.real.timeout, derived.real.retry) == (base.real.timeout, base.real.retry)
        derived.predict("General", URLS[0])
        base.predict("General", URLS[1])
        derived.close()  # a derived client leaves the shared channel open
        base.predict("General", URLS[2])
        again = base.with_options(timeout=5)
        base.close()  # the owner's close ends its derived clients too
        with pytest.raises(RuntimeError, match="closed"):
            again.predict("General", URLS[3])
    first, second, third = server.requests
    assert (first.user_app_id.user_id, first.user_app_id.app_id) == ("other", "app")
    assert (second.user_app_id.user_id, third.user_app_id.user_id) == ("owner", "owner")
    assert server.metadata[0]["x-team"] == "search" and "x-team" not in server.metadata[1]
    assert server.calls == 3


def test_with_options_metadata_goes_before_the_calls_own(harness: Harness) -> None:
    seen: list[list[tuple[str, str]]] = []

    def handler(request: Any, context: Any, call: int) -> Response:
        seen.append([(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")])
        return echo(request)

    with FakeServer(handler) as server, client_for(harness, server) as client:
        tagged = client.with_options(metadata=[("x-tag", "client")])
        tagged.predict("General", URLS[0], metadata=[("x-tag", "call")])
    assert seen == [[("x-tag", "client"), ("x-tag", "call")]]


def test_with_options_retry_none_turns_retries_off_and_timeout_applies(
    harness: Harness,
) -> None:
    with FakeServer(grpc_failures(100)) as server, client_for(harness, server) as client:
        with pytest.raises(TransportError) as caught:
            client.with_options(retry=None).predict("General", URLS[0])
        assert server.calls == 1 and caught.value.attempts == 1
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])  # the client's own policy is unchanged
        assert server.calls == 5 and caught.value.attempts == 4
    with FakeServer(slow_echo(1.0)) as server, client_for(harness, server) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            client.with_options(timeout=0.2).predict("General", URLS[0])
        assert time.monotonic() - started < 0.9


def test_with_options_rate_limit_paces_only_the_derived_client(harness: Harness) -> None:
    with FakeServer() as server, client_for(harness, server, rate_limit=None) as client:
        paced = client.with_options(rate_limit=4.0)
        assert paced.real._limiter is not None and client.real._limiter is None
        for url in URLS[:6]:
            paced.predict("General", url)
        paced_span = server.arrivals[-1] - server.arrivals[0]
        for url in URLS[:6]:
            client.predict("General", url)
    # 6 requests at 4 per second cannot take less than about 5 intervals of 0.25 s.
    assert paced_span >= 0.9


def test_retry_per_call_overrides_the_client_policy_for_that_call(harness: Harness) -> None:
    two = RetryPolicy(max_attempts=2, initial_backoff=0.01)
    with FakeServer(grpc_failures(100)) as server, client_for(harness, server) as client:
        for retry, attempts in ((None, 1), (two, 2), (NOT_GIVEN, 4)):
            before = server.calls
            with pytest.raises(TransportError) as caught:
                client.predict("General", URLS[0], retry=retry)
            assert server.calls - before == attempts == caught.value.attempts
        before = server.calls
        with pytest.raises(TransportError):
            client.predict_request(
                service_pb2.PostWorkflowResultsRequest(workflow_id="General"), retry=None
            )
        assert server.calls - before == 1
        results = list(client.predict_iter("General", URLS[:2], retry=None))
    assert [r.status.code for r in results] == [status_code_pb2.FAILURE] * 2
    assert server.calls - before == 2  # one request, one attempt


def test_errors_say_how_many_attempts_and_carry_the_servers_request_id(
    harness: Harness,
) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        context.set_trailing_metadata((("x-clarifai-request-id", f"req-{call}"),))
        context.abort(grpc.StatusCode.UNAVAILABLE, "down")

    with FakeServer(handler) as server, client_for(harness, server) as client:
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])
        with pytest.raises(InputError) as bad:
            client.predict("", URLS[0])
    assert caught.value.attempts == 4 and caught.value.req_id == "req-3"
    assert "req_id=req-3" in str(caught.value)
    assert bad.value.attempts is None  # nothing was sent


def test_favor_clarifai_workflows_is_sent_per_call(harness: Harness) -> None:
    with FakeServer() as server, client_for(harness, server) as client:
        client.predict("General", URLS[0], favor_clarifai_workflows=True)
        list(client.predict_iter("General", URLS[:1], favor_clarifai_workflows=True))
        client.predict("General", URLS[0])
        with pytest.raises(InputError, match="favor_clarifai_workflows"):
            client.predict("General", URLS[0], favor_clarifai_workflows="yes")
    assert [r.favor_clarifai_workflows for r in server.requests] == [True, True, False]


# --- streams ------------------------------------------------------------------------------


def test_stopping_a_stream_early_cancels_its_requests_in_flight(harness: Harness) -> None:
    cancelled: list[int] = []

    def index_of(request: Any) -> int:
        url = request.inputs[0].data.image.url
        return int(url.rsplit("/", 1)[1].split(".")[0]) if "endless" in url else -1

    def handler(request: Any, context: Any, call: int) -> Response:
        index = index_of(request)
        if index >= 2:  # inputs 0 and 1 are answered; the rest wait until cancelled
            give_up = time.monotonic() + 10
            while context.is_active() and time.monotonic() < give_up:
                time.sleep(0.01)
            if not context.is_active():
                cancelled.append(index)
        return echo(request)

    read = 0

    def endless() -> Any:
        nonlocal read
        for i in itertools.count():
            read += 1
            yield f"https://example.com/endless/{i}.jpg"

    with FakeServer(handler) as server:
        client = client_for(harness, server, batch_size=1, max_concurrency=3)
        stream = client.predict_iter("General", endless())
        taken = [next(stream), next(stream)]
        # On a busy machine the third request may not have reached the server yet; wait for
        # it, so the close has a request in flight to cancel.
        deadline = time.monotonic() + 10
        while server.calls < 3 and time.monotonic() < deadline:
            harness.sleep(0.02)
        stream.close()  # as a `break` out of the loop does

        def unanswered() -> list[int]:  # the requests past 0 and 1 that reached the server
            return sorted(i for i in map(index_of, server.requests[: server.calls]) if i >= 2)

        deadline = time.monotonic() + 5
        while sorted(cancelled) != unanswered() and time.monotonic() < deadline:
            harness.sleep(0.02)
        reached, seen_cancelled = unanswered(), sorted(cancelled)
        assert client.predict("General", URLS[0]).ok  # the client is still usable
        client.close()
    # Nothing was read or sent past the window of 3 requests, and every request that reached
    # the server unanswered was cancelled, not left to run to its deadline. (Which of 2, 3 and
    # 4 got there varies: on a busy machine the close may cancel some before they are sent.)
    assert first_concepts_of(taken) == [f"https://example.com/endless/{i}.jpg" for i in (0, 1)]
    assert read <= 2 + 3 + 1 and reached and set(reached) <= {2, 3, 4}
    assert seen_cancelled == reached


def test_closing_the_client_mid_stream_raises_runtime_error(harness: Harness) -> None:
    with FakeServer(slow_echo(0.05)) as server:
        client = client_for(harness, server, batch_size=2, max_concurrency=2)
        seen = []
        with pytest.raises(RuntimeError, match="closed"):
            for result in client.predict_iter("General", URLS):
                seen.append(result)
                if len(seen) == 1:
                    client.close()
    # What finished before the close came through, in order; nothing else escaped.
    assert 1 <= len(seen) <= 4 and first_concepts_of(seen) == URLS[: len(seen)]
