"""The public names and signatures are a contract: other code depends on them as written."""

from __future__ import annotations

import inspect

import pytest

import clarifai_workflow_predict as cwp
from clarifai_workflow_predict import errors
from clarifai_workflow_predict._options import NOT_GIVEN

PUBLIC = {
    "WorkflowClient",
    "AsyncWorkflowClient",
    "Input",
    "RetryPolicy",
    "WorkflowPrediction",
    "WorkflowResult",
    "ModelOutput",
    "Concept",
    "Region",
    "BoundingBox",
    "Embedding",
    "Frame",
    "Status",
    "Color",
    "Cluster",
    "Media",
    "TimeSegment",
    "Track",
    "Point",
    "Span",
    "Part",
    "NDArray",
    # Third round: what a call used, and where a bulk job stands.
    "Usage",
    "BulkSummary",
    "MAX_INPUTS_PER_REQUEST",
    "__version__",
    "ClarifaiError",
    "ApiError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InvalidRequestError",
    "ModelDeployingError",
    "TransportError",
    "DeadlineExceededError",
    "InputError",
    "PredictionError",
}


def params(func: object) -> list[tuple[str, object, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(func).parameters.values()  # type: ignore[arg-type]
        if p.name != "self"
    ]


def test_all_is_pinned_and_importable() -> None:
    assert set(cwp.__all__) == PUBLIC and len(cwp.__all__) == len(PUBLIC)
    for name in cwp.__all__:
        assert getattr(cwp, name) is not None
    assert cwp.MAX_INPUTS_PER_REQUEST == 32
    assert isinstance(cwp.__version__, str)


def test_error_tree() -> None:
    assert issubclass(cwp.ClarifaiError, Exception)
    for name in (
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "RateLimitError",
        "InvalidRequestError",
        "ModelDeployingError",
    ):
        assert getattr(cwp, name).__mro__[1] is cwp.ApiError
    assert cwp.ApiError.__mro__[1] is cwp.ClarifaiError
    assert cwp.TransportError.__mro__[1] is cwp.ClarifaiError
    assert cwp.DeadlineExceededError.__mro__[1] is cwp.TransportError
    assert issubclass(cwp.InputError, cwp.ClarifaiError) and issubclass(cwp.InputError, ValueError)
    assert cwp.PredictionError.__mro__[1] is cwp.ClarifaiError
    assert set(errors.__all__) == {n for n in PUBLIC if n.endswith("Error")}


def test_client_signature() -> None:
    kw = inspect.Parameter.KEYWORD_ONLY
    expected = [
        ("pat", inspect.Parameter.POSITIONAL_OR_KEYWORD, None),
        ("user_id", kw, None),
        ("app_id", kw, None),
        ("target", kw, None),
        ("channel", kw, None),
        ("stub", kw, None),
        ("insecure", kw, False),
        ("root_certificates", kw, None),
        ("timeout", kw, 30.0),
        ("retry", kw, cwp.RetryPolicy()),
        ("max_concurrency", kw, 4),
        ("batch_size", kw, 32),
        ("rate_limit", kw, "adaptive"),
        ("channel_options", kw, ()),
        ("compression", kw, None),
        ("interceptors", kw, ()),
        ("allow_insecure_pat", kw, False),
    ]
    assert params(cwp.WorkflowClient) == expected
    assert params(cwp.AsyncWorkflowClient) == expected


@pytest.mark.parametrize("client", [cwp.WorkflowClient, cwp.AsyncWorkflowClient])
def test_with_options_signature(client: type) -> None:
    kw = inspect.Parameter.KEYWORD_ONLY
    assert params(client.with_options) == [
        (name, kw, NOT_GIVEN)
        for name in ("timeout", "retry", "rate_limit", "metadata", "user_id", "app_id")
    ]
    # A plain method on both clients: derived clients are built, never awaited.
    assert not inspect.iscoroutinefunction(client.with_options)


@pytest.mark.parametrize("client", [cwp.WorkflowClient, cwp.AsyncWorkflowClient])
def test_predict_signatures(client: type) -> None:
    kw = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params(client.predict) == [
        ("workflow_id", positional, inspect.Parameter.empty),
        ("inputs", positional, inspect.Parameter.empty),
        ("user_id", kw, None),
        ("app_id", kw, None),
        ("version_id", kw, None),
        ("output_config", kw, None),
        ("node_runner_selectors", kw, None),
        ("workflow_state_id", kw, None),
        ("timeout", kw, None),
        ("metadata", kw, None),
        ("retry", kw, NOT_GIVEN),
        ("favor_clarifai_workflows", kw, None),
        # Third round: duplicates sent once.
        ("dedupe", kw, False),
    ]
    assert params(client.predict_iter)[2:] == params(client.predict)[2:]
    assert params(client.bulk) == [
        ("workflow_id", positional, inspect.Parameter.empty),
        ("inputs", positional, inspect.Parameter.empty),
        ("out", positional, inspect.Parameter.empty),
        ("retry_failed", kw, False),
        ("overwrite", kw, False),
        ("dedupe", kw, False),
        ("max_operations", kw, None),
        ("progress", kw, None),
        ("user_id", kw, None),
        ("app_id", kw, None),
        ("version_id", kw, None),
        ("output_config", kw, None),
        ("sample_ms", kw, None),
    ]
    assert params(client.predict_request) == [
        ("request", positional, inspect.Parameter.empty),
        ("timeout", kw, None),
        ("metadata", kw, None),
        ("retry", kw, NOT_GIVEN),
    ]


def test_retry_policy_defaults() -> None:
    import grpc
    from clarifai_grpc.grpc.api.status import status_code_pb2 as codes

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params(cwp.RetryPolicy) == [
        ("max_attempts", positional, 4),
        ("initial_backoff", positional, 0.1),
        ("max_backoff", positional, 5.0),
        ("backoff_multiplier", positional, 2.0),
        ("jitter", positional, 0.2),
        (
            "retry_grpc_codes",
            positional,
            frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}),
        ),
        (
            "retry_status_codes",
            positional,
            frozenset(
                {
                    codes.CONN_THROTTLED,
                    codes.MODEL_BUSY_PLEASE_RETRY,
                    codes.RPC_REQUEST_QUEUE_FULL,
                    codes.RPC_SERVER_UNAVAILABLE,
                    # Third round: the busy codes the API also answers with.
                    codes.QUEUE_CONN_ERROR,
                    codes.TRY_AGAIN,
                }
            ),
        ),
        (
            "deploying_status_codes",
            positional,
            frozenset(
                {codes.MODEL_DEPLOYING, codes.MODEL_QUEUED_FOR_DEPLOYMENT, codes.MODEL_LOADING}
            ),
        ),
    ]


