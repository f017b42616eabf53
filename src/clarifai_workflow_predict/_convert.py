"""Protobuf ``WorkflowResult`` messages to the dataclasses in ``models``, in one pass.

What a model returned is a ``Data`` message with a field per kind of output. ``DATA`` is the
converter table: each ``Data`` field, the ``ModelOutput`` field it fills, and its converter.
Adding an output kind is one entry there (and its dataclass field, and its presenters in
``_render`` and ``_html``). Only the fields a message has are visited (``ListFields``), so kinds
a model did not return cost nothing. ``REGION_INFO`` and ``REGION_DATA`` do the same for regions.

This is the hot path of every prediction, and reading upb fields from Python is most of its
cost (``bench/`` measures it), so it is written for speed:

- objects are built by setting their slots directly (``factory``), skipping the frozen dataclass
  ``__init__`` and its ``object.__setattr__`` per field;
- lists of concepts are converted by ``map`` over a converter whose names are bound as default
  arguments (local lookups);
- an embedding's vector is decoded from the message's packed bytes with one ``struct`` call
  instead of one read per element;
- identical statuses within one response (nearly all are ``SUCCESS``/``Ok``) are converted once.
"""

from __future__ import annotations

import struct
from dataclasses import MISSING, fields
from typing import Any, Callable, Iterable, TypeVar

from clarifai_grpc.grpc.api import resources_pb2

from .errors import status_name
from .models import (
    BoundingBox,
    Cluster,
    Color,
    Concept,
    Embedding,
    Frame,
    Media,
    ModelOutput,
    NDArray,
    Part,
    Point,
    Region,
    Span,
    Status,
    TimeSegment,
    Track,
    WorkflowPrediction,
    WorkflowResult,
)

__all__ = [
    "DATA",
    "REGION_DATA",
    "REGION_INFO",
    "assemble",
    "factory",
    "failed_results",
    "prediction",
    "results",
    "status",
]

_T = TypeVar("_T")


def _twin(cls: type) -> type:
    """A plain class with ``cls``'s slots. Objects are filled as twins, with ordinary attribute
    stores, then made ``cls`` by assigning their ``__class__`` (the layouts match): a frozen
    dataclass refuses stores, and setting its slots through their descriptors instead costs
    nearly twice as much."""
    return type(f"{cls.__name__}Twin", (), {"__slots__": cls.__slots__})  # type: ignore[attr-defined]


def factory(
    cls: type[_T], reads: dict[str, str] | None = None, *, finish: bool = True
) -> Callable[..., _T]:
    """A fast constructor of ``cls`` that skips ``__init__``.

    Without ``reads`` it takes every field positionally (``raw`` last, where the class has it).
    With ``reads`` (field name to an expression of one message ``m``, like ``"m.id"``) it
    converts that message in one call; fields not read get their default. With
    ``finish=False`` it returns the unfinished twin, for the caller to fill in the rest and then
    finish with ``obj.__class__ = cls``.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": _twin(cls), "_cls": cls}
    if reads is None:
        params = ", ".join(names)
        values = names
    else:
        params = "m"
        values = []
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in reads:
                values.append(reads[f.name])
            elif f.default is not MISSING:
                namespace[f"_d_{f.name}"] = f.default
                values.append(f"_d_{f.name}")
            else:
                raise TypeError(f"{cls.__name__}.{f.name} has no default: read it")
    stores = "".join(f"    o.{name} = {value}\n" for name, value in zip(names, values, strict=True))
    end = "    o.__class__ = _cls\n" if finish else ""
    head = f"def make({params}, *, _new=_new, _twin=_twin, _cls=_cls):\n    o = _new(_twin)\n"
    source = f"{head}{stores}{end}    return o\n"
    exec(source, namespace)  # noqa: S102 - source built above from field names and reads only
    make: Callable[..., _T] = namespace["make"]
    make.__qualname__ = f"{cls.__name__}.<fast constructor>"
    return make


_new_status = factory(Status)
_new_span = factory(Span)
_new_media = factory(Media)
_new_ndarray = factory(NDArray)
_new_part = factory(Part)
_new_embedding = factory(Embedding)
_new_frame = factory(Frame)
_new_segment = factory(TimeSegment)
_new_track = factory(Track)
_new_result = factory(WorkflowResult)
_new_prediction = factory(WorkflowPrediction)


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


# --- leaves ---------------------------------------------------------------------------------


_concept = factory(
    Concept, {"id": "m.id", "name": "m.name", "value": "m.value", "app_id": "m.app_id"}
)
_box = factory(
    BoundingBox,
    {
        "top_row": "m.top_row",
        "left_col": "m.left_col",
        "bottom_row": "m.bottom_row",
        "right_col": "m.right_col",
    },
)
_point = factory(Point, {"row": "m.row", "col": "m.col"})


def _concepts(messages: Any, *, _map: Any = map, _convert: Any = _concept) -> tuple[Concept, ...]:
    return tuple(_map(_convert, messages))


def _points(messages: Any) -> tuple[Point, ...]:
    return tuple(map(_point, messages))


def _span(s: Any) -> Span:
    return _new_span(s.char_start, s.char_end, s.raw_text)  # type: ignore[no-any-return]


def _media(m: Any) -> Media:
    """A ``Media`` from an ``Image``, ``Video`` or ``Audio`` message."""
    kind = m.DESCRIPTOR
    info = m.image_info if kind is _IMAGE else m.video_info if kind is _VIDEO else None
    width, height = (info.width, info.height) if info is not None else (0, 0)
    return _new_media(m.url, m.base64, width, height)  # type: ignore[no-any-return]


_IMAGE = resources_pb2.Image.DESCRIPTOR
_VIDEO = resources_pb2.Video.DESCRIPTOR


def _medias(messages: Any) -> tuple[Media, ...]:
    return tuple(map(_media, messages))


_color = factory(Color, {"hex": "m.raw_hex", "name": "m.w3c.name", "value": "m.value"})
_cluster = factory(Cluster, {"id": "m.id", "count": "m.count", "score": "m.score"})


def _ndarray(a: Any) -> NDArray:
    return _new_ndarray(tuple(a.shape), a.dtype, a.buffer)  # type: ignore[no-any-return]


def _struct(s: Any) -> dict[str, Any]:
    """A ``google.protobuf.Struct`` as a plain dict of JSON types (lists stay lists)."""
    return {key: _json_value(value) for key, value in s.fields.items()}


def _json_value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "struct_value":
        return _struct(v.struct_value)
    if kind == "list_value":
        return [_json_value(item) for item in v.list_value.values]
    return None if kind in (None, "null_value") else getattr(v, kind)


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
    return tuple([_new(_vector(e), e.num_dimensions) for e in messages])


# --- regions --------------------------------------------------------------------------------


def _by_field(
    message: Any, table: dict[str, tuple[str, Callable[[Any], Any]]]
) -> dict[Any, tuple[str, Callable[[Any], Any]]]:
    """``table`` keyed by ``message``'s field descriptors, which is what ``ListFields`` yields."""
    by_name = message.DESCRIPTOR.fields_by_name
    return {by_name[name]: entry for name, entry in table.items()}


