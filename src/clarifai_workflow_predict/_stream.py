"""The I/O-free part of ``predict_iter``: a lazy stream of chunks, and each chunk's results.

Both clients run the same loop around it: keep at most ``max_concurrency`` chunks in flight,
wait for the oldest, yield its results in input order, send the next. Memory stays bounded by
that window however long the input iterable is.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from . import _dedupe, _request, _response, models
from .errors import (
    AuthenticationError,
    ClarifaiError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from .models import WorkflowResult

__all__ = ["Chunk", "Copy", "Stream"]

# A request that failed for these reasons would fail the same way for every later input.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError)


class Copy:
    """In a chunk, in place of a duplicate not sent: the key it shares with the input sent, and
    its own id."""

    __slots__ = ("key", "own_id")

    def __init__(self, key: int, own_id: str) -> None:
        self.key = key
        self.own_id = own_id


class Chunk:
    """One request's worth of the stream: ``items`` are inputs (from ``_request.stream``) or, in
    place of a value that was not an input, its ``InputError``, or of a duplicate, its ``Copy``;
    ``plan`` sends the inputs (``None`` if there are none); ``keys`` are the keys of the items
    (with duplicates sent once), and ``number`` counts the stream's chunks from 0."""

    __slots__ = ("items", "plan", "keys", "number")

    def __init__(
        self, items: list[Any], plan: _request.Plan | None, keys: list[int] | None, number: int
    ) -> None:
        self.items = items
        self.plan = plan
        self.keys = keys
        self.number = number

    @property
    def request(self) -> service_pb2.PostWorkflowResultsRequest | None:
        return self.plan.requests[0] if self.plan is not None else None


class Stream:
    """The chunks of one ``predict_iter`` call, built as they are needed. With ``dedupe``, an
    input whose duplicate is in one of the last ``window`` chunks (the requests in flight) is
    not sent: it gets a copy of that one's result."""

    def __init__(
        self,
        values: Iterable[Any],
        fields: dict[str, Any],
        batch_size: int,
        *,
        window: int = 1,
        dedupe: bool = False,
    ) -> None:
        self._chunks = _request.stream(values, batch_size)
        self._fields = fields
        self._window = window
        self._dedupe = dedupe
        self._sent: dict[int, int] = {}  # key -> the number of the chunk that sent it
        self._answers: dict[int, tuple[int, WorkflowResult]] = {}  # key -> (number, answer)

    def __iter__(self) -> Iterator[Chunk]:
        for number, items in enumerate(self._chunks):
            keys = self._mark(items, number) if self._dedupe else None
            inputs = [item for item in items if not isinstance(item, (InputError, Copy))]
            plan = _request.planned(self._fields, [inputs]) if inputs else None
            yield Chunk(items, plan, keys, number)

    def _mark(self, items: list[Any], number: int) -> list[int]:
        """Replace each duplicate of an input in this or a recent chunk by its ``Copy``; the
        items' keys (0 for values that are not inputs)."""
        oldest = number - self._window
        self._sent = {k: n for k, n in self._sent.items() if n >= oldest}
        keys = []
        for at, item in enumerate(items):
            if isinstance(item, InputError):
                keys.append(0)
                continue
            key = _dedupe.key(item)
            keys.append(key)
            if key in self._sent:
                items[at] = Copy(key, _dedupe.own_id(item))
            else:
                self._sent[key] = number
        return keys

    def results(
        self, chunk: Chunk, fetched: _response.RequestOutcome | None
    ) -> list[WorkflowResult]:
        """The chunk's results in input order: answers, failed results for a failed request,
        failed results for values that were not inputs, and copies for duplicates. Raises when
        the request failed for a reason every later request would share (authentication,
        permission, not found)."""
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
            if chunk.keys is not None:
                self._remember(chunk, sent)
            return sent
        answers = iter(sent)
        each = []
        for item in chunk.items:
            if isinstance(item, InputError):
                each.append(_rejected(item))
            elif isinstance(item, Copy):
                each.append(models.copied(self._answers[item.key][1], item.own_id))
            else:
                each.append(next(answers))
                if chunk.keys is not None:
                    self._answers[chunk.keys[len(each) - 1]] = (chunk.number, each[-1])
        if chunk.keys is not None:
            self._forget(chunk.number)
        return each

    def _remember(self, chunk: Chunk, results: list[WorkflowResult]) -> None:
        assert chunk.keys is not None
        for key, result in zip(chunk.keys, results, strict=True):
            self._answers[key] = (chunk.number, result)
        self._forget(chunk.number)

    def _forget(self, number: int) -> None:
        """Drop the answers no later chunk can copy: those older than the window."""
        oldest = number - self._window
        if any(n < oldest for n, _ in self._answers.values()):
            self._answers = {k: v for k, v in self._answers.items() if v[0] >= oldest}


def _rejected(error: InputError) -> WorkflowResult:
    status = status_pb2.Status(
        code=status_code_pb2.INPUT_INVALID_ARGUMENT,
        description=str(error),
        details="not sent: rejected by the client",
    )
    return models.failed_results([""], status, error)[0]
