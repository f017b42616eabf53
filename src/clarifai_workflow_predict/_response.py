"""Responses to a ``WorkflowPrediction``: status checks, alignment, and merging chunks in order.

A chunk's outcome is its ``(response, results)`` or the ``ClarifaiError`` it failed with. A
failed chunk's inputs get failed results carrying that error's status, so ``results[i]`` always
belongs to ``inputs[i]``; the call raises only when every chunk failed.
"""

from __future__ import annotations

from typing import Any, Union

from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as Response
from clarifai_grpc.grpc.api.status import status_pb2

from . import models
from ._request import Plan
from .errors import FAILURE, MIXED_STATUS, SUCCESS, ApiError, ClarifaiError
from .models import WorkflowResult
from .prediction import WorkflowPrediction, assemble

__all__ = [
    "RequestOutcome",
    "ChunkOutcome",
    "failed_results",
    "outcome",
    "prediction",
]

ChunkOutcome = Union[tuple[Response, list[WorkflowResult]], ClarifaiError]
#: What sending one request gave: its response, or the error it failed with.
RequestOutcome = Union[Response, ClarifaiError]

_DESCRIPTIONS = {SUCCESS: "Ok", MIXED_STATUS: "Mixed Success", FAILURE: "Failure"}


def outcome(plan: Plan, chunk: int, fetched: RequestOutcome) -> ChunkOutcome:
    """Check and convert what request ``chunk`` of ``plan`` fetched (a failure passes through)."""
    if isinstance(fetched, ClarifaiError):
        return fetched
    response = fetched  # it answers each input (``_retry.accepted``): Attempts.final saw to that
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
    sent_inputs = plan.requests[chunk].inputs if plan.ids else ()  # no ids: nothing to check
    for offset, (message, sent_input) in enumerate(zip(messages, sent_inputs, strict=False)):
        sent = sent_input.id
        if sent and (got := message.input.id) and got != sent:
            return ApiError(
                FAILURE,
                f"malformed response: result {offset} is for input {got!r}, "
                f"but input {sent!r} was sent there",
                f"inputs[{start}:{stop}]",
                status.req_id,
            )
    return response, models.results(messages)


def prediction(plan: Plan, outcomes: list[ChunkOutcome]) -> WorkflowPrediction:
    """The prediction for ``plan`` from its chunks' outcomes; raises if every chunk failed."""
    if len(outcomes) == 1:
        only = outcomes[0]
        if isinstance(only, ClarifaiError):
            raise only
        response, merged = only
        return assemble(plan.workflow_id, response.status, _each(plan, merged), (response,))
    failures = [o for o in outcomes if isinstance(o, ClarifaiError)]
    if len(failures) == len(outcomes):
        raise failures[0]
    merged = []
    responses: list[Response] = []
    codes = set()
    for request, chunk in zip(plan.requests, outcomes, strict=True):
        if isinstance(chunk, ClarifaiError):
            merged.extend(failed_results(request.inputs, chunk))
            codes.add(FAILURE)
            continue
        response, results = chunk
        responses.append(response)
        codes.add(response.status.code)
        merged.extend(results)
    # Every request succeeded, or every input of every request failed, or some of each.
    code = SUCCESS if codes == {SUCCESS} else FAILURE if codes == {FAILURE} else MIXED_STATUS
    summary = status_pb2.Status(code=code, description=_DESCRIPTIONS[code])
    return assemble(plan.workflow_id, summary, _each(plan, merged), tuple(responses))


def _each(plan: Plan, sent: list[WorkflowResult]) -> tuple[WorkflowResult, ...]:
    """A result per input of the call: the results of the inputs sent, and for a duplicate
    sent once, a copy of its first's under its own id."""
    places, own_ids = plan.places, plan.own_ids
    if places is None or own_ids is None:
        return tuple(sent)
    each = []
    first = set()
    for place, own_id in zip(places, own_ids, strict=True):
        each.append(sent[place] if place not in first else models.copied(sent[place], own_id))
        first.add(place)
    return tuple(each)


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
        details=f"gRPC {code.name}: {details}" if code is not None else str(error),
    )


def failed_results(inputs: list[Any], error: ClarifaiError) -> list[WorkflowResult]:
    """A failed result per input of a request that failed with ``error``."""
    return models.failed_results((proto.id for proto in inputs), failure_status(error), error)
