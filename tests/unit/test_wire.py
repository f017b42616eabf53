"""Exact requests and metadata on the wire, through grpcio-testing channels."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import grpc
import grpc_testing
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from clarifai_workflow_predict import Input, TransportError, WorkflowClient

from ..conftest import PAT

METHOD = service_pb2.DESCRIPTOR.services_by_name["V2"].methods_by_name["PostWorkflowResults"]
URL = "https://samples.clarifai.com/metro-north.jpg"


@pytest.fixture
def channel() -> Any:
    return grpc_testing.channel(
        service_pb2.DESCRIPTOR.services_by_name.values(), grpc_testing.strict_real_time()
    )


def answered(
    channel: Any, call: Callable[[], Any], response: Any = None, **terminate: Any
) -> tuple[Any, dict[str, str], Any]:
    """Run ``call`` in a thread, answer its one RPC, return (result or error, metadata, request)."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(call)
    try:
        metadata, request, rpc = channel.take_unary_unary(METHOD)
        if response is None:
            response = service_pb2.PostWorkflowResultsResponse(
                status=status_pb2.Status(code=status_code_pb2.SUCCESS),
                results=[resources_pb2.WorkflowResult(input=i) for i in request.inputs],
            )
        rpc.terminate(
            response, (), terminate.get("code", grpc.StatusCode.OK), terminate.get("details", "")
        )
        try:
            result = future.result(timeout=10)
        except Exception as exc:  # returned for the caller to assert on
            result = exc
    finally:
        pool.shutdown(wait=False)
    return result, dict(metadata), request


def test_request_and_metadata_are_exact(channel: Any) -> None:
    client = WorkflowClient(PAT, user_id="clarifai", app_id="main", channel=channel)
    text = Input.from_text("a train in a station", id="t1", metadata={"source": "test", "n": 2})
    _, metadata, request = answered(channel, lambda: client.predict("General", [URL, text]))
    expected = service_pb2.PostWorkflowResultsRequest(
        user_app_id=resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main"),
        workflow_id="General",
        inputs=[
            resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=URL))),
            text.proto,
        ],
    )
    assert request == expected
    assert request.inputs[1].id == "t1"
    assert dict(request.inputs[1].data.metadata) == {"source": "test", "n": 2.0}
    assert metadata["authorization"] == f"Key {PAT}"


def test_call_overrides_owner_and_sets_every_request_field(channel: Any) -> None:
    client = WorkflowClient(PAT, user_id="me", app_id="mine", channel=channel)
    selector = resources_pb2.RunnerSelector(nodepool=resources_pb2.Nodepool(id="pool-1"))
    _, metadata, request = answered(
        channel,
        lambda: client.predict(
            "General",
            URL,
            user_id="clarifai",
            app_id="main",
            version_id="v-123",
            output_config={"max_concepts": 5, "min_value": 0.5},
            node_runner_selectors={"node-a": selector},
            workflow_state_id="state-9",
            metadata=[("x-trace-id", "abc")],
        ),
    )
    assert request.user_app_id == resources_pb2.UserAppIDSet(user_id="clarifai", app_id="main")
    assert request.version_id == "v-123"
    assert request.output_config == resources_pb2.OutputConfig(max_concepts=5, min_value=0.5)
    assert request.node_runner_selectors["node-a"] == selector
    assert request.workflow_state.id == "state-9"
    assert metadata["x-trace-id"] == "abc"
    assert metadata["authorization"] == f"Key {PAT}"


def test_no_owner_leaves_user_app_id_unset_and_no_pat_sends_no_key(channel: Any) -> None:
    client = WorkflowClient(channel=channel)
    _, metadata, request = answered(channel, lambda: client.predict("General", URL))
    assert not request.HasField("user_app_id")
    assert "authorization" not in metadata


def test_output_config_message_is_sent_as_given(channel: Any) -> None:
    client = WorkflowClient(PAT, channel=channel)
    config = resources_pb2.OutputConfig(
        max_concepts=3, select_concepts=[resources_pb2.Concept(id="train")]
    )
    _, _, request = answered(channel, lambda: client.predict("General", URL, output_config=config))
    assert request.output_config == config


def test_predict_request_returns_response_unchanged(channel: Any) -> None:
    client = WorkflowClient(PAT, channel=channel)
    sent = service_pb2.PostWorkflowResultsRequest(workflow_id="General")
    response = service_pb2.PostWorkflowResultsResponse(
        status=status_pb2.Status(code=status_code_pb2.WORKFLOW_DOES_NOT_EXIST, description="nope")
    )
    result, metadata, request = answered(channel, lambda: client.predict_request(sent), response)
    assert result == response
    assert request == sent
    assert metadata["authorization"] == f"Key {PAT}"


def test_rpc_failure_is_mapped_once(channel: Any) -> None:
    client = WorkflowClient(PAT, channel=channel, retry=None)
    result, *_ = answered(
        channel,
        lambda: client.predict("General", URL),
        service_pb2.PostWorkflowResultsResponse(),
        code=grpc.StatusCode.INTERNAL,
        details="boom",
    )
    assert isinstance(result, TransportError)
    assert result.grpc_code is grpc.StatusCode.INTERNAL
    assert result.details == "boom"
    assert isinstance(result.__cause__, grpc.RpcError)
