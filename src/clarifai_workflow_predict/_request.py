"""Arguments of one ``predict`` call to the requests it sends: validation, inputs, chunking.

Everything here runs before any RPC, so every mistake is an ``InputError`` while nothing has
been sent yet.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from .errors import InputError
from .inputs import Input, coerce

__all__ = ["MAX_INPUTS_PER_REQUEST", "MAX_REQUEST_BYTES", "Plan", "plan", "user_app_id"]

#: The API's limit on inputs per ``PostWorkflowResults`` request.
MAX_INPUTS_PER_REQUEST = 32
#: The API's limit on one request's encoded size; larger calls are split further.
MAX_REQUEST_BYTES = 128 * 1024 * 1024
# Room left for the request's own fields (ids, output config, selectors) beside its inputs.
_REQUEST_MARGIN = 1024 * 1024

_Request = service_pb2.PostWorkflowResultsRequest
_UserAppIDSet = resources_pb2.UserAppIDSet
_SINGLE = (str, bytes, bytearray, memoryview, Input, resources_pb2.Input, os.PathLike)


class Plan:
    """The requests of one call. ``bounds[k]`` is the ``[start, stop)`` input range of
    ``requests[k]``; ``inputs`` are the protos in input order."""

    __slots__ = ("workflow_id", "inputs", "requests", "bounds")

    def __init__(
        self,
        workflow_id: str,
        inputs: list[resources_pb2.Input],
        requests: list[service_pb2.PostWorkflowResultsRequest],
        bounds: list[tuple[int, int]],
    ) -> None:
        self.workflow_id = workflow_id
        self.inputs = inputs
        self.requests = requests
        self.bounds = bounds


def user_app_id(user_id: str | None, app_id: str | None) -> resources_pb2.UserAppIDSet | None:
    """The ``UserAppIDSet`` naming the workflow's owner, or ``None`` when neither id is set."""
    for name, value in (("user_id", user_id), ("app_id", app_id)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name} must be a str, got {type(value).__name__}")
    if not user_id and not app_id:
        return None
    if not user_id or not app_id:
        missing = "app_id" if user_id else "user_id"
        raise InputError(f"{missing} is missing: a workflow's owner is a user_id and an app_id")
    return _UserAppIDSet(user_id=user_id, app_id=app_id)


def plan(
    workflow_id: Any,
    inputs: Any,
    *,
    owner: resources_pb2.UserAppIDSet | None,
    batch_size: int,
    version_id: str | None = None,
    output_config: Any = None,
    node_runner_selectors: Mapping[str, resources_pb2.RunnerSelector] | None = None,
    workflow_state_id: str | None = None,
) -> Plan:
    """Validate one call's arguments and build its requests, at most ``batch_size`` inputs each."""
    if not isinstance(workflow_id, str) or not workflow_id:
        raise InputError(f"workflow_id must be a non-empty str, got {workflow_id!r:.60}")
    protos, sizes = _inputs(inputs)
    fields: dict[str, Any] = {"workflow_id": workflow_id}
    if owner is not None:
        fields["user_app_id"] = owner
    if version_id is not None:
        if not isinstance(version_id, str):
            raise InputError(f"version_id must be a str, got {type(version_id).__name__}")
        fields["version_id"] = version_id
    if output_config is not None:
        fields["output_config"] = _output_config(output_config)
    if node_runner_selectors is not None:
        fields["node_runner_selectors"] = _selectors(node_runner_selectors)
    if workflow_state_id is not None:
        if not isinstance(workflow_state_id, str):
            raise InputError(
                f"workflow_state_id must be a str, got {type(workflow_state_id).__name__}"
            )
        fields["workflow_state"] = resources_pb2.WorkflowState(id=workflow_state_id)
    bounds = _chunks(sizes, batch_size)
    requests = [_Request(inputs=protos[start:stop], **fields) for start, stop in bounds]
    return Plan(workflow_id, protos, requests, bounds)


def _inputs(inputs: Any) -> tuple[list[resources_pb2.Input], list[int]]:
    if isinstance(inputs, _SINGLE):
        proto, size = coerce(inputs, 0)
        return [proto], [size]
    if isinstance(inputs, (Mapping, set, frozenset)) or not isinstance(inputs, Iterable):
        raise InputError(
            "inputs must be one input or an ordered sequence of them (list, tuple, generator), "
            f"got {type(inputs).__name__}"
        )
    protos: list[resources_pb2.Input] = []
    sizes: list[int] = []
    for index, value in enumerate(inputs):
        proto, size = coerce(value, index)
        protos.append(proto)
        sizes.append(size)
    if not protos:
        raise InputError("inputs is empty: nothing to predict")
    return protos, sizes


def _chunks(sizes: list[int], batch_size: int) -> list[tuple[int, int]]:
    limit = MAX_REQUEST_BYTES - _REQUEST_MARGIN
    count = len(sizes)
    if count <= batch_size and sum(sizes) <= limit:
        return [(0, count)]
    bounds = []
    start = total = 0
    for index, size in enumerate(sizes):
        if size > limit:
            raise InputError(
                f"inputs[{index}] is {size} bytes encoded; one request may be at most "
                f"{MAX_REQUEST_BYTES} bytes (128 MiB)"
            )
        if index - start == batch_size or total + size > limit:
            bounds.append((start, index))
            start, total = index, 0
        total += size
    bounds.append((start, count))
    return bounds


def _output_config(value: Any) -> resources_pb2.OutputConfig:
    if isinstance(value, resources_pb2.OutputConfig):
        return value
    if not isinstance(value, Mapping):
        raise InputError(
            "output_config must be an OutputConfig or a dict of its fields, "
            f"got {type(value).__name__}"
        )
    try:
        return resources_pb2.OutputConfig(**value)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"output_config: {exc}") from exc


def _selectors(value: Any) -> dict[str, resources_pb2.RunnerSelector]:
    if not isinstance(value, Mapping):
        raise InputError(
            f"node_runner_selectors must map node ids to RunnerSelector, got {type(value).__name__}"
        )
    for key, selector in value.items():
        if not isinstance(key, str) or not isinstance(selector, resources_pb2.RunnerSelector):
            raise InputError(
                "node_runner_selectors must map node ids (str) to RunnerSelector messages, got "
                f"{type(key).__name__} -> {type(selector).__name__}"
            )
    return dict(value)
