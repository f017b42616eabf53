"""Protobuf ``WorkflowResult`` messages to the dataclasses in ``models``, in one pass.

This is the hot path of every prediction: each function reads each field once, binds what it
calls as defaults (local lookups), and builds objects through ``models.factory`` constructors.
"""

from __future__ import annotations

from typing import Any, Iterable

from .errors import _status_name
from .models import (
    BoundingBox,
    Concept,
    Embedding,
    Frame,
    ModelOutput,
    Region,
    Status,
    WorkflowResult,
    factory,
)

__all__ = ["status", "result", "results"]

_new_status = factory(Status)
_new_concept = factory(Concept)
_new_box = factory(BoundingBox)
_new_region = factory(Region)
_new_embedding = factory(Embedding)
_new_frame = factory(Frame)
_new_output = factory(ModelOutput)
_new_result = factory(WorkflowResult)


def status(message: Any, *, _new: Any = _new_status, _name: Any = _status_name) -> Status:
    """A ``Status`` from a ``status_pb2.Status``."""
    code = message.code
    return _new(code, _name(code), message.description, message.details, message.req_id, message)


def _concepts(messages: Any, *, _new: Any = _new_concept) -> tuple[Concept, ...]:
    if not messages:
        return ()
    return tuple([_new(c.id, c.name, c.value, c.app_id, c) for c in messages])


def _box(region_info: Any, *, _new: Any = _new_box) -> BoundingBox | None:
    if not region_info.HasField("bounding_box"):
        return None
    b = region_info.bounding_box
    return _new(b.top_row, b.left_col, b.bottom_row, b.right_col, b)


def _regions(messages: Any, *, _new: Any = _new_region) -> tuple[Region, ...]:
    if not messages:
        return ()
    out = []
    for r in messages:
        data = r.data
        out.append(
            _new(r.id, r.value, _box(r.region_info), _concepts(data.concepts), data.text.raw, r)
        )
    return tuple(out)


def _embeddings(messages: Any, *, _new: Any = _new_embedding) -> tuple[Embedding, ...]:
    if not messages:
        return ()
    return tuple([_new(tuple(e.vector), e.num_dimensions, e) for e in messages])


def _frames(messages: Any, *, _new: Any = _new_frame) -> tuple[Frame, ...]:
    if not messages:
        return ()
    out = []
    for f in messages:
        info = f.frame_info
        data = f.data
        out.append(_new(info.index, info.time, _concepts(data.concepts), _regions(data.regions), f))
    return tuple(out)


def _output(o: Any, *, _new: Any = _new_output) -> ModelOutput:
    model = o.model
    data = o.data
    return _new(
        o.id,
        model.id,
        model.model_version.id,
        model.name,
        status(o.status),
        _concepts(data.concepts),
        _regions(data.regions),
        _embeddings(data.embeddings),
        data.text.raw,
        _frames(data.frames),
        o.prompt_tokens,
        o.completion_tokens,
        o,
    )


def result(message: Any, *, _new: Any = _new_result) -> WorkflowResult:
    """A ``WorkflowResult`` from a ``resources_pb2.WorkflowResult``."""
    return _new(
        message.id,
        message.input.id,
        status(message.status),
        tuple([_output(o) for o in message.outputs]),
        message,
    )


def results(messages: Iterable[Any]) -> list[WorkflowResult]:
    """Convert a response's ``results``, keeping their order."""
    return [result(m) for m in messages]
