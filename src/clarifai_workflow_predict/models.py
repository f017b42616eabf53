"""The results of each input: frozen, slotted dataclasses made from ``WorkflowResult`` messages,
each field converted from its message when it is first read (``prediction`` holds a call's).

Sequences are tuples. Objects that hold other results (``Status``, ``Region``, ``Frame``,
``TimeSegment``, ``Track``, ``Part``, ``ModelOutput``, ``WorkflowResult``)
keep the protobuf they came from as ``.raw`` (excluded from ``==``, ``hash`` and ``repr``) for
anything not converted. Leaf values, which hold plain values only (``Concept``, ``BoundingBox``,
``Point``, ``Span``, ``Color``, ``Cluster``, ``Media``, ``NDArray``, ``Embedding``), have no
``.raw`` of their own: their parent's holds their message.

When values are made: a ``WorkflowResult`` starts as its message alone; ``id``, ``input_id`` and
``status`` are converted together on the first read of one of them, ``outputs`` on its own
first read. A ``ModelOutput`` likewise: its head (ids, model, status, token counts) together,
and each kind of output (``concepts``, ``regions``, ``embeddings``, ...) on its own first read.
What is read is kept in the object's slot; what is never read is never converted. Objects inside
a kind (a ``Region`` and its box, a ``Frame``) are made whole. ``load`` converts everything left
at once, as ``to_dict``, the views and ``bulk`` do.

Absent values: empty strings, zeros, empty tuples, ``{}`` for ``metadata``, and ``None`` for a
single message that is not there (``Region.bounding_box``, ``mask``, ``point``, ``span``;
``ModelOutput.image``, ``video``, ``audio``, ``value``, ``ndarray``).

This is the hot path of every prediction, and reading upb fields from Python is most of its cost
(``bench/`` measures it), so converters set slots directly (``_lazy.factory``), map over repeated
fields with names bound as default arguments, decode an embedding's packed floats in one
``struct`` call, and share the statuses that repeat (nearly all are ``SUCCESS``/``Ok``).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, Iterable, Union

from clarifai_grpc.grpc.api import resources_pb2
from clarifai_grpc.grpc.api.status import status_pb2

from ._lazy import (
    FromRaw,
    Group,
    damaged,
    factory,
    install,
    load_groups,
    loaded,
    mark_loaded,
    no_collections,
)
from .errors import SUCCESS, ClarifaiError, status_name

__all__ = [
    "Status",
    "Concept",
    "BoundingBox",
    "Point",
    "Span",
    "Color",
    "Cluster",
    "Media",
    "NDArray",
    "Part",
    "Region",
    "Embedding",
    "Frame",
    "TimeSegment",
    "Track",
    "ModelOutput",
    "WorkflowResult",
    "Usage",
    "Value",
    "Kind",
    "KINDS",
    "aside",
    "as_json",
    "copied",
    "load",
    "results",
    "usage",
]

#: A scalar a model returned (``Data.int_value``, ``float_value``, ``bool_value``,
#: ``string_value``, ``bytes_value``), or a ``struct_value`` as a dict.
Value = Union[int, float, bool, str, bytes, dict]


def aside() -> Any:
    """A field kept beside the data (``raw``, ``error``): ``None`` unless given, and left out of
    ``==``, ``hash``, ``repr`` and the JSON form."""
    return field(default=None, repr=False, compare=False)


# --- leaves: plain values, made whole ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Concept:
    """A predicted concept and its score."""

    id: str
    name: str
    value: float
    app_id: str = ""


_CONCEPT = {"id": "m.id", "name": "m.name", "value": "m.value", "app_id": "m.app_id"}
_concepts = factory(Concept, _CONCEPT, many=True)


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A box in coordinates normalized to the image, 0 to 1 from the top-left corner."""

    top_row: float
    left_col: float
    bottom_row: float
    right_col: float


_box = factory(
    BoundingBox,
    {
        "top_row": "m.top_row",
        "left_col": "m.left_col",
        "bottom_row": "m.bottom_row",
        "right_col": "m.right_col",
    },
)


@dataclass(frozen=True, slots=True)
class Point:
    """A point in coordinates normalized to the image, 0 to 1 from the top-left corner."""

    row: float
    col: float