def test_input_constructors() -> None:
    kw = inspect.Parameter.KEYWORD_ONLY
    assert [(n, d) for n, k, d in params(cwp.Input.from_url)] == [
        ("url", inspect.Parameter.empty),
        ("kind", "image"),
        ("id", None),
        ("metadata", None),
        ("sample_ms", None),
    ]
    assert [(n, d) for n, k, d in params(cwp.Input.from_bytes)] == [
        ("data", inspect.Parameter.empty),
        ("kind", "image"),
        ("id", None),
        ("metadata", None),
    ]
    assert [(n, d) for n, k, d in params(cwp.Input.from_file)] == [
        ("path", inspect.Parameter.empty),
        ("kind", None),
        ("id", None),
        ("metadata", None),
        ("sample_ms", None),
    ]
    assert [(n, k, d) for n, k, d in params(cwp.Input.from_parts)] == [
        ("parts", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("id", kw, None),
        ("metadata", kw, None),
    ]
    assert [(n, d) for n, k, d in params(cwp.Input.from_text)] == [
        ("text", inspect.Parameter.empty),
        ("id", None),
        ("metadata", None),
    ]
    for constructor in (cwp.Input.from_url, cwp.Input.from_file, cwp.Input.from_text):
        assert all(
            k is kw for n, k, d in params(constructor) if n in ("id", "metadata", "sample_ms")
        )


def test_compute_selectors() -> None:
    from clarifai_workflow_predict import compute

    kw = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert compute.__all__ == ["deployment", "nodepool"]
    assert params(compute.deployment) == [
        ("id", positional, inspect.Parameter.empty),
        ("user_id", kw, None),
    ]
    assert params(compute.nodepool) == [
        ("id", positional, inspect.Parameter.empty),
        ("compute_cluster_id", kw, inspect.Parameter.empty),
        ("user_id", kw, None),
    ]


def test_result_fields() -> None:
    import dataclasses

    def names(cls: type) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "raw"]

    assert names(cwp.WorkflowPrediction) == [
        "workflow_id",
        "status",
        "results",
        "request_ids",
        "workflow_state_id",
    ]
    # Third round: ``error``, the failure of the input's request (left out of ==, like raw).
    assert names(cwp.WorkflowResult) == ["id", "input_id", "status", "outputs", "error"]
    assert names(cwp.ModelOutput) == [
        "id",
        "model_id",
        "model_version_id",
        "model_name",
        "status",
        "concepts",
        "regions",
        "embeddings",
        "text",
        "frames",
        "prompt_tokens",
        "completion_tokens",
        "colors",
        "clusters",
        "image",
        "video",
        "audio",
        "heatmaps",
        "time_segments",
        "tracks",
        "metadata",
        "cached_tokens",
        # Beyond the design: what models that return plain values give.
        "value",
        "parts",
        "ndarray",
    ]
    assert names(cwp.Concept) == ["id", "name", "value", "app_id"]
    assert names(cwp.Region) == [
        "id",
        "value",
        "bounding_box",
        "concepts",
        "text",
        "mask",
        "polygon",
        "point",
        "span",
        "keypoints",
        "track_id",
    ]
    assert names(cwp.BoundingBox) == ["top_row", "left_col", "bottom_row", "right_col"]
    assert names(cwp.Embedding) == ["vector", "num_dimensions"]
    assert names(cwp.Frame) == ["index", "time_ms", "concepts", "regions"]
    assert names(cwp.Status) == ["code", "name", "description", "details", "req_id"]
    assert names(cwp.Color) == ["hex", "name", "value"]
    assert names(cwp.Cluster) == ["id", "count", "score"]
    assert names(cwp.Media) == ["url", "data", "width", "height"]
    assert names(cwp.TimeSegment) == ["id", "begin_time", "end_time", "concepts"]
    assert names(cwp.Track) == ["id", "begin_time", "end_time", "concepts", "regions"]
    assert names(cwp.Point) == ["row", "col"]
    assert names(cwp.Span) == ["start", "end", "text"]
    assert names(cwp.Part) == ["id", "value"]
    assert names(cwp.NDArray) == ["shape", "dtype", "data"]
    assert callable(cwp.NDArray.tolist)
    assert params(cwp.WorkflowPrediction.from_proto) == [
        ("response", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty)
    ]


def test_async_methods_are_coroutines() -> None:
    for name in ("predict", "predict_request", "bulk", "close", "__aenter__", "__aexit__"):
        assert inspect.iscoroutinefunction(getattr(cwp.AsyncWorkflowClient, name))
    assert cwp.WorkflowClient.predict.__doc__ == cwp.AsyncWorkflowClient.predict.__doc__
