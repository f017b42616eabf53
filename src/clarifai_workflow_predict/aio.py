"""``AsyncWorkflowClient``: the asyncio client on ``grpc.aio``, a thin shell over the shared core.

Event loops: a ``grpc.aio`` channel belongs to the loop it was created on. The client opens its
own channel lazily, on the loop of its first call, and stays with that loop: a call from another
loop raises ``RuntimeError`` at once rather than hanging. Once that first loop is closed (say,
between two ``asyncio.run`` calls) the client opens a fresh channel on the next loop. A
``channel=`` or ``stub=`` of yours belongs to the loop you made it on, and the client never
opens another.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Mapping, Sequence

import grpc
import grpc.aio
from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from . import _channel
from ._base import PREDICT_DOC, PREDICT_ITER_DOC, PREDICT_REQUEST_DOC, BaseClient
from ._retry import Deadline
from .errors import ClarifaiError, from_rpc_error

if TYPE_CHECKING:
    from ._response import Fetched, Outcome
    from ._stream import Chunk, Stream
    from .models import WorkflowPrediction, WorkflowResult

__all__ = ["AsyncWorkflowClient"]


class AsyncWorkflowClient(BaseClient):
    """An asyncio client for Clarifai's Workflow Predict RPC, on ``grpc.aio``.

    Takes the same arguments as ``WorkflowClient`` (``channel=`` is a ``grpc.aio.Channel``,
    ``stub=`` a ``V2Stub`` built on one). Chunks of a large call run concurrently, at most
    ``max_concurrency`` at a time per client. Safe to share between tasks of one event loop.
    """

    _aio = True

    def _start(self) -> None:
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None

    async def predict(
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
        method, semaphore = self._bind_loop()
        results = self._results
        if len(plan.requests) == 1:
            fetched = await self._send(method, plan.requests[0], deadline, md)
            return results.prediction(plan, [results.outcome(plan, 0, fetched)])

        async def chunk(k: int) -> Outcome:
            async with semaphore:  # held while sending only, so conversion never blocks a send
                fetched = await self._send(method, plan.requests[k], deadline, md)
            return results.outcome(plan, k, fetched)

        outcomes = await asyncio.gather(*(chunk(k) for k in range(len(plan.requests))))
        return results.prediction(plan, list(outcomes))

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
    ) -> AsyncIterator[WorkflowResult]:
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

    predict_iter.__doc__ = (
        PREDICT_ITER_DOC + "\nReturns an async iterator: ``async for result in ...``.\n"
    )

    async def predict_request(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
    ) -> service_pb2.PostWorkflowResultsResponse:
        deadline, md = self._prepare_request(request, timeout, metadata)
        method, _ = self._bind_loop()
        outcome = await self._send(method, request, deadline, md, raw=True)
        if isinstance(outcome, ClarifaiError):
            raise outcome
        return outcome

    predict_request.__doc__ = PREDICT_REQUEST_DOC

    async def close(self) -> None:
        """Close the channel, if the client opened it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        channel, self._channel = self._channel, None
        if channel is not None and self._loop is not None and not self._loop.is_closed():
            await channel.close()

    async def __aenter__(self) -> AsyncWorkflowClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _bind_loop(self) -> tuple[Any, asyncio.Semaphore]:
        """The method and chunk semaphore for the running loop, opened on first use."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not (self.target and self._loop.is_closed()):
                raise RuntimeError(
                    "this AsyncWorkflowClient belongs to another event loop: a grpc.aio channel "
                    "only works on the loop that created it; make one client per loop"
                )
            if self.target is not None:  # ours: open it on this loop
                self._channel = _channel.open_channel(grpc.aio, self.target, self._credentials)
                self._method = _channel.bind(self._channel, ours=True)
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        assert self._semaphore is not None
        return self._method, self._semaphore

    async def _iterate(
        self,
        stream: Stream,
        timeout: float | None,
        per_attempt: float | None,
        metadata: Any,
    ) -> AsyncIterator[WorkflowResult]:
        method, _ = self._bind_loop()
        window: deque[tuple[Chunk, asyncio.Future[Fetched] | None]] = deque()

        async def oldest() -> list[WorkflowResult]:
            chunk, task = window.popleft()
            return stream.results(chunk, None if task is None else await task)

        try:
            for chunk in stream:
                request = chunk.request
                task = None
                if request is not None:
                    fetch = self._send(method, request, Deadline(timeout), metadata, per_attempt)
                    task = asyncio.ensure_future(fetch)
                window.append((chunk, task))
                if len(window) >= self.max_concurrency:
                    for result in await oldest():
                        yield result
            while window:
                for result in await oldest():
                    yield result
        finally:
            for _, pending in window:
                if pending is not None:
                    pending.cancel()

    async def _send(
        self,
        method: Any,
        request: service_pb2.PostWorkflowResultsRequest,
        deadline: Deadline,
        metadata: Any,
        per_attempt: float | None = None,
        *,
        raw: bool = False,
    ) -> Fetched:
        """One request with its retries: the response, or the error it failed with."""
        attempts = self._attempts(deadline, per_attempt)
        while (pause := attempts.pace()) is not None:
            if pause:  # held back by the rate limiter: ask again after the pause
                await asyncio.sleep(pause)
                continue
            try:
                answer = await method(request, timeout=attempts.timeout(), metadata=metadata)
            except grpc.RpcError as exc:
                answer = from_rpc_error(exc)
            if (delay := attempts.retry_delay(answer)) is None:
                break
            await asyncio.sleep(delay)
        return attempts.final(raw=raw)
