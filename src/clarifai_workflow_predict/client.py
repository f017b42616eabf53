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

from . import _channel
from ._base import PREDICT_DOC, PREDICT_ITER_DOC, PREDICT_REQUEST_DOC, BaseClient
from ._retry import Deadline
from .errors import ClarifaiError, DeadlineExceededError, TransportError, from_rpc_error

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ._auth import Metadata
    from ._request import Plan
    from ._response import Fetched, Outcome
    from ._stream import Chunk, Stream
    from .models import WorkflowPrediction, WorkflowResult

__all__ = ["WorkflowClient"]


class WorkflowClient(BaseClient):
    """A synchronous client for Clarifai's Workflow Predict RPC.

    ``WorkflowClient(pat=None, *, user_id=None, app_id=None, target=None, channel=None,
    stub=None, insecure=False, root_certificates=None, timeout=30.0, retry=RetryPolicy(),
    max_concurrency=4, batch_size=32, allow_insecure_pat=False)``

    - ``pat``, ``user_id``, ``app_id`` and ``target`` fall back to ``CLARIFAI_PAT``,
      ``CLARIFAI_USER_ID``, ``CLARIFAI_APP_ID`` and ``CLARIFAI_GRPC_BASE``; the target then to
      ``api.clarifai.com:443``. ``user_id``/``app_id`` name the workflow's owner (e.g.
      ``clarifai``/``main`` for Clarifai's public workflows).
    - ``channel=`` (a ``grpc.Channel``) or ``stub=`` (a ``V2Stub``) is used as given and never
      closed. Otherwise the client opens one TLS channel (plaintext with ``insecure=True``,
      which refuses to send a PAT to a non-loopback host unless ``allow_insecure_pat=True``)
      and closes it in ``close()``.
    - ``timeout`` is each call's whole deadline in seconds, retries and chunks included.
    - Calls with more than ``batch_size`` inputs are split; at most ``max_concurrency`` requests
      are in flight at once, on a thread pool the client owns.

    Thread-safe: share one client between threads.
    """

    def _start(self) -> None:
        self._channel: grpc.Channel | None = None
        if self.target is not None:  # not drop-in: the channel is ours
            self._channel = _channel.open_channel(grpc, self.target, self._credentials)
            self._method = _channel.bind(self._channel, ours=True)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def predict(
        self,
        workflow_id: str,
        inputs: Any,
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        version_id: str | None = None,
        output_config: resources_pb2.OutputConfig | Mapping[str, Any] | None = None,
        node_runner_selectors: Mapping[str, resources_pb2.RunnerSelector] | None = None,
        workflow_state_id: str | None = None,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> WorkflowPrediction:
        plan, deadline, md = self._prepare(
            workflow_id,
            inputs,
            (
                user_id,
                app_id,
                version_id,
                output_config,
                node_runner_selectors,
                workflow_state_id,
                timeout,
                metadata,
            ),
        )
        results = self._results
        if len(plan.requests) == 1:
            only = results.outcome(plan, 0, self._send(plan.requests[0], deadline, md))
            return results.prediction(plan, [only])
        return results.prediction(plan, self._chunks(plan, deadline, md))

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
        node_runner_selectors: Mapping[str, resources_pb2.RunnerSelector] | None = None,
        workflow_state_id: str | None = None,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> Iterator[WorkflowResult]:
        stream, each, per_attempt, md = self._prepare_stream(
            workflow_id,
            inputs,
            (
                user_id,
                app_id,
                version_id,
                output_config,
                node_runner_selectors,
                workflow_state_id,
                timeout,
                metadata,
            ),
        )
        return self._iterate(stream, each, per_attempt, md)

    predict_iter.__doc__ = PREDICT_ITER_DOC

    def predict_request(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> service_pb2.PostWorkflowResultsResponse:
        deadline, md = self._prepare_request(request, timeout, metadata)
        outcome = self._send(request, deadline, md, raw=True)
        if isinstance(outcome, ClarifaiError):
            raise outcome
        return outcome

    predict_request.__doc__ = PREDICT_REQUEST_DOC

    def close(self) -> None:
        """Stop the chunk pool and close the channel, if the client opened it. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._channel is not None:
            self._channel.close()

    def __enter__(self) -> WorkflowClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        deadline: Deadline,
        metadata: Metadata,
        per_attempt: float | None = None,
        *,
        raw: bool = False,
    ) -> Fetched:
        """One request with its retries: the response, or the error it failed with."""
        attempts = self._attempts(deadline, per_attempt)
        method = self._method
        while (pause := attempts.pace()) is not None:
            if pause:  # held back by the rate limiter: ask again after the pause
                time.sleep(pause)
                continue
            try:
                answer = method(request, timeout=attempts.timeout(), metadata=metadata)
            except grpc.RpcError as exc:
                answer = from_rpc_error(exc)
            if (delay := attempts.retry_delay(answer)) is None:
                break
            time.sleep(delay)
        return attempts.final(raw=raw)

    def _after_fork(self) -> None:
        # The parent's pool threads do not exist here, and its lock may have been held by one
        # of them: start both afresh, or a chunked call would wait forever.
        self._pool = None
        self._lock = threading.Lock()

    def _iterate(
        self,
        stream: Stream,
        timeout: float | None,
        per_attempt: float | None,
        metadata: Metadata,
    ) -> Iterator[WorkflowResult]:
        pool = self._chunk_pool()
        window: deque[tuple[Chunk, Future[Fetched] | None, Deadline]] = deque()

        def oldest() -> list[WorkflowResult]:
            chunk, future, deadline = window.popleft()
            return stream.results(chunk, None if future is None else _wait(future, deadline))

        try:
            for chunk in stream:
                deadline = Deadline(timeout)
                request = chunk.request
                future = None
                if request is not None:
                    self._check_open()  # closed while iterating: say so, not "pool shut down"
                    future = pool.submit(self._send, request, deadline, metadata, per_attempt)
                window.append((chunk, future, deadline))
                if len(window) >= self.max_concurrency:
                    yield from oldest()
            while window:
                yield from oldest()
        finally:
            for _, future, _ in window:
                if future is not None:
                    future.cancel()

    def _chunks(self, plan: Plan, deadline: Deadline, metadata: Metadata) -> list[Outcome]:
        # Pool threads only send; this thread converts each response as it arrives, in input
        # order, so converting never holds up sending the next request.
        pool = self._chunk_pool()
        futures = [pool.submit(self._send, r, deadline, metadata) for r in plan.requests]
        outcome = self._results.outcome
        try:
            return [outcome(plan, k, _wait(f, deadline)) for k, f in enumerate(futures)]
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def _chunk_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            self._check_open()
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(
                    max_workers=self.max_concurrency,
                    thread_name_prefix="clarifai-workflow-predict",
                )
            return self._pool


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
