"""``LocalWorkflowServer``: a real gRPC server on 127.0.0.1 that speaks ``PostWorkflowResults``
(and ``GetWorkflow``, ``ListWorkflows``, ``GetModel`` and ``GetModelType``, enough for
Clarifai's own SDK)."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import grpc
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsRequest as _Request
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as _Response
from clarifai_grpc.grpc.api.status import status_code_pb2

from .._channel import MAX_SEND_BYTES
from .._ratelimit import TokenBucket
from . import _emulate
from ._fixtures import load_workflows

__all__ = ["LocalWorkflowServer"]

#: Largest message the emulator takes, as the API: a request of its size limit, plus framing.
MAX_MESSAGE_BYTES = MAX_SEND_BYTES
_SERVER_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", 2 * MAX_MESSAGE_BYTES),
    # One emulator per port: with SO_REUSEPORT a second one would share it and calls would
    # alternate between them.
    ("grpc.so_reuseport", 0),
)


class LocalWorkflowServer:
    """A local emulator of Clarifai's Workflow Predict RPC, for tests and demos.

    ``LocalWorkflowServer(fixtures_dir=None, *, pat=None, port=0)`` serves the workflows in
    ``fixtures_dir`` (default: the bundled ``proto_fixtures``) on ``127.0.0.1:port`` (0 picks a
    free port). It answers like the API:

    - with ``pat=`` set, a call without ``authorization: Key <pat>`` gets ``CONN_KEY_INVALID``;
    - an unknown workflow gets ``CONN_DOES_NOT_EXIST`` ("Resource does not exist");
    - a request with no inputs, or more than 32, gets ``PREDICT_INVALID_REQUEST``;
    - an input of a kind the workflow's first model does not take (an image sent to ``Text``)
      gets ``INPUT_UNSUPPORTED_FORMAT`` for the whole request, with no results;
    - an input fails alone, on its result and on each of its outputs: ``INPUT_DOWNLOAD_FAILED``
      when its URL host is ``fail.invalid`` (a 404 in ``details``), ``INPUT_INVALID_URL`` for a
      URL that is not http(s), ``INPUT_INVALID_ARGUMENT`` for no data at all; the response is
      then ``MIXED_STATUS``, or ``FAILURE`` when every input failed;
    - everything else succeeds, with outputs derived from a hash of each input's content, and
      the fields the API's outputs carry (times, the model's owner, version and status).

    ``requests`` and ``metadata`` record each ``PostWorkflowResults`` call (request, and its
    metadata as a dict); ``record=False`` keeps neither, for an emulator that runs for long
    (``serve``), which would otherwise hold every request it was sent.
    ``fail_next(count, grpc_code=..., status_code=...)`` fails the next calls,
    ``fail_randomly(rate, ...)`` a random share of them (``faults_injected`` counts both), and
    ``latency`` adds seconds to every call.

    Production behaviours: ``rate_limit=R`` allows R requests per second per PAT (a token bucket
    with a burst of one second's worth, checked before anything else a call does); past it a
    call gets an in-band ``CONN_THROTTLED`` like the API's, counted in ``throttled``.
    ``cold_start(seconds, workflow_id=None)`` makes that workflow (or every workflow) answer
    ``MODEL_DEPLOYING`` until ``seconds`` have passed. Messages up to 128 MiB are accepted.

    Use it as a context manager, or ``start()``/``stop()``; ``start()`` after ``stop()`` serves
    again on the same port. A port in use is an error.
    """

    def __init__(
        self,
        fixtures_dir: str | os.PathLike[str] | None = None,
        *,
        pat: str | None = None,
        port: int = 0,
        rate_limit: float | None = None,
        record: bool = True,
    ) -> None:
        if rate_limit is not None and (
            isinstance(rate_limit, bool)
            or not isinstance(rate_limit, (int, float))
            or rate_limit <= 0
        ):
            raise ValueError(
                f"rate_limit must be a number of requests per second > 0, got {rate_limit!r}"
            )
        self.workflows: dict[str, resources_pb2.Workflow] = load_workflows(fixtures_dir)
        self.rate_limit = rate_limit
        #: How many calls were answered ``CONN_THROTTLED`` (they are in ``requests`` too).
        self.throttled = 0
        self._buckets: dict[str, TokenBucket] = {}
        self._cold: dict[str | None, float] = {}
        self.record = record
        self.requests: list[_Request] = []
        self.metadata: list[dict[str, str]] = []
        self.latency: float = 0.0
        self._key = f"Key {pat}" if pat else None
        self._port = port
        self._failures: deque[tuple[str, Any]] = deque()
        self._random_failures: tuple[tuple[str, Any], ...] = ()
        self._failure_rate = 0.0
        self._rng = random.Random()
        #: How many calls failed on purpose (``fail_next`` and ``fail_randomly``).
        self.faults_injected = 0
        self._lock = threading.Lock()
        self._calls = itertools.count(1)
        self._stopping = threading.Event()
        self._server: grpc.Server | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def target(self) -> str:
        """``"127.0.0.1:PORT"`` of the running server."""
        if self._server is None:
            raise RuntimeError("LocalWorkflowServer is not running; call start() first")
        return f"127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        return self._port

    def start(self) -> LocalWorkflowServer:
        """Bind and serve. Returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="local-workflow-server")
        server = grpc.server(self._pool, options=_SERVER_OPTIONS)
        server.add_generic_rpc_handlers([self._handlers()])
        try:
            port = server.add_insecure_port(f"127.0.0.1:{self._port}")
        except RuntimeError:  # newer gRPC raises where older returned 0
            port = 0
        if port == 0:
            self._pool.shutdown(wait=False)
            raise OSError(
                f"LocalWorkflowServer cannot listen on 127.0.0.1:{self._port}: the port is in "
                "use (or not allowed); pick another, or 0 for any free port"
            )
        self._port = port
        server.start()
        self._server = server
        return self

    def _handlers(self) -> grpc.GenericRpcHandler:
        def unary(handle: Callable[..., Any], request: Any, response: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                handle,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )

        return grpc.method_handlers_generic_handler(
            "clarifai.api.V2",
            {
                "PostWorkflowResults": unary(self._handle, _Request, _Response),
                "GetWorkflow": unary(
                    self._get_workflow,
                    service_pb2.GetWorkflowRequest,
                    service_pb2.SingleWorkflowResponse,
                ),
                "ListWorkflows": unary(
                    self._list_workflows,
                    service_pb2.ListWorkflowsRequest,
                    service_pb2.MultiWorkflowResponse,
                ),
                "GetModel": unary(
                    self._get_model,
                    service_pb2.GetModelRequest,
                    service_pb2.SingleModelResponse,
                ),
                "GetModelType": unary(
                    self._get_model_type,
                    service_pb2.GetModelTypeRequest,
                    service_pb2.SingleModelTypeResponse,
                ),
            },
        )

    def stop(self, grace: float | None = None) -> None:
        """Stop serving; calls in flight are cancelled (after ``grace`` seconds, if given)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes calls sleeping out their latency
        server.stop(grace).wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def fail_next(
        self,
        count: int = 1,
        *,
        grpc_code: grpc.StatusCode | None = None,
        status_code: int | None = None,
    ) -> None:
        """Fail the next ``count`` calls: with ``grpc_code`` as an RPC error, or with the in-band
        ``status_code``; ``grpc.StatusCode.UNAVAILABLE`` when neither is given."""
        if grpc_code is not None and status_code is not None:
            raise ValueError("pass grpc_code or status_code, not both")
        failure = (
            ("status", status_code)
            if status_code is not None
            else ("grpc", grpc_code or grpc.StatusCode.UNAVAILABLE)
        )
        with self._lock:
            self._failures.extend([failure] * count)

    def fail_randomly(
        self,
        rate: float,
        *,
        grpc_codes: tuple[grpc.StatusCode, ...] = (grpc.StatusCode.UNAVAILABLE,),
        status_codes: tuple[int, ...] = (),
        seed: int | None = None,
    ) -> None:
        """Fail each call with probability ``rate`` (0 turns it off), with one of ``grpc_codes``
        (as RPC errors) or ``status_codes`` (in-band), chosen uniformly; ``seed`` repeats a run."""
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1], got {rate!r}")
        choices = tuple(("grpc", c) for c in grpc_codes) + tuple(
            ("status", c) for c in status_codes
        )
        if rate and not choices:
            raise ValueError("give at least one grpc_code or status_code to fail with")
        with self._lock:
            self._failure_rate = rate
            self._random_failures = choices
            self._rng = random.Random(seed)

    def cold_start(self, seconds: float, workflow_id: str | None = None) -> None:
        """Answer ``MODEL_DEPLOYING`` for ``workflow_id`` (every workflow if ``None``) until
        ``seconds`` from now, as a model scaled to zero does while it comes up."""
        if not (_is_number(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        with self._lock:
            self._cold[workflow_id] = time.monotonic() + seconds

    def __enter__(self) -> LocalWorkflowServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._server is not None else "stopped"
        counts = f"{len(self.workflows)} workflows"
        if self.record:
            counts += f", {len(self.requests)} calls"
        return f"<LocalWorkflowServer {where}, {counts}>"

    def _admit(self, metadata: dict[str, str]) -> bool:
        """Whether the call's PAT has a request left this second (``rate_limit``)."""
        if self.rate_limit is None:
            return True
        key = metadata.get("authorization", "")
        with self._lock:
            now = time.monotonic()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate_limit, self.rate_limit, now)
            if bucket.take(now):
                return True
            self.throttled += 1
            return False

    def _throttle_status(self, req_id: str) -> Any:
        return _emulate.status(
            status_code_pb2.CONN_THROTTLED,
            "Making too many requests",
            f"exceeded limit of {self.rate_limit:g} requests per second",
            req_id,
        )

    def _handle(self, request: _Request, context: grpc.ServicerContext) -> _Response:
        metadata = dict(context.invocation_metadata())
        admitted = self._admit(metadata)
        with self._lock:
            if self.record:
                self.requests.append(request)
                self.metadata.append(metadata)
            failure = None
            if admitted:
                failure = self._failures.popleft() if self._failures else None
                if (
                    failure is None
                    and self._failure_rate
                    and self._rng.random() < self._failure_rate
                ):
                    failure = self._rng.choice(self._random_failures)
                if failure is not None:
                    self.faults_injected += 1
        req_id = f"local-{next(self._calls):06d}"
        if not admitted:
            return _Response(status=self._throttle_status(req_id))
        self._wait_latency(context)
        if failure is not None:
            kind, code = failure
            if kind == "grpc":
                context.abort(code, f"injected {code.name}")
            return _emulate.failure(code, "Injected failure", "LocalWorkflowServer", req_id)
        refused = self._refuse(metadata, request.workflow_id, req_id)
        if refused is not None:
            return _Response(status=refused)
        workflow = self.workflows[request.workflow_id]
        ready_in = self._cold_left(request.workflow_id)
        if ready_in > 0:
            return _emulate.failure(
                status_code_pb2.MODEL_DEPLOYING,
                "Model is deploying",
                f"a model of workflow {workflow.id!r} is starting; ready in {ready_in:.1f}s",
                req_id,
            )
        return _emulate.respond(workflow, request, req_id)

    def _wait_latency(self, context: grpc.ServicerContext) -> None:
        if self.latency > 0 and self._stopping.wait(self.latency):
            context.abort(grpc.StatusCode.UNAVAILABLE, "server shutting down")

    def _refuse(self, metadata: dict[str, str], workflow_id: str | None, req_id: str) -> Any:
        """The failing status for a wrong PAT or, given a ``workflow_id``, an unknown
        workflow; ``None`` when the call may go on."""
        if self._key is not None and metadata.get("authorization") != self._key:
            return _emulate.status(
                status_code_pb2.CONN_KEY_INVALID,
                "Invalid API key or Invalid API key/application pair",
                "",
                req_id,
            )
        if workflow_id is not None and workflow_id not in self.workflows:
            # What the API answers for a missing workflow (Clarifai's Node SDK tests), rather
            # than WORKFLOW_DOES_NOT_EXIST.
            return _emulate.status(
                status_code_pb2.CONN_DOES_NOT_EXIST,
                "Resource does not exist",
                f"no workflow {workflow_id!r}; this emulator serves "
                + ", ".join(sorted(self.workflows)),
                req_id,
            )
        return None

    def _cold_left(self, workflow_id: str) -> float:
        with self._lock:
            until = max(self._cold.get(workflow_id, 0.0), self._cold.get(None, 0.0))
        return until - time.monotonic()

    def _side_call(self, context: grpc.ServicerContext, workflow_id: str | None) -> Any:
        """What the other RPCs share with ``PostWorkflowResults``: the rate limit, latency and
        PAT; returns the failing status, or ``None``."""
        metadata = dict(context.invocation_metadata())
        req_id = f"local-{next(self._calls):06d}"
        if not self._admit(metadata):
            return self._throttle_status(req_id)
        self._wait_latency(context)
        return self._refuse(metadata, workflow_id, req_id)

    def _get_workflow(self, request: Any, context: grpc.ServicerContext) -> Any:
        failed = self._side_call(context, request.workflow_id)
        if failed is not None:
            return service_pb2.SingleWorkflowResponse(status=failed)
        return service_pb2.SingleWorkflowResponse(
            status=_emulate.status(status_code_pb2.SUCCESS, "Ok"),
            workflow=self.workflows[request.workflow_id],
        )

    def _list_workflows(self, request: Any, context: grpc.ServicerContext) -> Any:
        failed = self._side_call(context, None)
        if failed is not None:
            return service_pb2.MultiWorkflowResponse(status=failed)
        return service_pb2.MultiWorkflowResponse(
            status=_emulate.status(status_code_pb2.SUCCESS, "Ok"),
            workflows=[self.workflows[name] for name in sorted(self.workflows)],
        )

    def _get_model(self, request: Any, context: grpc.ServicerContext) -> Any:
        failed = self._side_call(context, None)
        if failed is not None:
            return service_pb2.SingleModelResponse(status=failed)
        for workflow in self.workflows.values():
            for node in workflow.nodes:
                if node.model.id == request.model_id:
                    return service_pb2.SingleModelResponse(
                        status=_emulate.status(status_code_pb2.SUCCESS, "Ok"), model=node.model
                    )
        return service_pb2.SingleModelResponse(
            status=_emulate.status(
                status_code_pb2.MODEL_DOES_NOT_EXIST,
                "Model does not exist",
                f"no model {request.model_id!r} in this emulator's workflows",
            )
        )

    def _get_model_type(self, request: Any, context: grpc.ServicerContext) -> Any:
        failed = self._side_call(context, None)
        if failed is not None:
            return service_pb2.SingleModelTypeResponse(status=failed)
        model_type = _emulate.model_type(request.model_type_id)
        if model_type is None:
            return service_pb2.SingleModelTypeResponse(
                status=_emulate.status(
                    status_code_pb2.MODEL_DOES_NOT_EXIST,
                    "Model type does not exist",
                    f"no model type {request.model_type_id!r} in this emulator",
                )
            )
        return service_pb2.SingleModelTypeResponse(
            status=_emulate.status(status_code_pb2.SUCCESS, "Ok"), model_type=model_type
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
