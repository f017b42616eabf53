"""``WorkflowClient``: the synchronous client, a thin shell over the shared core."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterable, Iterator, Mapping, Sequence

import grpc
from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from . import _tracing
from ._base import BaseClient, Call
from ._options import NOT_GIVEN, CallOptions, NotGiven
from ._retry import Deadline, RetryPolicy
from .errors import ClarifaiError, DeadlineExceededError, TransportError, from_rpc_error

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ._bulk import BulkSummary, Job
    from ._channel import SyncMethod
    from ._request import Plan
    from ._response import ChunkOutcome, RequestOutcome
    from ._stream import Chunk, Stream
    from .models import WorkflowResult
    from .prediction import WorkflowPrediction

__all__ = ["WorkflowClient"]

# How long a wait for a request in flight goes before it looks at the job's stop flag again.
_STOP_CHECK = 0.1


class _Connection:
    """What a client shares with the clients derived from it: the bound method, the channel (when
    the client opened it), the chunk pool, and the event that wakes its sleepers when it closes;
    closed by the client that made them."""

    def __init__(self, method: SyncMethod, channel: grpc.Channel | None, workers: int) -> None:
        self.method = method
        self.channel = channel
        self.workers = workers
        self.closed = False
        self.closing = threading.Event()
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
        self.closing.set()  # wakes requests sleeping out a backoff or the rate limit
        if self.channel is not None:
            self.channel.close()  # ends the calls in flight, so the pool's threads are free
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def after_fork(self) -> None:
        # The parent's pool threads do not exist here, and its lock may have been held by one
        # of them: start both afresh, or a chunked call would wait forever.
        self.pool = None
        self.lock = threading.Lock()


class _InFlight:
    """RPCs sent as gRPC futures from pool threads, so that leaving a stream early, or a stop,
    cancels those in flight (a blocking call in a pool thread could only be waited out)."""

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
    - ``rate_limit`` paces requests under the account's limit: ``"adaptive"`` (a gentle start,
      then as the API's throttling allows), a number as a ceiling in requests per second,
      ``None`` not at all.

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
        retry: RetryPolicy | None | NotGiven = NOT_GIVEN,
        favor_clarifai_workflows: bool | None = None,
        dedupe: bool = False,
    ) -> WorkflowPrediction:
        """Run ``inputs`` through a workflow; ``results[i]`` belongs to ``inputs[i]``.

        ``inputs`` is one input or a sequence: ``Input``, ``resources_pb2.Input``, an
        ``http(s)://`` URL (an image), ``bytes`` (an image) or an ``os.PathLike`` (a file).
        ``user_id``/``app_id`` override the client's owner ids for this call; ``version_id``,
        ``output_config`` (an ``OutputConfig`` or a dict of its fields),
        ``node_runner_selectors``, ``workflow_state_id`` and ``favor_clarifai_workflows`` go
        into the request; ``metadata`` adds call metadata; ``retry`` replaces the client's
        ``RetryPolicy`` for this call (``None``: no retries). ``timeout`` (default: the
        client's) is one deadline for the whole call, retries and chunks included. With
        ``dedupe=True``, inputs with the same data and settings (ids aside) are sent once and
        each later one gets a copy of the first's result under its own id (``usage`` counts
        what was sent); off by default, as a generative model may answer alike prompts
        differently.

        Raises ``InputError`` before sending anything when the arguments are bad, and an
        ``ApiError`` or ``TransportError`` subclass when the call fails. A failed input shows in
        its own ``result.status`` instead; so do the inputs of a failed request when others
        succeeded.
        """
        options = CallOptions(
            user_id,
            app_id,
            version_id,
            output_config,
            node_runner_selectors,
            workflow_state_id,
            timeout,
            metadata,
            retry,
            favor_clarifai_workflows,
            dedupe,
        )
        plan, deadline, call = self._prepare(workflow_id, inputs, options)
        results = self._results
        with _tracing.scope(plan.workflow_id, plan.count) as scope:
            if len(plan.requests) == 1:
                fetched = self._send(plan.requests[0], deadline, call, scope.span)
                prediction = results.prediction(plan, [results.outcome(plan, 0, fetched)])
            else:
                prediction = results.prediction(plan, self._chunks(plan, deadline, call, scope))
            scope.req_id = prediction.request_ids[0] if prediction.request_ids else ""
        return prediction

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
        retry: RetryPolicy | None | NotGiven = NOT_GIVEN,
        favor_clarifai_workflows: bool | None = None,
        dedupe: bool = False,
    ) -> Iterator[WorkflowResult]:
        """Stream results for an iterable of inputs of any length, in input order.

        Inputs are read lazily, ``batch_size`` at a time, with at most ``max_concurrency``
        requests in flight, so memory stays bounded for millions of inputs. Takes
        ``predict``'s keyword arguments; ``timeout`` bounds each request (with its retries)
        rather than the whole stream; without one, each attempt gets the client's ``timeout``
        and a request may keep retrying a model that is deploying for up to 10 minutes, so a
        stream rides out a cold start. A failed request, or a value that is not an input
        (status ``INPUT_INVALID_ARGUMENT``), comes back as failed results, with the error in
        ``result.error``; the stream raises only for arguments that are wrong from the start,
        and when a request fails for authentication, permission or not-found reasons, which
        every later request would share. ``dedupe=True`` sends an input whose duplicate is in
        one of the requests in flight once. Stopping the iteration early cancels the requests
        in flight; closing the client ends it with ``RuntimeError``.
        """
        options = CallOptions(
            user_id,
            app_id,
            version_id,
            output_config,
            node_runner_selectors,
            workflow_state_id,
            timeout,
            metadata,
            retry,
            favor_clarifai_workflows,
            dedupe,
        )
        stream, each, call = self._prepare_stream(workflow_id, inputs, options)
        return self._iterate(stream, each, call)

    def bulk(
        self,
        workflow_id: str,
        inputs: Any,
        out: Any,
        *,
        retry_failed: bool = False,
        overwrite: bool = False,
        dedupe: bool = False,
        max_operations: int | None = None,
        progress: Callable[[BulkSummary], Any] | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
        version_id: str | None = None,
        output_config: resources_pb2.OutputConfig | Mapping[str, Any] | None = None,
        sample_ms: int | None = None,
    ) -> BulkSummary:
        """Predict every input of a job into ``out``, one JSON line per input, resumably.

        ``inputs`` is a path to a text file (one URL or path per line) or a CSV file (a
        ``url`` column and an optional ``id`` column), or a sequence of such sources as
        strings. ``out`` is the JSON-lines file: each line has ``index``, ``id``, ``source``,
        ``job``, ``status`` and ``outputs``. When ``out`` holds lines already, the run resumes:
        it first checks that they belong to this job (the same input at each ``index``; the
        same workflow, owner ids, version, output settings and ``sample_ms``) and raises
        ``InputError`` naming the first difference, the file untouched, if not
        (``overwrite=True`` starts the file afresh); then it runs the inputs that have no line
        yet, and, with ``retry_failed``, those whose line shows a failure. ``progress`` is
        called with a ``BulkSummary`` after each written batch of lines. ``dedupe=True`` sends
        each distinct input of the run once, and writes a copy of its line, under their own
        index, id and source, for the others. ``max_operations`` is this run's budget: the run
        stops before a request would take its operations (estimated from the workflow's nodes
        and reserved while in flight, settled from each answer) past it, and
        ``budget_reached`` says so; a rerun resumes.

        When 3 requests in a row fail at the transport level (nothing answers, or requests
        time out or break), the run stops with that ``TransportError`` and writes nothing for
        them, so a rerun runs them. Ctrl-C stops the run at its next safe point: the lines
        answered so far are written, the requests in flight cancelled, and
        ``KeyboardInterrupt`` raised there; the file stays valid to resume. Returns the
        ``BulkSummary`` of the run.
        """
        from ._bulk import interrupts

        options = CallOptions(user_id, app_id, version_id, output_config, dedupe=dedupe)
        job, stream, each, call = self._prepare_bulk(
            workflow_id,
            inputs,
            out,
            retry_failed=retry_failed,
            overwrite=overwrite,
            progress=progress,
            options=options,
            sample_ms=sample_ms,
            max_operations=max_operations,
        )
        if max_operations is not None:
            job.per_input = self._cost_per_input(job, call)
        with interrupts() as stop:
            results = self._iterate(stream, each, call, stop)
            try:
                for result in results:
                    job.add(result)
                    if stop.is_set():
                        raise KeyboardInterrupt
                job.finish()
            except BaseException:
                job.commit()  # what was answered, whatever stopped the run
                raise
            finally:
                results.close()  # cancels the requests in flight
                job.close()
        return job.summary()

    def _cost_per_input(self, job: Job, call: Call) -> int | None:
        """The operations one input of ``job`` costs (the workflow's nodes), or ``None`` when
        the workflow cannot be read."""
        from . import _bulk, _channel

        method = _channel.bind_get_workflow(self._conn.channel or self._dropped_in)
        if method is None:
            return None
        try:
            answer = method(
                _bulk.workflow_request(job.settings), timeout=self.timeout, **call.sending
            )
        except grpc.RpcError:
            return None
        return _bulk.nodes(answer)

    def predict_request(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        retry: RetryPolicy | None | NotGiven = NOT_GIVEN,
    ) -> service_pb2.PostWorkflowResultsResponse:
        """Send a request you built, adding auth, the deadline and retries.

        Returns the response unchanged whatever its in-band status; raises only when the RPC
        itself fails (``TransportError``, or the auth errors for gRPC UNAUTHENTICATED /
        PERMISSION_DENIED). No chunking, no conversion. ``retry`` replaces the client's policy
        for this call.
        """
        options = CallOptions(timeout=timeout, metadata=metadata, retry=retry)
        deadline, call = self._prepare_request(request, options)
        with _tracing.scope(request.workflow_id, len(request.inputs)) as scope:
            outcome = self._send(request, deadline, call, scope.span, raw=True)
            if isinstance(outcome, ClarifaiError):
                raise outcome
            scope.req_id = outcome.status.req_id
        return outcome

    def close(self) -> None:
        """Stop the chunk pool and close the channel, if this client opened them (a client from
        ``with_options`` leaves them to the one it came from). Calls in flight on the client's
        own channel end at once. Idempotent."""
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
    ) -> RequestOutcome:
        """One request with its retries (through ``method``, else the client's): the response,
        or the error it failed with. Sleeps end when the client closes."""
        attempts = self._attempts(deadline, call, span)
        method, sending = method or self._conn.method, call.sending
        closing = self._conn.closing
        while (pause := attempts.pace()) is not None:
            if pause:  # held back by the rate limiter: ask again after the pause
                if closing.wait(pause):
                    return _closed_error()
                continue
            try:
                answer = method(request, timeout=attempts.timeout(), **sending)
            except grpc.RpcError as exc:
                answer = from_rpc_error(exc)
            except ValueError:  # gRPC refuses a call on a channel that close() closed
                if closing.is_set():
                    return _closed_error()
                raise
            if (delay := attempts.retry_delay(answer)) is None:
                break
            if closing.wait(delay):
                return _closed_error()
        return attempts.final(raw=raw)

    def _after_fork(self) -> None:
        self._conn.after_fork()

    def _iterate(
        self,
        stream: Stream,
        timeout: float | None,
        call: Call,
        stop: threading.Event | None = None,
    ) -> Generator[WorkflowResult, None, None]:
        pool = self._conn.chunk_pool()
        method = self._conn.method
        flight = _InFlight(method) if callable(getattr(method, "future", None)) else None
        window: deque[tuple[Chunk, Future[RequestOutcome] | None, Deadline, _tracing.Scope | None]]
        window = deque()

        def oldest() -> list[WorkflowResult]:
            chunk, future, deadline, scope = window.popleft()
            if future is None or scope is None:
                return stream.results(chunk, None)
            with scope:
                fetched = _wait(future, deadline, stop)
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
    ) -> list[ChunkOutcome]:
        # Pool threads only send; this thread converts each response as it arrives, in input
        # order, so converting never holds up sending the next request.
        pool = self._conn.chunk_pool()
        method = self._conn.method
        flight = _InFlight(method) if callable(getattr(method, "future", None)) else None
        futures = [
            pool.submit(self._send, r, deadline, call, scope.span, method=flight)
            for r in plan.requests
        ]
        outcome = self._results.outcome
        try:
            return [outcome(plan, k, _wait(f, deadline)) for k, f in enumerate(futures)]
        except BaseException:
            if flight is not None:
                flight.cancel()
            for future in futures:
                future.cancel()
            raise


# How long past the deadline to wait for a chunk: its RPC reports DEADLINE_EXCEEDED by itself;
# this bound only matters if the pool itself is stuck.
_GRACE = 1.0


def _wait(
    future: Future[RequestOutcome], deadline: Deadline, stop: threading.Event | None = None
) -> RequestOutcome:
    """What ``future`` fetched, within the deadline (and a grace); with ``stop``, the wait looks
    at it every ``_STOP_CHECK`` seconds and raises ``KeyboardInterrupt`` once it is set: here,
    in this library's code, never inside gRPC's."""
    while True:
        remaining = deadline.remaining()
        full = None if remaining is None else max(0.0, remaining) + _GRACE
        wait = full if stop is None else (_STOP_CHECK if full is None else min(full, _STOP_CHECK))
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            if wait != full:
                continue  # a slice of the wait ended: look at the stop flag again
            future.cancel()
            return DeadlineExceededError(
                f"deadline of {deadline.timeout}s expired before this request ran"
            )
        except CancelledError:  # close() cancelled it while it waited for a pool thread
            return _closed_error()


def _closed_error() -> TransportError:
    return TransportError(
        grpc.StatusCode.CANCELLED, "the client was closed before this request ran"
    )
