"""``WorkflowPrediction``: the results of one call, and what it offers on top of them: its
status, its ``usage``, ``to_dict`` and ``to_html``. Each result converts its own fields when they
are read (``models``); a prediction is made whole, from the results of each request sent.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterator, overload

from ._lazy import FromRaw, factory
from .errors import SUCCESS, PredictionError
from .models import Status, Usage, WorkflowResult, as_json, aside, load, results, status, usage

__all__ = ["WorkflowPrediction", "assemble"]


@dataclass(frozen=True, slots=True)
class WorkflowPrediction(FromRaw):
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
    raw: Any = aside()

    @classmethod
    def from_proto(cls, response: Any) -> WorkflowPrediction:
        """The prediction a ``PostWorkflowResultsResponse`` holds, converted as ``predict``
        converts it (for example a response from ``predict_request``)."""
        return assemble(
            response.workflow.id, response.status, tuple(results(response.results)), (response,)
        )

    @property
    def ok(self) -> bool:
        """True when every input succeeded."""
        return self.status.code == SUCCESS and all(r.status.code == SUCCESS for r in self.results)

    @property
    def usage(self) -> Usage:
        """What this call used: operations and tokens, counted from the responses (see
        ``Usage``; an estimate)."""
        return usage(result for response in self.raw or () for result in response.results)

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
        """A JSON-ready dict of every field (``raw`` left out; bytes as base64 text), and the
        ``usage``."""
        load(self.results)
        data = {name: as_json(getattr(self, name)) for name in _FIELDS}
        data["usage"] = as_json(self.usage)
        return data

    def to_html(self, title: str | None = None) -> str:
        """One self-contained HTML page showing each input with its predictions: the picture with
        regions, masks, polygons and keypoints drawn over it, each model's concepts as score bars,
        colors, generated media, text with its entities marked, time lines, and failures as error
        badges. No scripts or network assets; every API string is escaped (``views.html``)."""
        from .views import html

        return html(self, title)

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


_FIELDS = tuple(f.name for f in fields(WorkflowPrediction) if f.compare)
_new_prediction = factory(WorkflowPrediction)


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
