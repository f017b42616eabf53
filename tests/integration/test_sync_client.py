"""The sync client against real gRPC servers on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
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
    WorkflowClient,
)

from ..conftest import FAST_RETRY, PAT
from ..helpers import FakeServer, Response, echo, echo_result, first_concepts, ok_status

URLS = [f"https://example.com/img/{i}.jpg" for i in range(70)]


def client_for(server: FakeServer, **kwargs: Any) -> WorkflowClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return WorkflowClient(PAT, target=server.target, insecure=True, **kwargs)


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


def test_70_inputs_go_in_3_concurrent_requests_and_come_back_in_order() -> None:
    with FakeServer(slow_echo(0.2)) as server, client_for(server) as client:
        prediction = client.predict("General", URLS)
    assert sorted(len(r.inputs) for r in server.requests) == [6, 32, 32]
    assert first_concepts(prediction) == URLS
    assert len(prediction) == 70 and prediction.ok
    assert server.in_flight_max >= 2  # the chunks overlapped
    assert len(prediction.request_ids) == 3 and len(prediction.raw) == 3


def test_max_concurrency_bounds_requests_in_flight() -> None:
    with (
        FakeServer(slow_echo(0.05)) as server,
        client_for(server, max_concurrency=2, batch_size=5) as client,
    ):
        prediction = client.predict("General", URLS[:40])
    assert server.calls == 8 and server.in_flight_max == 2
    assert first_concepts(prediction) == URLS[:40]


def test_every_request_carries_the_same_fields() -> None:
    with (
        FakeServer() as server,
        client_for(server, user_id="u", app_id="a", batch_size=10) as client,
    ):
        client.predict("General", URLS[:25], version_id="v1", output_config={"max_concepts": 3})
    for request in server.requests:
        assert request.workflow_id == "General" and request.version_id == "v1"
        assert request.user_app_id.user_id == "u" and request.output_config.max_concepts == 3
    assert all(m["authorization"] == f"Key {PAT}" for m in server.metadata)


# --- retries -------------------------------------------------------------------------------


def test_unavailable_twice_then_success_takes_three_calls() -> None:
    with FakeServer(grpc_failures(2)) as server, client_for(server) as client:
        prediction = client.predict("General", URLS[0])
    assert server.calls == 3 and prediction.ok


def test_resource_exhausted_is_retried() -> None:
    with (
        FakeServer(grpc_failures(1, grpc.StatusCode.RESOURCE_EXHAUSTED)) as server,
        client_for(server) as client,
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
def test_retryable_in_band_statuses_are_retried(code: int) -> None:
    with FakeServer(status_failures(1, code)) as server, client_for(server) as client:
        assert client.predict("General", URLS[0]).ok
    assert server.calls == 2


def test_unavailable_exhausts_after_four_attempts() -> None:
    with FakeServer(grpc_failures(100)) as server, client_for(server) as client:
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])
    assert server.calls == 4
    assert caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE
    assert isinstance(caught.value.__cause__, grpc.RpcError)


def test_throttling_exhausts_into_rate_limit_error() -> None:
    with (
        FakeServer(status_failures(100, status_code_pb2.CONN_THROTTLED)) as server,
        client_for(server, rate_limit=None) as client,  # the retries alone, no pacing
    ):
        with pytest.raises(RateLimitError) as caught:
            client.predict("General", URLS[0])
    assert server.calls == 4 and caught.value.code == status_code_pb2.CONN_THROTTLED


def test_max_attempts_counts_the_first_attempt() -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01)
    with FakeServer(grpc_failures(100)) as server, client_for(server, retry=policy) as client:
        with pytest.raises(TransportError):
            client.predict("General", URLS[0])
    assert server.calls == 2


def test_retry_none_and_non_retryable_codes_make_one_call() -> None:
    with FakeServer(grpc_failures(100)) as server, client_for(server, retry=None) as client:
        with pytest.raises(TransportError):
            client.predict("General", URLS[0])
    assert server.calls == 1
    with (
        FakeServer(grpc_failures(100, grpc.StatusCode.INTERNAL)) as server,
        client_for(server) as client,
    ):
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0])
    assert server.calls == 1 and caught.value.grpc_code is grpc.StatusCode.INTERNAL


def test_own_channel_adds_no_grpc_retries() -> None:
    # Were a gRPC retry policy active on our channel, each UNAVAILABLE would be re-sent below us.
    with FakeServer(grpc_failures(100)) as server, client_for(server, retry=None) as client:
        for _ in range(3):
            with pytest.raises(TransportError):
                client.predict("General", URLS[0])
    assert server.calls == 3


# --- deadlines -----------------------------------------------------------------------------


def test_deadline_bounds_retries() -> None:
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.05, jitter=0)
    with FakeServer(grpc_failures(10_000)) as server, client_for(server, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(TransportError):
            client.predict("General", URLS[0], timeout=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert 2 <= server.calls < 50


def test_backoff_never_sleeps_past_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=4, initial_backoff=5, max_backoff=5, jitter=0)
    with FakeServer(grpc_failures(100)) as server, client_for(server, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            client.predict("General", URLS[0], timeout=1)
    assert time.monotonic() - started < 0.9  # it did not sleep 5 s into a 1 s deadline
    assert server.calls == 1 and caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE


def test_slow_server_raises_deadline_exceeded_and_server_sees_the_deadline() -> None:
    seen: list[float] = []

    def handler(request: Any, context: Any, call: int) -> Response:
        seen.append(context.time_remaining())
        time.sleep(2)
        return echo(request)

    with FakeServer(handler) as server, client_for(server, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            client.predict("General", URLS[0])
        assert time.monotonic() - started < 1.5
    assert 0 < seen[0] <= 0.31  # the deadline travels with millisecond rounding
    assert caught.value.grpc_code is grpc.StatusCode.DEADLINE_EXCEEDED


def test_one_deadline_covers_all_chunks() -> None:
    with (
        FakeServer(slow_echo(0.3)) as server,
        client_for(server, max_concurrency=1, batch_size=10) as client,
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


def test_mixed_status_returns_per_input_statuses() -> None:
    with FakeServer(mixed) as server, client_for(server) as client:
        prediction = client.predict("General", URLS[:3])
    assert prediction.status.name == "MIXED_STATUS" and not prediction.ok
    assert [r.ok for r in prediction.results] == [True, False, True]
    assert prediction.results[1].status.code == status_code_pb2.INPUT_DOWNLOAD_FAILED
    # 30002 has two enum names; protobuf's canonical one (the first declared) is used.
    assert prediction.results[1].status.name == "INPUT_FAILED"
    with pytest.raises(PredictionError, match=r"inputs\[1\]"):
        prediction.raise_for_status()


@pytest.mark.parametrize(
    ("failure", "name", "details"),
    [
        ("grpc", "FAILURE", "gRPC INTERNAL"),
        ("status", "MODEL_PREDICTION_FAILED", ""),
    ],
)
def test_one_failed_chunk_of_two_marks_only_its_inputs(
    failure: str, name: str, details: str
) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        if request.inputs[0].data.image.url == URLS[0]:
            if failure == "grpc":
                context.abort(grpc.StatusCode.INTERNAL, "first chunk broke")
            return Response(
                status=ok_status(status_code_pb2.MODEL_PREDICTION_FAILED, "model failed")
            )
        return echo(request)

    with FakeServer(handler) as server, client_for(server) as client:
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


def test_every_chunk_failing_raises() -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        return Response(
            status=ok_status(status_code_pb2.WORKFLOW_DOES_NOT_EXIST, "no such workflow")
        )

    with FakeServer(handler) as server, client_for(server) as client:
        with pytest.raises(NotFoundError) as caught:
            client.predict("Nope", URLS[:40])
    assert caught.value.code == status_code_pb2.WORKFLOW_DOES_NOT_EXIST
    assert server.calls == 2


def test_wrong_result_count_raises_and_never_misaligns() -> None:
    def short(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        del response.results[-1]
        return response

    with FakeServer(short) as server, client_for(server) as client:
        with pytest.raises(ApiError, match="2 results for 3 inputs"):
            client.predict("General", URLS[:3])


def test_wrong_result_count_in_one_chunk_fails_only_that_chunk() -> None:
    def short_first(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        if request.inputs[0].data.image.url == URLS[0]:
            del response.results[-1]
        return response

    with FakeServer(short_first) as server, client_for(server, batch_size=10) as client:
        prediction = client.predict("General", URLS[:20])
    assert all(not r.ok and "10 inputs" in r.status.description for r in prediction.results[:10])
    assert (
        first_concepts(type(prediction)("w", prediction.status, prediction.results[10:]))
        == URLS[10:20]
    )


def test_results_for_other_inputs_are_refused() -> None:
    def swapped(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        response.results[0].input.id, response.results[1].input.id = "b", "a"
        return response

    with FakeServer(swapped) as server, client_for(server) as client:
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
def test_failing_statuses_raise_typed_errors(code: int, error: type) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        response = Response(status=ok_status(code, "refused"))
        response.status.req_id = "req-42"
        return response

    with FakeServer(handler) as server, client_for(server) as client:
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
def test_grpc_auth_failures_map_to_auth_errors(grpc_code: grpc.StatusCode, error: type) -> None:
    with FakeServer(grpc_failures(100, grpc_code)) as server, client_for(server) as client:
        with pytest.raises(error) as caught:
            client.predict("General", URLS[0])
    assert caught.value.grpc_code is grpc_code and server.calls == 1


# --- predict_request -----------------------------------------------------------------------


def test_predict_request_retries_then_returns_the_response_whatever_its_status() -> None:
    with (
        FakeServer(status_failures(100, status_code_pb2.MODEL_BUSY_PLEASE_RETRY)) as server,
        client_for(server) as client,
    ):
        request = service_pb2.PostWorkflowResultsRequest(workflow_id="General")
        response = client.predict_request(request)
    assert response.status.code == status_code_pb2.MODEL_BUSY_PLEASE_RETRY
    assert server.calls == 4
    assert server.requests[0] == request and server.metadata[0]["authorization"] == f"Key {PAT}"


def test_predict_request_raises_for_rpc_failures() -> None:
    with (
        FakeServer(grpc_failures(100, grpc.StatusCode.UNAUTHENTICATED)) as server,
        client_for(server) as client,
    ):
        with pytest.raises(AuthenticationError):
            client.predict_request(service_pb2.PostWorkflowResultsRequest(workflow_id="General"))


# --- drop-in channels and stubs ------------------------------------------------------------


def test_drop_in_channel_is_used_and_left_open() -> None:
    with FakeServer() as server:
        channel = grpc.insecure_channel(server.target)
        with WorkflowClient(PAT, channel=channel) as client:
            assert first_concepts(client.predict("General", URLS[:2])) == URLS[:2]
        # Still usable by its owner after the client closed.
        again = WorkflowClient(PAT, channel=channel)
        assert again.predict("General", URLS[0]).ok
        channel.close()
    assert server.calls == 2


def test_drop_in_v2_stub_is_used_and_left_open() -> None:
    from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
    from clarifai_grpc.grpc.api import service_pb2_grpc

    with FakeServer() as server:
        channel = ClarifaiChannel.get_insecure_grpc_channel(base="127.0.0.1", port=server.port)
        stub = service_pb2_grpc.V2Stub(channel)
        with WorkflowClient(PAT, stub=stub, user_id="clarifai", app_id="main") as client:
            prediction = client.predict("General", URLS[:3])
        assert first_concepts(prediction) == URLS[:3]
        response = stub.PostWorkflowResults(
            service_pb2.PostWorkflowResultsRequest(
                workflow_id="General", inputs=[echo_result(resources_pb2.Input(id="x"), 0).input]
            ),
            metadata=(("authorization", f"Key {PAT}"),),
        )
        assert response.status.code == status_code_pb2.SUCCESS
        channel.close()
    assert server.metadata[0]["authorization"] == f"Key {PAT}"
    assert server.requests[0].user_app_id.app_id == "main"


def test_closed_client_refuses_calls() -> None:
    with FakeServer() as server:
        client = client_for(server)
        client.close()
        client.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            client.predict("General", URLS[0])
    assert server.calls == 0


def test_chunk_pool_threads_end_on_close() -> None:
    with FakeServer() as server:
        client = client_for(server, batch_size=2)
        client.predict("General", URLS[:8])
        assert any(t.name.startswith("clarifai-workflow-predict") for t in threading.enumerate())
        client.close()
    assert not any(t.name.startswith("clarifai-workflow-predict") for t in threading.enumerate())


# --- secrets -------------------------------------------------------------------------------


def test_pat_never_appears_in_reprs_errors_or_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeServer(grpc_failures(100)) as server, client_for(server) as client:
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
def test_bad_inputs_raise_before_anything_is_sent(inputs: Any, message: str) -> None:
    with FakeServer() as server, client_for(server) as client:
        with pytest.raises(InputError, match=message):
            client.predict("General", inputs)
    assert server.calls == 0


def test_bad_files_raise_before_anything_is_sent(tmp_path: Any) -> None:
    from pathlib import Path

    unknown = tmp_path / "data.unknownsuffix"
    unknown.write_bytes(b"x")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with FakeServer() as server, client_for(server) as client:
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
        ({"node_runner_selectors": {"node": "pool"}}, "node_runner_selectors"),
        ({"workflow_state_id": 1}, "workflow_state_id"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"metadata": [("x-key", 5)]}, "metadata"),
        ({"metadata": "x-key=5"}, "metadata"),
        ({"metadata": [("Authorization", "Key other")]}, "pat="),
        ({"user_id": "only-user"}, "app_id is missing"),
    ],
)
def test_bad_arguments_raise_before_anything_is_sent(kwargs: dict[str, Any], message: str) -> None:
    args = {"workflow_id": "General", **kwargs}
    workflow_id = args.pop("workflow_id")
    with FakeServer() as server, client_for(server) as client:
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
        ({"channel": object()}, "grpc.Channel"),
        ({"stub": object()}, "V2Stub"),
        ({"user_id": "only-user"}, "app_id is missing"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        WorkflowClient(PAT, **kwargs)


def test_malformed_pat_is_refused_without_echoing_it() -> None:
    with pytest.raises(InputError) as caught:
        WorkflowClient("secret\nvalue", target="127.0.0.1:1", insecure=True)
    assert "secret" not in str(caught.value)


def test_plaintext_to_remote_host_needs_the_named_opt_in() -> None:
    with pytest.raises(InputError, match="allow_insecure_pat=True"):
        WorkflowClient(PAT, target="10.1.2.3:50051", insecure=True)
    with WorkflowClient(
        PAT, target="10.1.2.3:50051", insecure=True, allow_insecure_pat=True
    ) as opted_in:
        assert opted_in.target == "10.1.2.3:50051" and "pat=set" in repr(opted_in)
    for target in ("localhost:1", "127.0.0.9:1", "[::1]:1"):
        with WorkflowClient(PAT, target=target, insecure=True) as loopback:
            assert loopback.target == target


def test_no_pat_is_refused_for_a_remote_target_but_not_for_loopback_or_drop_in() -> None:
    for target in (None, "10.1.2.3:443", "api-dev.clarifai.com"):
        with pytest.raises(InputError, match="CLARIFAI_PAT"):
            WorkflowClient(target=target)
    with WorkflowClient(target="127.0.0.1:1", insecure=True) as loopback:
        assert "pat=none" in repr(loopback)
    channel = grpc.insecure_channel("10.1.2.3:443")
    with WorkflowClient(channel=channel) as drop_in:
        assert drop_in.target is None
    channel.close()


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        monkeypatch.setenv("CLARIFAI_PAT", PAT)
        monkeypatch.setenv("CLARIFAI_USER_ID", "env-user")
        monkeypatch.setenv("CLARIFAI_APP_ID", "env-app")
        monkeypatch.setenv("CLARIFAI_GRPC_BASE", server.target)
        with WorkflowClient(insecure=True) as client:
            assert client.target == server.target
            client.predict("General", URLS[0])
    assert server.metadata[0]["authorization"] == f"Key {PAT}"
    assert server.requests[0].user_app_id.user_id == "env-user"


def test_default_target_gets_port_443(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", "api-dev.clarifai.com")
    with WorkflowClient(PAT) as client:
        assert client.target == "api-dev.clarifai.com:443"
    monkeypatch.delenv("CLARIFAI_GRPC_BASE")
    with WorkflowClient(PAT) as client:
        assert client.target == "api.clarifai.com:443"
