"""``LocalWorkflowServer``: a real gRPC server on 127.0.0.1 that speaks ``PostWorkflowResults``."""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from clarifai_grpc.grpc.api import resources_pb2
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsRequest as _Request
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as _Response
from clarifai_grpc.grpc.api.status import status_code_pb2

from . import _emulate
from ._fixtures import load_workflows

__all__ = ["LocalWorkflowServer"]


class LocalWorkflowServer:
    """A local emulator of Clarifai's Workflow Predict RPC, for tests and demos.

    ``LocalWorkflowServer(fixtures_dir=None, *, pat=None, port=0)`` serves the workflows in
    ``fixtures_dir`` (default: the bundled ``proto_fixtures``) on ``127.0.0.1:port`` (0 picks a
    free port). It answers like the API:

    - with ``pat=`` set, a call without ``authorization: Key <pat>`` gets ``CONN_KEY_INVALID``;
    - an unknown workflow gets ``WORKFLOW_DOES_NOT_EXIST``;
    - a request with no inputs, or more than 32, gets ``PREDICT_INVALID_REQUEST``;
    - an input whose URL host is ``fail.invalid`` fails alone with ``INPUT_DOWNLOAD_FAILED``,
      and the response is then ``MIXED_STATUS``;
    - everything else succeeds, with outputs derived from a hash of each input's content.

    ``requests`` and ``metadata`` record each call (request, and its metadata as a dict).
    ``fail_next(count, grpc_code=..., status_code=...)`` fails the next calls,
    ``fail_randomly(rate, ...)`` a random share of them (``faults_injected`` counts both), and
    ``latency`` adds seconds to every call. Use it as a context manager, or ``start()``/``stop()``;
    ``start()`` after ``stop()`` serves again on the same port.
    """

    def __init__(
        self,
        fixtures_dir: str | os.PathLike[str] | None = None,
        *,
        pat: str | None = None,
        port: int = 0,
    ) -> None:
        self.workflows: dict[str, resources_pb2.Workflow] = load_workflows(fixtures_dir)
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
        server = grpc.server(self._pool)
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "clarifai.api.V2",
                    {
                        "PostWorkflowResults": grpc.unary_unary_rpc_method_handler(
                            self._handle,
                            request_deserializer=_Request.FromString,
                            response_serializer=_Response.SerializeToString,
                        )
                    },
                )
            ]
        )
        port = server.add_insecure_port(f"127.0.0.1:{self._port}")
        if port == 0:
            self._pool.shutdown(wait=False)
            raise RuntimeError(f"LocalWorkflowServer could not bind 127.0.0.1:{self._port}")
        self._port = port
        server.start()
        self._server = server
        return self

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

    def __enter__(self) -> LocalWorkflowServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._server is not None else "stopped"
        counts = f"{len(self.workflows)} workflows, {len(self.requests)} calls"
        return f"<LocalWorkflowServer {where}, {counts}>"

    def _handle(self, request: _Request, context: grpc.ServicerContext) -> _Response:
        metadata = dict(context.invocation_metadata())
        with self._lock:
            self.requests.append(request)
            self.metadata.append(metadata)
            failure = self._failures.popleft() if self._failures else None
            if failure is None and self._failure_rate and self._rng.random() < self._failure_rate:
                failure = self._rng.choice(self._random_failures)
            if failure is not None:
                self.faults_injected += 1
        req_id = f"local-{next(self._calls):06d}"
        if self.latency > 0 and self._stopping.wait(self.latency):
            context.abort(grpc.StatusCode.UNAVAILABLE, "server shutting down")
        if failure is not None:
            kind, code = failure
            if kind == "grpc":
                context.abort(code, f"injected {code.name}")
            return _emulate.failure(code, "Injected failure", "LocalWorkflowServer", req_id)
        if self._key is not None and metadata.get("authorization") != self._key:
            return _emulate.failure(status_code_pb2.CONN_KEY_INVALID, "Invalid API key", "", req_id)
        workflow = self.workflows.get(request.workflow_id)
        if workflow is None:
            return _emulate.failure(
                status_code_pb2.WORKFLOW_DOES_NOT_EXIST,
                "Workflow does not exist",
                f"no workflow {request.workflow_id!r}; this emulator serves "
                + ", ".join(sorted(self.workflows)),
                req_id,
            )
        return _emulate.respond(workflow, request, req_id)
