"""OpenTelemetry spans, when ``opentelemetry-api`` is installed (the ``otel`` extra).

Each predict is a ``clarifai.workflow.predict`` span, with a child span per attempt and an event
per retry or throttle. Nothing is imported until the first call looks for a tracer, and without
the package nothing is recorded: ``scope`` returns one shared scope whose ``span`` is ``None``,
which the rest of the library passes along untouched.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["Scope", "scope", "attempt_span", "end", "event", "tracer"]

SPAN_NAME = "clarifai.workflow.predict"
ATTEMPT_NAME = "clarifai.workflow.attempt"
_RPC = {
    "rpc.system": "grpc",
    "rpc.service": "clarifai.api.V2",
    "rpc.method": "PostWorkflowResults",
}
_UNRESOLVED: Any = object()
_tracer: Any = _UNRESOLVED
_trace: Any = None
_SILENT: Any = ()  # tracer provider types that record nothing: OpenTelemetry's defaults


def tracer() -> Any:
    """The library's tracer, or ``None`` without ``opentelemetry-api``; looked up once."""
    global _tracer, _trace
    if _tracer is _UNRESOLVED:
        try:
            from opentelemetry import trace
        except ImportError:
            _tracer = None
        else:
            global _SILENT
            _trace = trace
            _tracer = trace.get_tracer("clarifai_workflow_predict", __version__)
            _SILENT = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    return _tracer


class Scope:
    """One predict's span (``span`` is ``None`` without OpenTelemetry), ended on leaving the
    ``with`` block, with ``req_id`` and the error the block raised, if any."""

    __slots__ = ("span", "req_id")

    def __init__(self, span: Any) -> None:
        self.span = span
        self.req_id = ""

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        self.close(error)

    def close(self, error: BaseException | None = None) -> None:
        """End the span (a stream left early closes the scopes of the requests it dropped)."""
        if self.span is not None:
            end(self.span, self.req_id, error)


_NO_SCOPE = Scope(None)  # shared when not tracing: nothing to record


def scope(workflow_id: str, inputs: int) -> Scope:
    """The scope of one predict of ``inputs`` inputs through ``workflow_id``; the shared no-op
    scope also while no tracer provider is set, so an installed but unconfigured
    ``opentelemetry-api`` costs no spans."""
    found = tracer()
    if found is None or isinstance(_trace.get_tracer_provider(), _SILENT):
        return _NO_SCOPE
    span = found.start_span(
        SPAN_NAME,
        kind=_trace.SpanKind.CLIENT,
        attributes={**_RPC, "clarifai.workflow_id": workflow_id, "clarifai.inputs": inputs},
    )
    return Scope(span)


def attempt_span(parent: Any, attempt: int) -> Any:
    """A started child span of ``parent`` for attempt number ``attempt``."""
    return _tracer.start_span(
        ATTEMPT_NAME,
        context=_trace.set_span_in_context(parent),
        kind=_trace.SpanKind.CLIENT,
        attributes={**_RPC, "clarifai.attempt": attempt},
    )


def event(span: Any, name: str, **attributes: Any) -> None:
    """Add an event (``retry``, ``throttled``) to ``span``."""
    span.add_event(name, {f"clarifai.{k}": v for k, v in attributes.items()})


def end(span: Any, req_id: str = "", error: BaseException | None = None) -> None:
    """End ``span``, with the request id the API gave and the error it failed with, if any."""
    if req_id:
        span.set_attribute("clarifai.req_id", req_id)
    if error is not None:
        span.record_exception(error)
        span.set_status(_trace.Status(_trace.StatusCode.ERROR, str(error)))
    span.end()
