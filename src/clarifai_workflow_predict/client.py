"""``WorkflowClient``: the synchronous client, a thin shell over the shared core."""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import grpc
from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from . import _tracing
from ._base import PREDICT_DOC, PREDICT_ITER_DOC, PREDICT_REQUEST_DOC, BaseClient, Call
from ._options import UNSET, CallOptions
from ._retry import Deadline, RetryPolicy
from .errors import ClarifaiError, DeadlineExceededError, TransportError, from_rpc_error

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ._channel import SyncMethod
    from ._request import Plan
    from ._response import Fetched, Outcome
    from ._stream import Chunk, Stream
    from .models import WorkflowPrediction, WorkflowResult

__all__ = ["WorkflowClient"]


class _Connection:
    """What a client shares with the clients derived from it: the bound method, the channel (when
    the client opened it) and the chunk pool, closed by the client that made them."""

    def __init__(self, method: SyncMethod, channel: grpc.Channel | None, workers: int) -> None:
        self.method = method
        self.channel = channel
        self.workers = workers
        self.closed = False
        self.pool: ThreadPoolExecutor | None = None
        self.lock = threading.Lock()

    def chunk_pool(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.closed:
                raise RuntimeError("WorkflowClient is closed; make a new one to predict")
            if self.pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self.pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="clarifai-workflow-predict"
                )
            return self.pool

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.channel is not None:
            self.channel.close()

    def after_fork(self) -> None:
        # The parent's pool threads do not exist here, and its lock may have been held by one
        # of them: start both afresh, or a chunked call would wait forever.
        self.pool = None
        self.lock = threading.Lock()


class _InFlight:
    """A stream's RPCs, sent as gRPC futures so that leaving the stream early cancels those in
    flight (a blocking call in a pool thread could only be waited out)."""

    __slots__ = ("_future", "_calls", "_lock", "_cancelled")

    def __init__(self, method: Any) -> None:
        self._future = method.future
        self._calls: set[Any] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def __call__(self, request: service_pb2.PostWorkflowResultsRequest, **kwargs: Any) -> Any:
        call = self._future(request, **kwargs)
        with self._lock:
            self._calls.add(call)
            if self._cancelled:
                call.cancel()
        try:
            return call.result()
        finally:
            with self._lock:
                self._calls.discard(call)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            calls = list(self._calls)
        for call in calls:
            call.cancel()