#: ``RegionInfo`` field: (``Region`` field, converter).
REGION_INFO: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "bounding_box": ("bounding_box", _box),
    "mask": ("mask", lambda m: _media(m.image)),
    "polygon": ("polygon", lambda p: _points(p.points)),
    "point": ("point", _point),
    "span": ("span", _span),
    "token": ("span", _span),
    "keypoint_locations": ("keypoints", _points),
}
#: The region's own ``Data`` field: (``Region`` field, converter).
REGION_DATA: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "concepts": ("concepts", _concepts),
    "text": ("text", lambda t: t.raw),
}
_REGION_INFO = _by_field(resources_pb2.RegionInfo, REGION_INFO)
_REGION_DATA = _by_field(resources_pb2.Data, REGION_DATA)
_start_region = factory(
    Region,
    {
        "id": "m.id",
        "value": "m.value",
        "bounding_box": "None",
        "track_id": "m.track_id",
        "raw": "m",
    },
    finish=False,
)


def _region(
    r: Any,
    *,
    _start: Any = _start_region,
    _info: Any = _REGION_INFO,
    _data: Any = _REGION_DATA,
    _set: Any = setattr,
    _cls: type = Region,
) -> Region:
    o = _start(r)
    for field, value in r.region_info.ListFields():
        name, convert = _info[field]
        _set(o, name, convert(value))
    for field, value in r.data.ListFields():
        entry = _data.get(field)
        if entry is not None:
            _set(o, entry[0], entry[1](value))
    o.__class__ = _cls
    return o  # type: ignore[no-any-return]


def _regions(messages: Any, *, _map: Any = map, _convert: Any = _region) -> tuple[Region, ...]:
    return tuple(_map(_convert, messages))


# --- kinds of output that hold others -------------------------------------------------------


def _frames(messages: Any, *, _new: Any = _new_frame) -> tuple[Frame, ...]:
    out = []
    for f in messages:
        info = f.frame_info
        data = f.data
        out.append(_new(info.index, info.time, _concepts(data.concepts), _regions(data.regions), f))
    return tuple(out)


def _segments(messages: Any) -> tuple[TimeSegment, ...]:
    return tuple(
        [
            _new_segment(
                s.id, s.time_info.begin_time, s.time_info.end_time, _concepts(s.data.concepts), s
            )
            for s in messages
        ]
    )


def _tracks(messages: Any) -> tuple[Track, ...]:
    return tuple(
        [
            _new_track(
                t.id,
                t.time_info.begin_time,
                t.time_info.end_time,
                _concepts(t.data.concepts),
                _regions(t.data.regions),
                t,
            )
            for t in messages
        ]
    )