_point = factory(Point, {"row": "m.row", "col": "m.col"})
_points = factory(Point, {"row": "m.row", "col": "m.col"}, many=True)


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the input text: characters ``start`` to ``end`` (end excluded), and the
    text there as the model read it."""

    start: int
    end: int
    text: str


_span = factory(Span, {"start": "m.char_start", "end": "m.char_end", "text": "m.raw_text"})


@dataclass(frozen=True, slots=True)
class Color:
    """A dominant color: ``hex`` as the model measured it (``#rrggbb``), ``name`` the nearest
    W3C color name, ``value`` its share of the picture."""

    hex: str
    name: str
    value: float


_colors = factory(Color, {"hex": "m.raw_hex", "name": "m.w3c.name", "value": "m.value"}, many=True)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster the input falls in: its id, how many inputs it holds, and the input's score."""

    id: str
    count: int
    score: float


_clusters = factory(Cluster, {"id": "m.id", "count": "m.count", "score": "m.score"}, many=True)


@dataclass(frozen=True, slots=True)
class Media:
    """An image, video or audio a model returned (or a heatmap): ``url`` (``""`` when the bytes
    came inline), ``data`` the raw bytes (``b""`` when absent), and width and height from the
    image or video info where present, else 0."""

    url: str
    data: bytes
    width: int = 0
    height: int = 0


_new_media = factory(Media)
_IMAGE = resources_pb2.Image.DESCRIPTOR
_VIDEO = resources_pb2.Video.DESCRIPTOR


def _media(m: Any) -> Media:
    """A ``Media`` from an ``Image``, ``Video`` or ``Audio`` message."""
    kind = m.DESCRIPTOR
    info = m.image_info if kind is _IMAGE else m.video_info if kind is _VIDEO else None
    width, height = (info.width, info.height) if info is not None else (0, 0)
    return _new_media(m.url, m.base64, width, height)


def _medias(messages: Any) -> tuple[Media, ...]:
    return tuple(map(_media, messages))


@dataclass(frozen=True, slots=True)
class NDArray:
    """An n-dimensional array a model returned: ``shape``, numpy's ``dtype`` name and the raw
    little-endian ``data``. ``numpy.frombuffer(a.data, a.dtype).reshape(a.shape)`` gives the
    array; ``tolist()`` gives nested lists without numpy."""

    shape: tuple[int, ...]
    dtype: str
    data: bytes

    def tolist(self) -> Any:
        """The values as nested lists (``shape`` deep), for the common numeric dtypes."""
        code = _STRUCT_CODES.get(self.dtype.lstrip("<=|"))
        if code is None:
            raise ValueError(f"cannot decode dtype {self.dtype!r} without numpy")
        flat: list[Any] = list(
            struct.unpack(f"<{len(self.data) // struct.calcsize(code)}{code}", self.data)
        )
        for size in reversed(self.shape[1:]):
            flat = [flat[i : i + size] for i in range(0, len(flat), size)]
        return flat


_STRUCT_CODES = {
    "float32": "f",
    "f4": "f",
    "float64": "d",
    "f8": "d",
    "int8": "b",
    "i1": "b",
    "uint8": "B",
    "u1": "B",
    "int16": "h",
    "i2": "h",
    "uint16": "H",
    "u2": "H",
    "int32": "i",
    "i4": "i",
    "uint32": "I",
    "u4": "I",
    "int64": "q",
    "i8": "q",
    "uint64": "Q",
    "u8": "Q",
    "bool": "?",
}
_new_ndarray = factory(NDArray)


def _ndarray(a: Any) -> NDArray:
    return _new_ndarray(tuple(a.shape), a.dtype, a.buffer)


@dataclass(frozen=True, slots=True)
class Embedding:
    """An embedding vector."""

    vector: tuple[float, ...]
    num_dimensions: int


_new_embedding = factory(Embedding)
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


# --- objects that keep their message, made whole -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Status(FromRaw):
    """A Clarifai status: ``code`` (``StatusCode`` number) and ``name`` (its enum name)."""

    code: int
    name: str
    description: str = ""
    details: str = ""
    req_id: str = ""
    raw: Any = aside()

    @property
    def ok(self) -> bool:
        """True for ``SUCCESS``."""
        return self.code == SUCCESS


_new_status = factory(Status)


def status(message: Any, *, _new: Any = _new_status, _name: Any = status_name) -> Status:
    """A ``Status`` from a ``status_pb2.Status``."""
    code = message.code
    return _new(code, _name(code), message.description, message.details, message.req_id, message)


# Statuses of results and outputs repeat (nearly all are SUCCESS/Ok): each distinct encoding is
# converted once and shared, with a standalone copy of its message as ``raw`` (a sub-message
# would keep its whole response alive). Bounded: cleared when full.
_SHARED: dict[bytes, Status] = {}
_SHARED_MAX = 256
_Status = status_pb2.Status


def _shared_status(message: Any, *, _shared: Any = _SHARED) -> Status:
    key = message.SerializeToString()
    found = _shared.get(key)
    if found is None:
        if len(_shared) >= _SHARED_MAX:
            _shared.clear()
        found = _shared[key] = status(_Status.FromString(key))
    return found  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Region(FromRaw):
    """A detected region: where it is (a box, a mask, a polygon, a point, keypoints, or a span of
    the input text), what it shows (concepts, text), and the track it belongs to in a video."""

    id: str
    value: float
    bounding_box: BoundingBox | None
    concepts: tuple[Concept, ...] = ()
    text: str = ""
    mask: Media | None = None
    polygon: tuple[Point, ...] = ()
    point: Point | None = None
    span: Span | None = None
    keypoints: tuple[Point, ...] = ()
    track_id: str = ""
    raw: Any = aside()


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
    for info_field, value in r.region_info.ListFields():
        name, convert = _info[info_field]
        _set(o, name, convert(value))
    for data_field, value in r.data.ListFields():
        entry = _data.get(data_field)
        if entry is not None:
            _set(o, entry[0], entry[1](value))
    o.__class__ = _cls
    return o  # type: ignore[no-any-return]


def _regions(messages: Any, *, _map: Any = map, _convert: Any = _region) -> tuple[Region, ...]:
    return tuple(_map(_convert, messages))


@dataclass(frozen=True, slots=True)
class Frame(FromRaw):
    """One sampled frame of a video: its index, time in milliseconds, concepts and regions."""

    index: int
    time_ms: int
    concepts: tuple[Concept, ...] = ()
    regions: tuple[Region, ...] = ()
    raw: Any = aside()


_new_frame = factory(Frame)


def _frames(messages: Any, *, _new: Any = _new_frame) -> tuple[Frame, ...]:
    out = []
    for f in messages:
        info = f.frame_info
        data = f.data
        out.append(_new(info.index, info.time, _concepts(data.concepts), _regions(data.regions), f))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TimeSegment(FromRaw):
    """A stretch of a video or audio, from ``begin_time`` to ``end_time`` seconds, and what the
    model saw in it."""

    id: str
    begin_time: float
    end_time: float
    concepts: tuple[Concept, ...] = ()
    raw: Any = aside()


_new_segment = factory(TimeSegment)


def _segments(messages: Any) -> tuple[TimeSegment, ...]:
    return tuple(
        [
            _new_segment(
                s.id, s.time_info.begin_time, s.time_info.end_time, _concepts(s.data.concepts), s
            )
            for s in messages
        ]
    )


@dataclass(frozen=True, slots=True)
class Track(FromRaw):
    """An object followed through a video from ``begin_time`` to ``end_time`` seconds: what it
    is, and where it was (its regions)."""

    id: str
    begin_time: float
    end_time: float
    concepts: tuple[Concept, ...] = ()
    regions: tuple[Region, ...] = ()
    raw: Any = aside()


_new_track = factory(Track)


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


@dataclass(frozen=True, slots=True)
class Part(FromRaw):
    """One part of a multi-part output: a named value, as models that return several values do.

    ``value`` is the part's content, the first of these it has: its scalar ``value``, its
    ``text``, its ``image``, ``video`` or ``audio`` (a ``Media``), its ``ndarray``, its own
    ``parts`` (a tuple of ``Part``), its ``concepts``, its ``embeddings``; ``None`` if none.
    So ``{part.id: part.value for part in output.parts}`` reads the named values.
    """

    id: str
    value: Any
    raw: Any = aside()


_new_part = factory(Part)


def _part(p: Any) -> Part:
    present = {data_field.name: value for data_field, value in p.data.ListFields()}
    for name in _PART_VALUE:
        if name in present:
            return _new_part(p.id, FROM_DATA[name](present[name]), p)  # type: ignore[no-any-return]
    return _new_part(p.id, None, p)  # type: ignore[no-any-return]


def _parts(messages: Any) -> tuple[Part, ...]:
    return tuple(map(_part, messages))


def _as_is(value: Any) -> Any:
    return value


#: ``Data`` field: the converter of its value. Kinds of output (``KINDS``) and parts read
#: through it.
FROM_DATA: dict[str, Callable[[Any], Any]] = {
    "concepts": _concepts,
    "regions": _regions,
    "embeddings": _embeddings,
    "text": lambda t: t.raw,
    "frames": _frames,
    "colors": _colors,
    "clusters": _clusters,
    "image": _media,
    "video": _media,
    "audio": _media,
    "heatmaps": _medias,
    "time_segments": _segments,
    "tracks": _tracks,
    "metadata": _struct,
    "int_value": _as_is,
    "float_value": _as_is,
    "bool_value": _as_is,
    "string_value": _as_is,
    "bytes_value": _as_is,
    "struct_value": _struct,
    "parts": _parts,
    "ndarray": _ndarray,
}
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


# --- kinds of output ---------------------------------------------------------------------------


class Kind:
    """One kind of output: the ``ModelOutput`` field ``name`` it fills from the ``Data`` fields
    ``sources`` (``read(data)`` converts it, ``empty()`` is its value when none is there)."""

    __slots__ = ("name", "sources", "read", "empty", "bit")

    def __init__(
        self,
        name: str,
        sources: tuple[str, ...],
        read: Callable[[Any], Any],
        empty: Callable[[], Any],
    ) -> None:
        self.name = name
        self.sources = sources
        self.read = read
        self.empty = empty
        self.bit = 0


def _many(name: str) -> Kind:
    """A repeated ``Data`` field, as a tuple."""
    convert = FROM_DATA[name]
    return Kind(name, (name,), lambda data: convert(getattr(data, name)), tuple)


def _one(name: str) -> Kind:
    """A single ``Data`` message, or ``None``."""
    convert = FROM_DATA[name]
    return Kind(
        name,
        (name,),
        lambda data: convert(getattr(data, name)) if data.HasField(name) else None,
        lambda: None,
    )


def _text(data: Any) -> str:
    # Model-runner LLMs answer in a part with id "return" instead of ``text.raw``.
    text: str = data.text.raw
    if not text:
        for part in data.parts:
            if part.id == "return" and part.data.string_value:
                return part.data.string_value  # type: ignore[no-any-return]
    return text


#: The scalar fields a ``value`` comes from, in field order (the last one set wins).
_VALUES = ("int_value", "float_value", "bytes_value", "bool_value", "string_value")


def _value(data: Any) -> Value | None:
    found: Any = None
    for name in _VALUES:
        scalar = getattr(data, name)
        if scalar:
            found = scalar
    return _struct(data.struct_value) if data.HasField("struct_value") else found


#: Every kind of output, in ``ModelOutput``'s field order.
KINDS: tuple[Kind, ...] = (
    _many("concepts"),
    _many("regions"),
    _many("embeddings"),
    Kind("text", ("text", "parts"), _text, str),
    _many("frames"),
    _many("colors"),
    _many("clusters"),
    _one("image"),
    _one("video"),
    _one("audio"),
    _many("heatmaps"),
    _many("time_segments"),
    _many("tracks"),
    Kind(
        "metadata",
        ("metadata",),
        lambda data: _struct(data.metadata) if data.HasField("metadata") else {},
        dict,
    ),
    Kind("value", (*_VALUES, "struct_value"), _value, lambda: None),
    _many("parts"),
    _one("ndarray"),
)


@dataclass(frozen=True, slots=True)
class ModelOutput(FromRaw):
    """What one model node of the workflow produced for one input.

    ``value``, ``parts`` and ``ndarray`` carry what models that return plain values give: a
    scalar (``Value``), named parts (``Part``), an array (``NDArray``). ``text`` is the text a
    model generated or recognized; for model-runner LLMs, which answer in a part named
    ``return``, it is that part's string when ``text.raw`` is empty.
    """

    id: str
    model_id: str
    model_version_id: str
    model_name: str
    status: Status
    concepts: tuple[Concept, ...] = ()
    regions: tuple[Region, ...] = ()
    embeddings: tuple[Embedding, ...] = ()
    text: str = ""
    frames: tuple[Frame, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    colors: tuple[Color, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    image: Media | None = None
    video: Media | None = None
    audio: Media | None = None
    heatmaps: tuple[Media, ...] = ()
    time_segments: tuple[TimeSegment, ...] = ()
    tracks: tuple[Track, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    cached_tokens: int = 0
    value: Value | None = None
    parts: tuple[Part, ...] = ()
    ndarray: NDArray | None = None
    raw: Any = aside()

    @property
    def ok(self) -> bool:
        """True when this node succeeded."""
        return self.status.code == SUCCESS


def _setters(cls: type, names: Iterable[str]) -> list[Callable[[Any, Any], None]]:
    """The slot setters of ``names``: they store past a frozen dataclass's ``__setattr__``."""
    return [cls.__dict__[name].__set__ for name in names]


_OUTPUT_HEAD = (
    "id",
    "model_id",
    "model_version_id",
    "model_name",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
)
_OUTPUT_HEAD_SET = _setters(ModelOutput, _OUTPUT_HEAD)


def _output_head(
    o: Any, m: Any, *, _set: Any = _OUTPUT_HEAD_SET, _st: Any = _shared_status
) -> None:
    model = m.model
    set_id, set_model, set_version, set_name, set_status, set_prompt, set_done, set_cached = _set
    set_id(o, m.id)
    set_model(o, model.id)
    set_version(o, model.model_version.id)
    set_name(o, model.name)
    set_status(o, _st(m.status))
    set_prompt(o, m.prompt_tokens)
    set_done(o, m.completion_tokens)
    set_cached(o, m.cached_tokens)


# ``Data`` field descriptor to the indexes of the kinds it feeds (``parts`` feeds two: a
# model-runner's ``text`` is in its ``return`` part).
_KINDS_OF: dict[Any, tuple[int, ...]] = {
    descriptor: tuple(i for i, kind in enumerate(KINDS) if descriptor.name in kind.sources)
    for descriptor in resources_pb2.Data.DESCRIPTOR.fields
}
#: The kinds services read most, each converted on its own first read. The others, rare (an
#: output seldom has any of them) are converted together on the first read of any: one look at
#: which the output has (``ListFields``) instead of a first read each, which costs more than
#: giving an absent kind its empty value.
_OWN_GROUP = ("concepts", "regions", "embeddings", "text")


def _kind_group(kind: Kind) -> Group:
    (store,) = _setters(ModelOutput, (kind.name,))
    read = kind.read

    def fill(o: Any, m: Any) -> None:
        store(o, read(m.data))

    return Group((kind.name,), fill)


def _rare_kinds_group(kinds: list[tuple[int, Kind]]) -> Group:
    members = [
        (index, store, kind)
        for (index, kind), store in zip(
            kinds, _setters(ModelOutput, (k.name for _, k in kinds)), strict=True
        )
    ]

    def fill(o: Any, m: Any, *, _kinds_of: Any = _KINDS_OF) -> None:
        data = m.data
        present = {i for data_field, _ in data.ListFields() for i in _kinds_of[data_field]}
        for index, store, kind in members:
            store(o, kind.read(data) if index in present else kind.empty())

    return Group(tuple(kind.name for _, kind in kinds), fill)


_KIND_GROUPS = [_kind_group(kind) for kind in KINDS if kind.name in _OWN_GROUP]
_KIND_GROUPS.append(
    _rare_kinds_group([(i, kind) for i, kind in enumerate(KINDS) if kind.name not in _OWN_GROUP])
)
install(ModelOutput, [Group(_OUTPUT_HEAD, _output_head), *_KIND_GROUPS])
_KIND_BITS = 0
for _kind in KINDS:
    _kind.bit = ModelOutput._GROUPS[_kind.name].bit  # type: ignore[attr-defined]
    _KIND_BITS |= _kind.bit
_KIND_SET = _setters(ModelOutput, (kind.name for kind in KINDS))
_new_output = factory(ModelOutput, {"raw": "m"})
_start_whole_output = factory(
    ModelOutput,
    {
        "id": "m.id",
        "model_id": "m.model.id",
        "model_version_id": "m.model.model_version.id",
        "model_name": "m.model.name",
        "status": "_st(m.status)",
        "prompt_tokens": "m.prompt_tokens",
        "completion_tokens": "m.completion_tokens",
        "cached_tokens": "m.cached_tokens",
        "metadata": "{}",
        "raw": "m",
    },
    finish=False,
    whole=True,
    using={"_st": _shared_status},
)


def _whole_output(
    m: Any,
    *,
    _start: Any = _start_whole_output,
    _kinds: Any = KINDS,
    _kinds_of: Any = _KINDS_OF,
    _set: Any = setattr,
    _cls: type = ModelOutput,
) -> ModelOutput:
    """A ``ModelOutput`` converted whole (for ``load``): its head, and the kinds ``m`` has
    (``ListFields``) over the empty values of the others, set on a twin before it becomes one."""
    o = _start(m)
    data = m.data
    for data_field, _ in data.ListFields():
        for index in _kinds_of[data_field]:
            kind = _kinds[index]
            _set(o, kind.name, kind.read(data))
    o.__class__ = _cls
    return o  # type: ignore[no-any-return]


def _load_output(o: Any, *, _kinds: Any = KINDS, _set: Any = _KIND_SET) -> None:
    """Convert what is left of ``o`` at once: its head, and every kind it has not read, from one
    ``ListFields`` (the kinds it does not have get their empty value without a look)."""
    load_groups(o, ~_KIND_BITS)
    done = loaded(o)
    if done is None or done & _KIND_BITS == _KIND_BITS:
        return
    try:
        data = o.raw.data
        present = {i for data_field, _ in data.ListFields() for i in _KINDS_OF[data_field]}
        for index, kind in enumerate(_kinds):
            if not done & kind.bit:
                _set[index](o, kind.read(data) if index in present else kind.empty())
    except Exception as exc:  # a damaged message: say which field, as a lazy read would
        raise damaged(o, kind.name, exc) from exc
    mark_loaded(o, _KIND_BITS)


@dataclass(frozen=True, slots=True)
class WorkflowResult(FromRaw):
    """The result for one input: one ``ModelOutput`` per workflow node, in node order.

    ``error`` is the ``ClarifaiError`` that failed this input's request when the request itself
    failed (a transport or API error after retries, or an ``InputError`` for a value that was
    never sent), else ``None``; like ``raw`` it is left out of ``==``, ``repr`` and ``to_dict``.
    """

    id: str
    input_id: str
    status: Status
    outputs: tuple[ModelOutput, ...] = ()
    raw: Any = aside()
    error: ClarifaiError | None = aside()

    @property
    def ok(self) -> bool:
        """True when this input succeeded."""
        return self.status.code == SUCCESS

    def output(self, model_id: str) -> ModelOutput:
        """The first output of the node running ``model_id``; ``KeyError`` if there is none."""
        for output in self.outputs:
            if output.model_id == model_id:
                return output
        raise KeyError(model_id)


_RESULT_HEAD = ("id", "input_id", "status")
_RESULT_HEAD_SET = _setters(WorkflowResult, _RESULT_HEAD)
(_SET_OUTPUTS,) = _setters(WorkflowResult, ("outputs",))


def _result_head(
    o: Any, m: Any, *, _set: Any = _RESULT_HEAD_SET, _st: Any = _shared_status
) -> None:
    set_id, set_input, set_status = _set
    set_id(o, m.id)
    set_input(o, m.input.id)
    set_status(o, _st(m.status))


def _result_outputs(o: Any, m: Any, *, _map: Any = map, _new: Any = _new_output) -> None:
    _SET_OUTPUTS(o, tuple(_map(_new, m.outputs)))


install(WorkflowResult, [Group(_RESULT_HEAD, _result_head), Group(("outputs",), _result_outputs)])
_OUTPUTS_BIT = WorkflowResult._GROUPS["outputs"].bit
_new_result = factory(WorkflowResult, {"raw": "m"})


@dataclass(frozen=True, slots=True)
class Usage:
    """What a call used, counted the way Clarifai bills a workflow: one operation per model
    output that succeeded ("as if they were separate calls"), or one per sampled frame for a
    video, with ``by_model`` the operations per ``model_id``; and the token counts the outputs
    report, summed. A failed input costs nothing. An estimate: the API reports no prices, and a
    plan may bill some models differently."""

    operations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    by_model: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: Usage) -> Usage:
        by_model = dict(self.by_model)
        for model_id, operations in other.by_model.items():
            by_model[model_id] = by_model.get(model_id, 0) + operations
        return Usage(
            self.operations + other.operations,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            by_model,
        )


def usage(results: Iterable[Any]) -> Usage:
    """The ``Usage`` of ``WorkflowResult`` messages (read from the messages, converting
    nothing)."""
    operations = prompt = completion = cached = 0
    by_model: dict[str, int] = {}
    for result in results:
        for output in result.outputs:
            prompt += output.prompt_tokens
            completion += output.completion_tokens
            cached += output.cached_tokens
            if output.status.code == SUCCESS:
                spent = len(output.data.frames) or 1
                operations += spent
                model_id = output.model.id
                by_model[model_id] = by_model.get(model_id, 0) + spent
    return Usage(operations, prompt, completion, cached, by_model)


# --- conversion --------------------------------------------------------------------------------


def results(
    messages: Iterable[Any], *, _map: Any = map, _new: Any = _new_result
) -> list[WorkflowResult]:
    """A result per message, in order; each converted when read."""
    return list(_map(_new, messages))


_made_result = factory(WorkflowResult, {"raw": "m", "error": "error"}, params="m, error")


def failed_results(
    input_ids: Iterable[str], raw_status: Any, error: ClarifaiError
) -> list[WorkflowResult]:
    """A result with no outputs, carrying ``raw_status`` and ``error``, per input of a request
    that failed or was never sent."""
    return [
        _made_result(
            resources_pb2.WorkflowResult(status=raw_status, input=resources_pb2.Input(id=input_id)),
            error,
        )
        for input_id in input_ids
    ]


def copied(result: WorkflowResult, input_id: str) -> WorkflowResult:
    """``result`` for another input with the same data (a duplicate sent once): the same
    answer, under ``input_id`` when the duplicate has one of its own."""
    raw = result.raw
    if input_id and input_id != raw.input.id:
        raw = resources_pb2.WorkflowResult()
        raw.CopyFrom(result.raw)
        raw.input.id = input_id
    return _made_result(raw, result.error)  # type: ignore[no-any-return]


def load(obj: Any) -> Any:
    """Convert every field not converted yet of ``obj`` (a ``WorkflowResult``, a
    ``ModelOutput``, or a sequence of them: a prediction's ``results``), at once and without
    garbage collections in between; returns ``obj``. A full read (``to_dict``, the views,
    ``bulk``) does this first: converting a whole response in one pass costs less than
    converting it field by field."""
    with no_collections():
        _load(obj)
    return obj


def _load(obj: Any) -> None:
    if isinstance(obj, WorkflowResult):
        _load_result(obj)
    elif isinstance(obj, ModelOutput):
        _load_output(obj)
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            _load(item)


def _load_result(result: WorkflowResult) -> None:
    done = loaded(result)
    if done is not None and not done & _OUTPUTS_BIT:  # outputs unread: make them whole
        try:
            _SET_OUTPUTS(result, tuple(map(_whole_output, result.raw.outputs)))
        except Exception as exc:  # a damaged message: say which field, as a lazy read would
            raise damaged(result, "outputs", exc) from exc
        mark_loaded(result, _OUTPUTS_BIT)
        load_groups(result)
        return
    load_groups(result)
    for output in result.outputs:
        _load_output(output)


# --- the JSON form -----------------------------------------------------------------------------

# Every result dataclass's fields that ``==`` compares (``raw`` and ``error`` are not data),
# from this module's own list.
_FIELD_NAMES = {
    cls: tuple(f.name for f in fields(cls) if f.compare)
    for cls in map(globals().get, __all__)
    if is_dataclass(cls)
}
_FIELD_NAMES.update(
    {cls._UNCONVERTED: _FIELD_NAMES[cls] for cls in (ModelOutput, WorkflowResult)}  # type: ignore[attr-defined]
)


def as_json(obj: Any) -> Any:
    """The JSON-ready form of a result object: dataclasses to dicts (no ``raw``), tuples to
    lists, bytes to base64 text. Fields not converted yet are converted as they are read (call
    ``load`` first to convert them all at once)."""
    names = _FIELD_NAMES.get(type(obj))
    if names is not None:
        return {name: as_json(getattr(obj, name)) for name in names}
    if isinstance(obj, (tuple, list)):
        return [as_json(item) for item in obj]
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, dict):
        return {key: as_json(value) for key, value in obj.items()}
    return obj
