"""Responses to a ``WorkflowPrediction``: status checks, alignment, and merging chunks in order.

A chunk's outcome is its ``(response, results)`` or the ``ClarifaiError`` it failed with. A
failed chunk's inputs get failed results carrying that error's status, so ``results[i]`` always
belongs to ``inputs[i]``; the call raises only when every chunk failed.
"""

from __future__ import annotations

from typing import Any, Union

from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as Response
from clarifai_grpc.grpc.api.status import status_pb2

from . import _convert
from ._request import Plan
from .errors import FAILURE, MIXED_STATUS, SUCCESS, ApiError, ClarifaiError
from .models import WorkflowPrediction, WorkflowResult

__all__ = ["Fetched", "Outcome", "failed_results", "outcome", "prediction", "rpc_failed"]

Outcome = Union[tuple[Response, list[WorkflowResult]], ClarifaiError]
#: What sending one request gave: its response, or the error it failed with.
Fetched = Union[Response, ClarifaiError]

# How a failed request's inputs say the RPC itself failed: ``details`` starts with this.
_RPC_PREFIX = "gRPC "


def outcome(plan: Plan, chunk: int, fetched: Fetched) -> Outcome:
    """Check and convert what request ``chunk`` of ``plan`` fetched (a failure passes through)."""
    if isinstance(fetched, ClarifaiError):
        return fetched
    response = fetched  # its status is SUCCESS or MIXED_STATUS: Attempts.final saw to that
    status = response.status
    start, stop = plan.bounds[chunk]
    messages = response.results
    if len(messages) != stop - start:
        return ApiError(
            FAILURE,
            f"malformed response: {len(messages)} results for {stop - start} inputs",
            f"inputs[{start}:{stop}]",
            status.req_id,
        )
    results = _convert.results(messages)
    inputs = plan.inputs
    for offset, result in enumerate(results):
        sent = inputs[start + offset].id
        if sent and result.input_id and result.input_id != sent:
            return ApiError(
                FAILURE,
                f"malformed response: result {offset} is for input {result.input_id!r}, "
                f"but input {sent!r} was sent there",
                f"inputs[{start}:{stop}]",
                status.req_id,
            )
    return response, results


def prediction(plan: Plan, outcomes: list[Outcome]) -> WorkflowPrediction:
    """The prediction for ``plan`` from its chunks' outcomes; raises if every chunk failed."""
    if len(outcomes) == 1:
        only = outcomes[0]
        if isinstance(only, ClarifaiError):
            raise only
        response, results = only
        return _convert.assemble(plan.workflow_id, response.status, tuple(results), (response,))
    failures = [o for o in outcomes if isinstance(o, ClarifaiError)]
    if len(failures) == len(outcomes):
        raise failures[0]
    merged: list[WorkflowResult] = []
    responses: list[Response] = []
    all_ok = not failures
    for (start, stop), chunk in zip(plan.bounds, outcomes, strict=True):
        if isinstance(chunk, ClarifaiError):
            merged.extend(failed_results(plan.inputs[start:stop], chunk))
            continue
        response, results = chunk
        responses.append(response)
        all_ok = all_ok and response.status.code == SUCCESS
        merged.extend(results)
    code = SUCCESS if all_ok else MIXED_STATUS
    summary = status_pb2.Status(code=code, description="Ok" if all_ok else "Mixed Success")
    return _convert.assemble(plan.workflow_id, summary, tuple(merged), tuple(responses))


def failure_status(error: ClarifaiError) -> status_pb2.Status:
    """The status a failed chunk's inputs carry: the in-band code, or ``FAILURE`` with the gRPC
    code in ``details`` when the RPC itself failed."""
    if isinstance(error, ApiError):
        return status_pb2.Status(
            code=error.code,
            description=error.description,
            details=error.details,
            req_id=error.req_id,
        )
    code = getattr(error, "grpc_code", None)
    details = getattr(error, "details", "")
    return status_pb2.Status(
        code=FAILURE,
        description="the request for these inputs failed",
        details=f"{_RPC_PREFIX}{code.name}: {details}" if code is not None else str(error),
    )


def rpc_failed(result: WorkflowResult) -> bool:
    """Whether a failed result stands for a request that never reached the API (an RPC failure
    such as an unreachable target), as ``failure_status`` marks it."""
    status = result.status
    return status.code == FAILURE and status.details.startswith(_RPC_PREFIX)


def failed_results(inputs: list[Any], error: ClarifaiError) -> list[WorkflowResult]:
    """A failed result per input of a request that failed with ``error``."""
    return _convert.failed_results((proto.id for proto in inputs), failure_status(error))
