"""OpenTelemetry: a span per predict, a child per attempt, events per retry and throttle, read
back through the SDK's in-memory exporter; and nothing at all without ``opentelemetry-api``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import NotFoundError, _tracing

from ..clients import Harness, client_for
from ..helpers import FakeServer, Response, echo, ok_status

URLS = [f"https://example.com/traced/{i}.jpg" for i in range(40)]
RPC = {
    "rpc.system": "grpc",
    "rpc.service": "clarifai.api.V2",
    "rpc.method": "PostWorkflowResults",
}


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The finished spans, from a tracer provider of the test's own (the global one is left
    alone, so tests cannot leak spans into each other)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(_tracing, "_tracer", provider.get_tracer("test"))
    monkeypatch.setattr(_tracing, "_trace", trace)
    monkeypatch.setattr(_tracing, "_SILENT", ())  # the global provider stays the default
    yield exporter.get_finished_spans
    provider.shutdown()


def by_name(finished: Any, name: str) -> list[Any]:
    return [s for s in finished() if s.name == name]


def test_a_predict_is_a_span_with_a_child_per_request(harness: Harness, spans: Any) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        response = echo(request)
        response.status.req_id = f"req-{len(request.inputs)}"
        return response

    with FakeServer(handler) as server, client_for(harness, server) as client:
        client.predict("General", URLS)  # 40 inputs: two requests
    (predict,) = by_name(spans, _tracing.SPAN_NAME)
    attempts = by_name(spans, _tracing.ATTEMPT_NAME)
    assert dict(predict.attributes) == {
        **RPC,
        "clarifai.workflow_id": "General",
        "clarifai.inputs": 40,
        "clarifai.req_id": "req-32",
    }
    assert predict.kind.name == "CLIENT" and predict.status.is_ok
    assert len(attempts) == 2 and all(a.parent.span_id == predict.context.span_id for a in attempts)
    assert sorted(a.attributes["clarifai.req_id"] for a in attempts) == ["req-32", "req-8"]
    assert all(a.attributes["clarifai.attempt"] == 1 for a in attempts)


def test_retries_and_throttles_are_attempt_spans_and_events(harness: Harness, spans: Any) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        if call == 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        if call == 1:
            return Response(status=ok_status(status_code_pb2.CONN_THROTTLED, "slow down"))
        return echo(request)

    with FakeServer(handler) as server, client_for(harness, server) as client:
        assert client.predict("General", URLS[0]).ok
    (predict,) = by_name(spans, _tracing.SPAN_NAME)
    attempts = sorted(by_name(spans, _tracing.ATTEMPT_NAME), key=lambda s: s.start_time)
    assert [a.attributes["clarifai.attempt"] for a in attempts] == [1, 2, 3]
    assert [a.status.is_ok for a in attempts] == [False, False, True]
    assert "UNAVAILABLE" in attempts[0].status.description
    assert "CONN_THROTTLED" in attempts[1].status.description
    events = [(e.name, e.attributes["clarifai.attempt"]) for e in predict.events]
    assert events == [("retry", 1), ("throttled", 2), ("retry", 2)]
    assert predict.status.is_ok


def test_a_failed_predict_records_its_error(harness: Harness, spans: Any) -> None:
    def handler(request: Any, context: Any, call: int) -> Response:
        return Response(status=ok_status(status_code_pb2.WORKFLOW_DOES_NOT_EXIST, "no such"))

    with FakeServer(handler) as server, client_for(harness, server) as client:
        with pytest.raises(NotFoundError):
            client.predict("Nope", URLS[0])
        client.predict_request(service_pb2.PostWorkflowResultsRequest(workflow_id="Raw"))
    failed, raw = sorted(by_name(spans, _tracing.SPAN_NAME), key=lambda s: s.start_time)
    assert not failed.status.is_ok and "WORKFLOW_DOES_NOT_EXIST" in failed.status.description
    assert [e.name for e in failed.events] == ["exception"]
    # predict_request returns the response whatever its status: its span is not an error.
    assert raw.attributes["clarifai.workflow_id"] == "Raw" and raw.status.is_ok


def test_a_stream_has_a_span_per_request_and_closes_those_it_dropped(
    harness: Harness, spans: Any
) -> None:
    with FakeServer() as server, client_for(harness, server, batch_size=4) as client:
        assert len(list(client.predict_iter("General", URLS[:10]))) == 10
        stream = client.predict_iter("General", URLS)
        next(stream)
        stream.close()
    predicts = by_name(spans, _tracing.SPAN_NAME)
    # 10 inputs in requests of 4, 4 and 2; then the 4 requests of the window (max_concurrency)
    # of the stream left after one result, all ended.
    assert sorted(s.attributes["clarifai.inputs"] for s in predicts) == [2] + [4] * 6
    assert all(s.end_time is not None for s in predicts)


def test_an_unconfigured_opentelemetry_records_nothing(harness: Harness) -> None:
    # opentelemetry-api installed, no tracer provider set: the shared no-op scope, no spans.
    from opentelemetry import trace

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert _tracing.tracer() is not None
    assert _tracing.scope("General", 1) is _tracing.scope("Other", 2)
    assert _tracing.scope("General", 1).span is None
    with FakeServer() as server, client_for(harness, server) as client:
        assert client.predict("General", URLS[0]).ok


def test_without_opentelemetry_nothing_is_imported_or_recorded() -> None:
    # A fresh interpreter where the package cannot be imported, as when it is not installed.
    code = """
import sys
sys.modules["opentelemetry"] = None
from clarifai_workflow_predict import WorkflowClient
from clarifai_workflow_predict.testing import LocalWorkflowServer
with LocalWorkflowServer() as server, WorkflowClient(target=server.target, insecure=True) as c:
    assert c.predict("General", "https://samples.clarifai.com/metro-north.jpg").ok
    assert list(c.predict_iter("General", ["https://samples.clarifai.com/dog.jpg"]))[0].ok
from clarifai_workflow_predict import _tracing
assert _tracing.tracer() is None
assert not [m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m]]
print("untraced")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "untraced"


def test_importing_the_package_never_imports_opentelemetry() -> None:
    code = (
        "import sys, clarifai_workflow_predict as c; c.WorkflowClient; c.AsyncWorkflowClient; "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
