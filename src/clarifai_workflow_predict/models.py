"""The results: frozen, slotted dataclasses converted from ``WorkflowResult`` messages.

Sequences are tuples. Every object keeps the protobuf it came from as ``.raw`` (excluded from
``==``, ``hash`` and ``repr``) for anything not converted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterator, TypeVar, overload

from .errors import SUCCESS, PredictionError

__all__ = [
    "Status",
    "Concept",
    "BoundingBox",
    "Region",
    "Embedding",
    "Frame",
    "ModelOutput",
    "WorkflowResult",
    "WorkflowPrediction",
]


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
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A box in coordinates normalized to the image, 0 to 1 from the top-left corner."""

    top_row: float
    left_col: float
    bottom_row: float
    right_col: float
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class Region:
    """A detected region: its box (``None`` when the region has none), concepts and text."""

    id: str
    value: float
    bounding_box: BoundingBox | None
    concepts: tuple[Concept, ...] = ()
    text: str = ""
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class Embedding:
    """An embedding vector."""

    vector: tuple[float, ...]
    num_dimensions: int
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class Frame:
    """One sampled frame of a video: its index, time in milliseconds, concepts and regions."""

    index: int
    time_ms: int
    concepts: tuple[Concept, ...] = ()
    regions: tuple[Region, ...] = ()
    raw: Any = _raw()


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """What one model node of the workflow produced for one input."""

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
    ``raw`` is the tuple of ``PostWorkflowResultsResponse`` messages, one per request sent.
    """

    workflow_id: str
    status: Status
    results: tuple[WorkflowResult, ...]
    request_ids: tuple[str, ...] = ()
    raw: Any = _raw()

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

    @classmethod
    def from_proto(cls, response: Any) -> WorkflowPrediction:
        """The prediction a ``PostWorkflowResultsResponse`` holds, converted as ``predict``
        converts it (for example a response from ``predict_request``)."""
        from ._convert import prediction

        return prediction(response)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything converted (``raw`` left out)."""
        return to_dict(self)

    def to_html(self, title: str | None = None) -> str:
        """One self-contained HTML page showing each input with its predictions: the picture with
        regions drawn over it, each model's concepts as score bars, text and embeddings, and
        failures as error badges. No scripts or network assets; every API string is escaped."""
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


_T = TypeVar("_T")


def to_dict(obj: Any) -> Any:
    """JSON-ready form of a result object (dataclasses to dicts, tuples to lists, no ``raw``)."""
    names = _FIELD_NAMES.get(type(obj))
    if names is not None:
        return {name: to_dict(getattr(obj, name)) for name in names}
    if isinstance(obj, tuple):
        return [to_dict(item) for item in obj]
    return obj


_MODELS = (
    Status,
    Concept,
    BoundingBox,
    Region,
    Embedding,
    Frame,
    ModelOutput,
    WorkflowResult,
    WorkflowPrediction,
)
_FIELD_NAMES = {cls: tuple(f.name for f in fields(cls) if f.name != "raw") for cls in _MODELS}


def setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """The slot setters of a slotted dataclass, in field order (``raw`` last).

    Calling them on ``object.__new__(cls)`` builds an instance without ``__init__``: for
    converters that build thousands of objects per response.
    """
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


def factory(cls: type[_T]) -> Callable[..., _T]:
    """A constructor taking every field positionally, ``raw`` last, that skips ``__init__``.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; calling the
    slot setters directly builds the same object in about half the time.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    args = ", ".join(names)
    calls = "; ".join(f"_s{i}(o, {name})" for i, name in enumerate(names))
    defaults = ", ".join(f"_s{i}=_set[{i}]" for i in range(len(names)))
    source = (
        f"def make({args}, *, _new=_new, _cls=_cls, {defaults}):\n"
        f"    o = _new(_cls); {calls}; return o\n"
    )
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "_cls": cls,
        "_set": setters(cls),
    }
    exec(source, namespace)  # noqa: S102 - source built above from field names only
    make: Callable[..., _T] = namespace["make"]
    make.__qualname__ = f"{cls.__name__}.<fast constructor>"
    return make
