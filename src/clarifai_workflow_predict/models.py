"""The results: frozen, slotted dataclasses converted from ``WorkflowResult`` messages.

Data only: converting is ``_convert``'s job, showing them ``_present``'s. Sequences are tuples.
Objects that hold other results (``Status``, ``Region``, ``Frame``, ``TimeSegment``,
``Track``, ``Part``, ``ModelOutput``, ``WorkflowResult``, ``WorkflowPrediction``) keep the
protobuf they came from as ``.raw`` (excluded from ``==``, ``hash`` and ``repr``) for anything not
converted. Leaf values, which hold plain values only (``Concept``, ``BoundingBox``, ``Point``,
``Span``, ``Color``, ``Cluster``, ``Media``, ``NDArray``, ``Embedding``), have no ``.raw`` of
their own: their parent's holds their message, and leaving it out keeps a prediction to fewer
objects for the garbage collector to walk.

Absent values: empty strings, zeros, empty tuples, ``{}`` for ``metadata``, and ``None`` for a
single message that is not there (``Region.bounding_box``, ``mask``, ``point``, ``span``;
``ModelOutput.image``, ``video``, ``audio``, ``value``, ``ndarray``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Union, overload

from .errors import SUCCESS, PredictionError

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
    "WorkflowPrediction",
    "Value",
]

#: A scalar a model returned (``Data.int_value``, ``float_value``, ``bool_value``,
#: ``string_value``, ``bytes_value``), or a ``struct_value`` as a dict.
Value = Union[int, float, bool, str, bytes, dict]


def _raw() -> Any:
    return field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Status:
    """A Clarifai status: ``code`` (``StatusCode`` number) and ``name`` (its enum name)."""

    code: int
    name: str
    description: str = ""
    details: str = ""
    req_id: str = ""
    raw: Any = _raw()

    @property
    def ok(self) -> bool:
        """True for ``SUCCESS``."""
        return self.code == SUCCESS


@dataclass(frozen=True, slots=True)
class Concept:
    """A predicted concept and its score."""

    id: str
    name: str
    value: float
    app_id: str = ""


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A box in coordinates normalized to the image, 0 to 1 from the top-left corner."""

    top_row: float
    left_col: float
    bottom_row: float
    right_col: float


@dataclass(frozen=True, slots=True)
class Point:
    """A point in coordinates normalized to the image, 0 to 1 from the top-left corner."""

    row: float
    col: float


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the input text: characters ``start`` to ``end`` (end excluded), and the
    text there as the model read it."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Color:
    """A dominant color: ``hex`` as the model measured it (``#rrggbb``), ``name`` the nearest
    W3C color name, ``value`` its share of the picture."""

    hex: str
    name: str
    value: float


@dataclass(frozen=True, slots=True)
class Cluster:
    """A cluster the input falls in: its id, how many inputs it holds, and the input's score."""

    id: str
    count: int
    score: float


