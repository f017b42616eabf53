"""The I/O-free part of ``predict_iter``: a lazy stream of chunks, and each chunk's results.

Both clients run the same loop around it: keep at most ``max_concurrency`` chunks in flight,
wait for the oldest, yield its results in input order, send the next. Memory stays bounded by
that window however long the input iterable is.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from . import _request, _response, models
from .errors import (
    AuthenticationError,
    ClarifaiError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from .models import WorkflowResult

__all__ = ["Chunk", "Stream"]

# A request that failed for these reasons would fail the same way for every later input.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError)


class Chunk:
    """One request's worth of the stream: ``items`` are inputs (from ``_request.stream``) or, in
    place of a value that was not an input, its ``InputError``; ``plan`` sends the inputs
    (``None`` if there are none)."""

    __slots__ = ("items", "plan")

    def __init__(self, items: list[Any], plan: _request.Plan | None) -> None:
        self.items = items
        self.plan = plan

    @property
    def request(self) -> service_pb2.PostWorkflowResultsRequest | None:
        return self.plan.requests[0] if self.plan is not None else None


class Stream:
    """The chunks of one ``predict_iter`` call, built as they are needed."""

    def __init__(self, values: Iterable[Any], fields: dict[str, Any], batch_size: int) -> None:
        self._chunks = _request.stream(values, batch_size)
        self._fields = fields

    def __iter__(self) -> Iterator[Chunk]:
        for items in self._chunks:
            inputs = [item for item in items if not isinstance(item, InputError)]
            plan = _request.planned(self._fields, [inputs]) if inputs else None
            yield Chunk(items, plan)

    @staticmethod
    def results(chunk: Chunk, fetched: _response.Fetched | None) -> list[WorkflowResult]:
        """The chunk's results in input order: answers, failed results for a failed request, and
        failed results for values that were not inputs. Raises when the request failed for a
        reason every later request would share (authentication, permission, not found)."""
        sent: list[WorkflowResult] = []
        if chunk.plan is not None:
            assert fetched is not None
            outcome = _response.outcome(chunk.plan, 0, fetched)
            if isinstance(outcome, _FATAL):
                raise outcome
            if isinstance(outcome, ClarifaiError):
                sent = _response.failed_results(chunk.plan.requests[0].inputs, outcome)
            else:
                sent = outcome[1]
        if len(sent) == len(chunk.items):
            return sent
        answers = iter(sent)
        return [
            _rejected(item) if isinstance(item, InputError) else next(answers)
            for item in chunk.items
        ]


def _rejected(error: InputError) -> WorkflowResult:
    status = status_pb2.Status(
        code=status_code_pb2.INPUT_INVALID_ARGUMENT,
        description=str(error),
        details="not sent: rejected by the client",
    )
    return models.failed_results([""], status, error)[0]
