"""Test servers: real ``grpc.server`` instances on 127.0.0.1, answering from a handler."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any, Callable

import grpc
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

Request = service_pb2.PostWorkflowResultsRequest
Response = service_pb2.PostWorkflowResultsResponse
Handler = Callable[[Request, grpc.ServicerContext, int], Response]


class Clock:
    """A monotonic clock that moves only when told: simulated time for the unit tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def ok_status(code: int = status_code_pb2.SUCCESS, description: str = "Ok") -> status_pb2.Status:
    return status_pb2.Status(code=code, description=description)


def echo_result(
    inp: resources_pb2.Input, index: int, *, tag: str = ""
) -> resources_pb2.WorkflowResult:
    """A result that names its input, so tests can check alignment."""
    key = inp.id or inp.data.image.url or inp.data.text.raw or str(len(inp.data.image.base64))
    return resources_pb2.WorkflowResult(
        id=f"r-{key}{tag}",
        status=ok_status(),
        input=resources_pb2.Input(id=inp.id or f"auto-{index}", data=inp.data),
        outputs=[
            resources_pb2.Output(
                id=f"o-{key}",
                status=ok_status(),
                model=resources_pb2.Model(
                    id="general-image-recognition",
                    name="general",
                    model_version=resources_pb2.ModelVersion(id="v1"),
                ),
                data=resources_pb2.Data(
                    concepts=[resources_pb2.Concept(id="c1", name=key, value=0.5, app_id="main")]
                ),
            )
        ],
    )


def echo(request: Request, context: Any = None, call: int = 0) -> Response:
    """Answer every input with a successful result that names it."""
    return Response(
        status=ok_status(),
        results=[echo_result(inp, i) for i, inp in enumerate(request.inputs)],
    )


def _handlers(serve: Any) -> list[Any]:
    return [
        grpc.method_handlers_generic_handler(
            "clarifai.api.V2",
            {
                "PostWorkflowResults": grpc.unary_unary_rpc_method_handler(
                    serve, response_serializer=Response.SerializeToString
                )
            },
        )
    ]


class _Recorder:
    """What both fake servers record: each request (parsed and raw), its metadata, and the most
    calls in flight at once."""

    def __init__(self, handler: Any = echo) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.raw_requests: list[bytes] = []
        self.metadata: list[dict[str, str]] = []
        self.in_flight = 0
        self.in_flight_max = 0
        self.arrivals: list[float] = []  # time.monotonic() of each call
        self.target = ""
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _begin(self, raw: bytes, context: Any) -> tuple[Request, int]:
        request = Request.FromString(raw)
        with self._lock:
            call = len(self.requests)
            self.arrivals.append(time.monotonic())
            self.requests.append(request)
            self.raw_requests.append(raw)
            self.metadata.append(dict(context.invocation_metadata()))
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)
        return request, call

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1


class FakeServer(_Recorder):
    """A loopback ``grpc.server`` for PostWorkflowResults answering from ``handler``."""

    def __init__(self, handler: Handler = echo, *, workers: int = 8) -> None:
        super().__init__(handler)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        self._server.add_generic_rpc_handlers(_handlers(self._serve))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def _serve(self, raw: bytes, context: grpc.ServicerContext) -> Response:
        request, call = self._begin(raw, context)
        try:
            return self.handler(request, context, call)
        finally:
            self._end()

    def __enter__(self) -> FakeServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(None).wait()


class AioFakeServer(_Recorder):
    """``FakeServer`` on ``grpc.aio.server``: ``async with AioFakeServer(handler) as server``.

    ``handler(request, context, call)`` may be a coroutine function; it aborts with
    ``await context.abort(...)``.
    """

    async def _serve(self, raw: bytes, context: Any) -> Response:
        import inspect

        request, call = self._begin(raw, context)
        try:
            answer = self.handler(request, context, call)
            return await answer if inspect.isawaitable(answer) else answer
        finally:
            self._end()

    async def __aenter__(self) -> AioFakeServer:
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers(_handlers(self._serve))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop(None)


def read_every_field(obj: Any, order: Callable[[list[str]], list[str]] = list) -> list[Any]:
    """Read every field of ``obj`` and of every result object in it, one attribute at a time
    (each object's fields in the order ``order`` gives), as a caller might; returns the
    ``ClarifaiError`` each field that could not be read raised, in place of its value."""
    import dataclasses

    from clarifai_workflow_predict import ClarifaiError

    failed: list[Any] = []
    if dataclasses.is_dataclass(obj):
        for name in order([f.name for f in dataclasses.fields(obj) if f.name != "raw"]):
            try:
                value = getattr(obj, name)
            except ClarifaiError as error:
                failed.append(error)
                continue
            failed += read_every_field(value, order)
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            failed += read_every_field(item, order)
    return failed


def first_concepts(prediction: Any) -> list[str]:
    """Each result's first concept name: the echo handlers name the input there."""
    return [r.outputs[0].concepts[0].name for r in prediction.results]