@dataclass(frozen=True, slots=True)
class Media:
    """An image, video or audio a model returned (or a heatmap): ``url`` (``""`` when the bytes
    came inline), ``data`` the raw bytes (``b""`` when absent), and width and height from the
    image or video info where present, else 0."""

    url: str
    data: bytes
    width: int = 0
    height: int = 0


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
        import struct

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


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multi-part output: a named value, as models that return several values do.

    ``value`` is the part's content, the first of these it has: its scalar ``value``, its
    ``text``, its ``image``, ``video`` or ``audio`` (a ``Media``), its ``ndarray``, its own
    ``parts`` (a tuple of ``Part``), its ``concepts``, its ``embeddings``; ``None`` if none.
    So ``{part.id: part.value for part in output.parts}`` reads the named values.
    """

    id: str
    value: Any
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class Region:
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
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class Embedding:
    """An embedding vector."""

    vector: tuple[float, ...]
    num_dimensions: int


@dataclass(frozen=True, slots=True)
class Frame:
    """One sampled frame of a video: its index, time in milliseconds, concepts and regions."""

    index: int
    time_ms: int
    concepts: tuple[Concept, ...] = ()
    regions: tuple[Region, ...] = ()
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class TimeSegment:
    """A stretch of a video or audio, from ``begin_time`` to ``end_time`` seconds, and what the
    model saw in it."""

    id: str
    begin_time: float
    end_time: float
    concepts: tuple[Concept, ...] = ()
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class Track:
    """An object followed through a video from ``begin_time`` to ``end_time`` seconds: what it
    is, and where it was (its regions)."""

    id: str
    begin_time: float
    end_time: float
    concepts: tuple[Concept, ...] = ()
    regions: tuple[Region, ...] = ()
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """What one model node of the workflow produced for one input.

    ``value``, ``parts`` and ``ndarray`` carry what models that return plain values give: a
    scalar (``Value``), named parts (``Part``), an array (``NDArray``).
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
    raw: Any = _raw()

    @property
    def ok(self) -> bool:
        """True when this node succeeded."""
        return self.status.code == SUCCESS


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    """The result for one input: one ``ModelOutput`` per workflow node, in node order."""

    id: str
    input_id: str
    status: Status
    outputs: tuple[ModelOutput, ...] = ()
    raw: Any = _raw()

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


@dataclass(frozen=True, slots=True)
class WorkflowPrediction:
    """The results of one ``predict`` call: ``results[i]`` belongs to ``inputs[i]``.

    ``status`` is the response's status (``SUCCESS`` or ``MIXED_STATUS``); a call split into
    several requests gets one summarizing them. ``request_ids`` holds each request's ``req_id``.
    ``workflow_state_id`` is the state a stateful workflow returned (``""`` if none).
    ``raw`` is the tuple of ``PostWorkflowResultsResponse`` messages, one per request sent.
    """

    workflow_id: str
    status: Status
    results: tuple[WorkflowResult, ...]
    request_ids: tuple[str, ...] = ()
    workflow_state_id: str = ""
    raw: Any = _raw()

    @classmethod
    def from_proto(cls, response: Any) -> WorkflowPrediction:
        """The prediction a ``PostWorkflowResultsResponse`` holds, converted as ``predict``
        converts it (for example a response from ``predict_request``)."""
        from ._convert import prediction

        return prediction(response)

    @property
    def ok(self) -> bool:
        """True when every input succeeded."""
        return self.status.code == SUCCESS and all(r.status.code == SUCCESS for r in self.results)

    def raise_for_status(self) -> WorkflowPrediction:
        """Raise ``PredictionError`` naming the failed inputs, if any; else return ``self``."""
        failed = tuple((i, r) for i, r in enumerate(self.results) if r.status.code != SUCCESS)
        if not failed:
            return self
        shown = "; ".join(
            f"inputs[{i}] (id={r.input_id!r}): {r.status.name}"
            + (f" {r.status.description}" if r.status.description else "")
            for i, r in failed[:5]
        )
        more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise PredictionError(
            f"{len(failed)} of {len(self.results)} inputs failed in workflow "
            f"{self.workflow_id!r}: {shown}{more}",
            failed,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything converted (``raw`` left out; bytes as base64 text)."""
        from ._present import as_json

        return as_json(self)  # type: ignore[no-any-return]

    def to_html(self, title: str | None = None) -> str:
        """One self-contained HTML page showing each input with its predictions: the picture with
        regions, masks, polygons and keypoints drawn over it, each model's concepts as score bars,
        colors, generated media, text with its entities marked, time lines, and failures as error
        badges. No scripts or network assets; every API string is escaped."""
        from ._html import render

        return render([self], title)

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[WorkflowResult]:
        return iter(self.results)

    @overload
    def __getitem__(self, index: int) -> WorkflowResult: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[WorkflowResult, ...]: ...
    def __getitem__(self, index: int | slice) -> WorkflowResult | tuple[WorkflowResult, ...]:
        return self.results[index]