class WorkflowClient(BaseClient):
    """A synchronous client for Clarifai's Workflow Predict RPC.

    ``WorkflowClient(pat=None, *, user_id=None, app_id=None, target=None, channel=None,
    stub=None, insecure=False, root_certificates=None, timeout=30.0, retry=RetryPolicy(),
    max_concurrency=4, batch_size=32, rate_limit="adaptive", channel_options=(),
    compression=None, interceptors=(), allow_insecure_pat=False)``

    - ``pat``, ``user_id``, ``app_id`` and ``target`` fall back to ``CLARIFAI_PAT``,
      ``CLARIFAI_USER_ID``, ``CLARIFAI_APP_ID`` and ``CLARIFAI_GRPC_BASE``; the target then to
      ``api.clarifai.com:443``. ``user_id``/``app_id`` name the workflow's owner (e.g.
      ``clarifai``/``main`` for Clarifai's public workflows).
    - ``channel=`` (a ``grpc.Channel``) or ``stub=`` (a ``V2Stub``) is used as given and never
      closed. Otherwise the client opens one TLS channel (plaintext with ``insecure=True``,
      which refuses to send a PAT to a non-loopback host unless ``allow_insecure_pat=True``),
      with ``channel_options`` merged over its own and ``interceptors`` around it, and closes
      it in ``close()``. ``compression`` (a ``grpc.Compression``) applies to every request.
    - ``timeout`` is each call's whole deadline in seconds, retries and chunks included.
    - Calls with more than ``batch_size`` inputs are split; at most ``max_concurrency`` requests
      are in flight at once, on a thread pool the client owns.
    - ``rate_limit`` paces requests under the account's limit: ``"adaptive"`` from the first
      throttle on, a number as a ceiling in requests per second, ``None`` not at all.

    Thread-safe: share one client between threads.
    """

    def _connect(self, drop_in: Any) -> _Connection:
        if drop_in is not None:
            return _Connection(drop_in, None, self.max_concurrency)
        from . import _channel

        channel = self._open(grpc)
        return _Connection(_channel.bind(channel, ours=True), channel, self.max_concurrency)

    def predict(
        self,
        workflow_id: str,
        inputs: Any,
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        version_id: str | None = None,
        output_config: resources_pb2.OutputConfig | Mapping[str, Any] | None = None,
        node_runner_selectors: Mapping[str, resources_pb2.RunnerSelector | str] | None = None,
        workflow_state_id: str | None = None,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        retry: RetryPolicy | None = UNSET,
        favor_clarifai_workflows: bool | None = None,
    ) -> WorkflowPrediction:
        plan, deadline, call = self._prepare(workflow_id, inputs, CallOptions.of(locals()))
        results = self._results
        with _tracing.scope(plan.workflow_id, plan.count) as scope:
            if len(plan.requests) == 1:
                fetched = self._send(plan.requests[0], deadline, call, scope.span)
                prediction = results.prediction(plan, [results.outcome(plan, 0, fetched)])
            else:
                prediction = results.prediction(plan, self._chunks(plan, deadline, call, scope))
            scope.req_id = prediction.request_ids[0] if prediction.request_ids else ""
        return prediction

    predict.__doc__ = PREDICT_DOC

    def predict_iter(
        self,
        workflow_id: str,
        inputs: Iterable[Any],
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        version_id: str | None = None,
        output_config: resources_pb2.OutputConfig | Mapping[str, Any] | None = None,
        node_runner_selectors: Mapping[str, resources_pb2.RunnerSelector | str] | None = None,
        workflow_state_id: str | None = None,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        retry: RetryPolicy | None = UNSET,
        favor_clarifai_workflows: bool | None = None,
    ) -> Iterator[WorkflowResult]:
        stream, each, call = self._prepare_stream(workflow_id, inputs, CallOptions.of(locals()))
        return self._iterate(stream, each, call)

    predict_iter.__doc__ = PREDICT_ITER_DOC

    def predict_request(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        retry: RetryPolicy | None = UNSET,
    ) -> service_pb2.PostWorkflowResultsResponse:
        deadline, call = self._prepare_request(request, CallOptions.of(locals()))
        with _tracing.scope(request.workflow_id, len(request.inputs)) as scope:
            outcome = self._send(request, deadline, call, scope.span, raw=True)
            if isinstance(outcome, ClarifaiError):
                raise outcome
            scope.req_id = outcome.status.req_id
        return outcome

    predict_request.__doc__ = PREDICT_REQUEST_DOC

    def close(self) -> None:
        """Stop the chunk pool and close the channel, if this client opened them (a client from
        ``with_options`` leaves them to the one it came from). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns:
            self._conn.close()

    def __enter__(self) -> WorkflowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        deadline: Deadline,
        call: Call,
        span: Any = None,
        *,
        raw: bool = False,
        method: Any = None,
    ) -> Fetched:
        """One request with its retries (through ``method``, else the client's): the response,
        or the error it failed with."""
        attempts = self._attempts(deadline, call, span)
        method, sending = method or self._conn.method, call.sending
        while (pause := attempts.pace()) is not None:
            if pause:  # held back by the rate limiter: ask again after the pause
                time.sleep(pause)
                continue
            try:
                answer = method(request, timeout=attempts.timeout(), **sending)
            except grpc.RpcError as exc:
                answer = from_rpc_error(exc)
            if (delay := attempts.retry_delay(answer)) is None:
                break
            time.sleep(delay)
        return attempts.final(raw=raw)

    def _after_fork(self) -> None:
        self._conn.after_fork()

    def _iterate(
        self, stream: Stream, timeout: float | None, call: Call
    ) -> Iterator[WorkflowResult]:
        pool = self._conn.chunk_pool()
        method = self._conn.method
        flight = _InFlight(method) if callable(getattr(method, "future", None)) else None
        window: deque[tuple[Chunk, Future[Fetched] | None, Deadline, _tracing.Scope | None]]
        window = deque()

        def oldest() -> list[WorkflowResult]:
            chunk, future, deadline, scope = window.popleft()
            if future is None or scope is None:
                return stream.results(chunk, None)
            with scope:
                fetched = _wait(future, deadline)
                scope.req_id = "" if isinstance(fetched, ClarifaiError) else fetched.status.req_id
                return stream.results(chunk, fetched)

        try:
            for chunk in stream:
                deadline = Deadline(timeout)
                request = chunk.request
                future = scope = None
                if request is not None:
                    self._check_open()  # closed while iterating: say so, not "pool shut down"
                    scope = _tracing.scope(request.workflow_id, len(request.inputs))
                    future = pool.submit(
                        self._send, request, deadline, call, scope.span, method=flight
                    )
                window.append((chunk, future, deadline, scope))
                if len(window) >= self.max_concurrency:
                    yield from oldest()
            while window:
                yield from oldest()
        finally:
            if window and flight is not None:
                flight.cancel()
            for _, future, _, scope in window:
                if future is not None and scope is not None:
                    future.cancel()
                    scope.close()

    def _chunks(
        self, plan: Plan, deadline: Deadline, call: Call, scope: _tracing.Scope
    ) -> list[Outcome]:
        # Pool threads only send; this thread converts each response as it arrives, in input
        # order, so converting never holds up sending the next request.
        pool = self._conn.chunk_pool()
        futures = [pool.submit(self._send, r, deadline, call, scope.span) for r in plan.requests]
        outcome = self._results.outcome
        try:
            return [outcome(plan, k, _wait(f, deadline)) for k, f in enumerate(futures)]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


# How long past the deadline to wait for a chunk: its RPC reports DEADLINE_EXCEEDED by itself;
# this bound only matters if the pool itself is stuck.
_GRACE = 1.0


def _wait(future: Future[Fetched], deadline: Deadline) -> Fetched:
    remaining = deadline.remaining()
    try:
        return future.result(timeout=None if remaining is None else max(0.0, remaining) + _GRACE)
    except FutureTimeout:
        future.cancel()
        return DeadlineExceededError(
            f"deadline of {deadline.timeout}s expired before this request ran"
        )
    except CancelledError:  # close() cancelled it while it waited for a pool thread
        return TransportError(
            grpc.StatusCode.CANCELLED, "the client was closed before this request ran"
        )
