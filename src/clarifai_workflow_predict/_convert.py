"""Protobuf ``WorkflowResult`` messages to the dataclasses in ``models``, in one pass.

This is the hot path of every prediction, and reading upb fields from Python is most of its
cost (``bench/`` measures it), so it is written for speed:

- objects are built by setting their slots directly (``models.setters``), skipping the frozen
  dataclass ``__init__`` and its ``object.__setattr__`` per field;
- lists of concepts and regions are converted by ``map`` over a converter, with every name the
  converter uses bound as a default argument (a local lookup);
- an embedding's vector is decoded from the message's packed bytes with one ``struct`` call
  instead of one read per element;
- identical statuses within one response (nearly all are ``SUCCESS``/``Ok``) are converted once.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Iterable

from .errors import status_name
from .models import (
    BoundingBox,
    Concept,
    Embedding,
    Frame,
    ModelOutput,
    Region,
    Status,
    WorkflowPrediction,
    WorkflowResult,
    factory,
    setters,
)

__all__ = ["status", "result", "results"]

_new_status = factory(Status)
_new_embedding = factory(Embedding)
_new_frame = factory(Frame)
_new_output = factory(ModelOutput)
_new_result = factory(WorkflowResult)
_new_prediction = factory(WorkflowPrediction)
_CONCEPT = setters(Concept)
_BOX = setters(BoundingBox)
_REGION = setters(Region)


def _concept(
    c: Any,
    *,
    _new: Any = object.__new__,
    _cls: type = Concept,
    _id: Any = _CONCEPT[0],
    _name: Any = _CONCEPT[1],
    _value: Any = _CONCEPT[2],
    _app_id: Any = _CONCEPT[3],
    _raw: Any = _CONCEPT[4],
) -> Concept:
    o = _new(_cls)
    _id(o, c.id)
    _name(o, c.name)
    _value(o, c.value)
    _app_id(o, c.app_id)
    _raw(o, c)
    return o  # type: ignore[no-any-return]


def _concepts(messages: Any, *, _map: Any = map, _convert: Any = _concept) -> tuple[Concept, ...]:
    return tuple(_map(_convert, messages)) if messages else ()


def status(message: Any, *, _new: Any = _new_status, _name: Any = status_name) -> Status:
    """A ``Status`` from a ``status_pb2.Status``."""
    code = message.code
    return _new(code, _name(code), message.description, message.details, message.req_id, message)


class _Statuses(dict):  # type: ignore[type-arg]
    """Statuses of one response, converted once per distinct encoding."""

    def get_status(self, message: Any) -> Status:
        key = message.SerializeToString()
        found = self.get(key)
        if found is None:
            found = self[key] = status(message)
        return found


def _region(
    r: Any,
    *,
    _new: Any = object.__new__,
    _cls: type = Region,
    _box_cls: type = BoundingBox,
    _set: tuple[Any, ...] = _REGION,
    _set_box: tuple[Any, ...] = _BOX,
    _concepts: Any = _concepts,
) -> Region:
    o = _new(_cls)
    _set[0](o, r.id)
    _set[1](o, r.value)
    info = r.region_info
    if info.HasField("bounding_box"):
        b = info.bounding_box
        box = _new(_box_cls)
        _set_box[0](box, b.top_row)
        _set_box[1](box, b.left_col)
        _set_box[2](box, b.bottom_row)
        _set_box[3](box, b.right_col)
        _set_box[4](box, b)
        _set[2](o, box)
    else:
        _set[2](o, None)
    data = r.data
    _set[3](o, _concepts(data.concepts))
    _set[4](o, data.text.raw)
    _set[5](o, r)
    return o  # type: ignore[no-any-return]


def _regions(messages: Any, *, _map: Any = map, _convert: Any = _region) -> tuple[Region, ...]:
    return tuple(_map(_convert, messages)) if messages else ()


_VECTORS: dict[int, Callable[[bytes, int], tuple[float, ...]]] = {}


def _vector(embedding: Any) -> tuple[float, ...]:
    # The encoding starts with the packed ``vector`` (field 1, tag 0x0a), when there is one.
    data = embedding.SerializeToString()
    if not data or data[0] != 0x0A:
        return ()
    size = shift = 0
    at = 1
    while True:
        byte = data[at]
        size |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            break
        shift += 7
    count = size >> 2
    unpack = _VECTORS.get(count)
    if unpack is None:
        unpack = _VECTORS[count] = struct.Struct(f"<{count}f").unpack_from
    return unpack(data, at)


def _embeddings(messages: Any, *, _new: Any = _new_embedding) -> tuple[Embedding, ...]:
    if not messages:
        return ()
    return tuple([_new(_vector(e), e.num_dimensions, e) for e in messages])


def _frames(messages: Any, *, _new: Any = _new_frame) -> tuple[Frame, ...]:
    if not messages:
        return ()
    out = []
    for f in messages:
        info = f.frame_info
        data = f.data
        out.append(_new(info.index, info.time, _concepts(data.concepts), _regions(data.regions), f))
    return tuple(out)


def _output(o: Any, statuses: _Statuses, *, _new: Any = _new_output) -> ModelOutput:
    model = o.model
    data = o.data
    return _new(
        o.id,
        model.id,
        model.model_version.id,
        model.name,
        statuses.get_status(o.status),
        _concepts(data.concepts),
        _regions(data.regions),
        _embeddings(data.embeddings),
        data.text.raw,
        _frames(data.frames),
        o.prompt_tokens,
        o.completion_tokens,
        o,
    )


def _result(message: Any, statuses: _Statuses, *, _new: Any = _new_result) -> WorkflowResult:
    return _new(
        message.id,
        message.input.id,
        statuses.get_status(message.status),
        tuple([_output(o, statuses) for o in message.outputs]),
        message,
    )


def result(message: Any) -> WorkflowResult:
    """A ``WorkflowResult`` from a ``resources_pb2.WorkflowResult``."""
    return _result(message, _Statuses())


def prediction(response: Any) -> WorkflowPrediction:
    """A ``WorkflowPrediction`` of a whole ``PostWorkflowResultsResponse``."""
    status_message = response.status
    return _new_prediction(
        response.workflow.id,
        status(status_message),
        tuple(results(response.results)),
        (status_message.req_id,),
        (response,),
    )


def results(messages: Iterable[Any]) -> list[WorkflowResult]:
    """Convert a response's ``results``, keeping their order."""
    statuses = _Statuses()
    return [_result(m, statuses) for m in messages]