# What a part's ``value`` is: the first of these its data has.
_PART_VALUE = (
    "int_value",
    "float_value",
    "bool_value",
    "string_value",
    "bytes_value",
    "struct_value",
    "text",
    "image",
    "video",
    "audio",
    "ndarray",
    "parts",
    "concepts",
    "embeddings",
)


def _part(p: Any) -> Part:
    present = {field.name: value for field, value in p.data.ListFields()}
    for name in _PART_VALUE:
        if name in present:
            return _new_part(p.id, DATA[name][1](present[name]), p)  # type: ignore[no-any-return]
    return _new_part(p.id, None, p)  # type: ignore[no-any-return]


def _parts(messages: Any) -> tuple[Part, ...]:
    return tuple(map(_part, messages))


def _same(value: Any) -> Any:
    return value


#: ``Data`` field: (``ModelOutput`` field, converter). One entry per kind of output.
DATA: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "concepts": ("concepts", _concepts),
    "regions": ("regions", _regions),
    "embeddings": ("embeddings", _embeddings),
    "text": ("text", lambda t: t.raw),
    "frames": ("frames", _frames),
    "colors": ("colors", lambda colors: tuple(map(_color, colors))),
    "clusters": ("clusters", lambda clusters: tuple(map(_cluster, clusters))),
    "image": ("image", _media),
    "video": ("video", _media),
    "audio": ("audio", _media),
    "heatmaps": ("heatmaps", _medias),
    "time_segments": ("time_segments", _segments),
    "tracks": ("tracks", _tracks),
    "metadata": ("metadata", _struct),
    "int_value": ("value", _same),
    "float_value": ("value", _same),
    "bool_value": ("value", _same),
    "string_value": ("value", _same),
    "bytes_value": ("value", _same),
    "struct_value": ("value", _struct),
    "parts": ("parts", _parts),
    "ndarray": ("ndarray", _ndarray),
}

_OUTPUT_DATA = _by_field(resources_pb2.Data, DATA)
_start_output = factory(
    ModelOutput,
    {
        "id": "m.id",
        "model_id": "m.model.id",
        "model_version_id": "m.model.model_version.id",
        "model_name": "m.model.name",
        "status": "None",  # the caller's: statuses are shared within a response
        "prompt_tokens": "m.prompt_tokens",
        "completion_tokens": "m.completion_tokens",
        "cached_tokens": "m.cached_tokens",
        "metadata": "{}",
        "raw": "m",
    },
    finish=False,
)


def _output(
    o: Any,
    statuses: _Statuses,
    *,
    _start: Any = _start_output,
    _data: Any = _OUTPUT_DATA,
    _set: Any = setattr,
    _cls: type = ModelOutput,
) -> ModelOutput:
    out = _start(o)
    out.status = statuses.get_status(o.status)
    for field, value in o.data.ListFields():
        entry = _data.get(field)
        if entry is not None:
            _set(out, entry[0], entry[1](value))
    out.__class__ = _cls
    return out  # type: ignore[no-any-return]


def _result(message: Any, statuses: _Statuses, *, _new: Any = _new_result) -> WorkflowResult:
    return _new(  # type: ignore[no-any-return]
        message.id,
        message.input.id,
        statuses.get_status(message.status),
        tuple([_output(o, statuses) for o in message.outputs]),
        message,
    )


def results(messages: Iterable[Any]) -> list[WorkflowResult]:
    """Convert a response's ``results``, keeping their order."""
    statuses = _Statuses()
    return [_result(m, statuses) for m in messages]


def prediction(response: Any) -> WorkflowPrediction:
    """A ``WorkflowPrediction`` of a whole ``PostWorkflowResultsResponse``."""
    return assemble(
        response.workflow.id, response.status, tuple(results(response.results)), (response,)
    )


def assemble(
    workflow_id: str,
    status_message: Any,
    converted: tuple[WorkflowResult, ...],
    responses: tuple[Any, ...],
) -> WorkflowPrediction:
    """The prediction of ``converted`` results from ``responses`` (one per request sent), with
    ``status_message`` as its status."""
    state = next((r.workflow_state.id for r in responses if r.workflow_state.id), "")
    return _new_prediction(  # type: ignore[no-any-return]
        workflow_id,
        status(status_message),
        converted,
        tuple(r.status.req_id for r in responses),
        state,
        responses,
    )


def failed_results(input_ids: Iterable[str], raw_status: Any) -> list[WorkflowResult]:
    """A result with no outputs, carrying ``raw_status``, per input of a request that failed or
    was never sent."""
    converted = status(raw_status)
    out = []
    for input_id in input_ids:
        raw = resources_pb2.WorkflowResult(
            status=raw_status, input=resources_pb2.Input(id=input_id)
        )
        out.append(_new_result("", input_id, converted, (), raw))
    return out
