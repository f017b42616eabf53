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
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Mapping, Sequence

import grpc
import grpc.aio
from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from . import _channel, _tracing
from ._base import PREDICT_DOC, PREDICT_ITER_DOC, PREDICT_REQUEST_DOC, BaseClient, Call
from ._options import UNSET, CallOptions
from ._retry import Deadline, RetryPolicy
from .errors import ClarifaiError, from_rpc_error

if TYPE_CHECKING:
    from ._channel import AsyncMethod
    from ._response import Fetched, Outcome
    from ._stream import Chunk, Stream
    from .models import WorkflowPrediction, WorkflowResult

__all__ = ["AsyncWorkflowClient"]


class _Connection:
    """What a client shares with the clients derived from it: the bound method, the channel (when
    the client opens it, on the loop of its first call) and the semaphore bounding chunks in
    flight; closed by the client that made them."""

    def __init__(
        self, method: AsyncMethod | None, open_channel: Callable[[], Any] | None, workers: int
    ) -> None:
        self.method = method
        self.open_channel = open_channel  # None for a channel or stub of the caller's
        self.workers = workers
        self.channel: grpc.aio.Channel | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.semaphore: asyncio.Semaphore | None = None
        self.closed = False

    def bind_loop(self) -> tuple[AsyncMethod, asyncio.Semaphore]:
        """The method and chunk semaphore for the running loop, opened on first use."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            if self.loop is not None and not (self.open_channel and self.loop.is_closed()):
                raise RuntimeError(
                    "this AsyncWorkflowClient belongs to another event loop: a grpc.aio channel "
                    "only works on the loop that created it; make one client per loop"
                )
            if self.open_channel is not None:  # ours: open it on this loop
                self.channel = self.open_channel()
                self.method = _channel.bind(self.channel, ours=True)
            self.loop = loop
            self.semaphore = asyncio.Semaphore(self.workers)
        assert self.method is not None and self.semaphore is not None
        return self.method, self.semaphore

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        channel, self.channel = self.channel, None
        if channel is not None and self.loop is not None and not self.loop.is_closed():
            await channel.close()


class AsyncWorkflowClient(BaseClient):
    """An asyncio client for Clarifai's Workflow Predict RPC, on ``grpc.aio``.

    Takes the same arguments as ``WorkflowClient`` (``channel=`` is a ``grpc.aio.Channel``,
    ``stub=`` a ``V2Stub`` built on one, ``interceptors`` are ``grpc.aio`` client interceptors).
    Chunks of a large call run concurrently, at most ``max_concurrency`` at a time per client.
    Safe to share between tasks of one event loop.
    """

    _aio = True

    def _connect(self, drop_in: Any) -> _Connection:
        if drop_in is not None:
            return _Connection(drop_in, None, self.max_concurrency)
        return _Connection(None, lambda: self._open(grpc.aio), self.max_concurrency)

    async def predict(
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
        method, semaphore = self._conn.bind_loop()
        results = self._results
        with _tracing.scope(plan.workflow_id, plan.count) as scope:
            if len(plan.requests) == 1:
                fetched = await self._send(method, plan.requests[0], deadline, call, scope.span)
                prediction = results.prediction(plan, [results.outcome(plan, 0, fetched)])
            else:

                async def chunk(k: int) -> Outcome:
                    async with semaphore:  # held while sending only: conversion never blocks one
                        fetched = await self._send(
                            method, plan.requests[k], deadline, call, scope.span
                        )
                    return results.outcome(plan, k, fetched)

                outcomes = await asyncio.gather(*(chunk(k) for k in range(len(plan.requests))))
                prediction = results.prediction(plan, list(outcomes))
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
    ) -> AsyncIterator[WorkflowResult]:
        stream, each, call = self._prepare_stream(workflow_id, inputs, CallOptions.of(locals()))
        return self._iterate(stream, each, call)

    predict_iter.__doc__ = (
        PREDICT_ITER_DOC + "\nReturns an async iterator: ``async for result in ...``.\n"
    )

    async def predict_request(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        retry: RetryPolicy | None = UNSET,
    ) -> service_pb2.PostWorkflowResultsResponse:
        deadline, call = self._prepare_request(request, CallOptions.of(locals()))
        method, _ = self._conn.bind_loop()
        with _tracing.scope(request.workflow_id, len(request.inputs)) as scope:
            outcome = await self._send(method, request, deadline, call, scope.span, raw=True)
            if isinstance(outcome, ClarifaiError):
                raise outcome
            scope.req_id = outcome.status.req_id
        return outcome

    predict_request.__doc__ = PREDICT_REQUEST_DOC

    async def close(self) -> None:
        """Close the channel, if this client opened it (a client from ``with_options`` leaves it
        to the one it came from). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns:
            await self._conn.close()

    async def __aenter__(self) -> AsyncWorkflowClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _iterate(
        self, stream: Stream, timeout: float | None, call: Call
    ) -> AsyncIterator[WorkflowResult]:
        method, _ = self._conn.bind_loop()
        window: deque[tuple[Chunk, asyncio.Future[Fetched] | None, _tracing.Scope | None]]
        window = deque()

        async def oldest() -> list[WorkflowResult]:
            chunk, task, scope = window.popleft()
            if task is None or scope is None:
                return stream.results(chunk, None)
            with scope:
                fetched = await task
                scope.req_id = "" if isinstance(fetched, ClarifaiError) else fetched.status.req_id
                return stream.results(chunk, fetched)

        try:
            for chunk in stream:
                request = chunk.request
                task = scope = None
                if request is not None:
                    self._check_open()  # closed while iterating: say so, not a gRPC UsageError
                    scope = _tracing.scope(request.workflow_id, len(request.inputs))
                    fetch = self._send(method, request, Deadline(timeout), call, scope.span)
                    task = asyncio.ensure_future(fetch)
                window.append((chunk, task, scope))
                if len(window) >= self.max_concurrency:
                    for result in await oldest():
                        yield result
            while window:
                for result in await oldest():
                    yield result
        finally:
            for _, pending, scope in window:
                if pending is not None and scope is not None:
                    pending.cancel()
                    scope.close()

    async def _send(
        self,
        method: AsyncMethod,
        request: service_pb2.PostWorkflowResultsRequest,
        deadline: Deadline,
        call: Call,
        span: Any = None,
        *,
        raw: bool = False,
    ) -> Fetched:
        """One request with its retries: the response, or the error it failed with."""
        attempts = self._attempts(deadline, call, span)
        sending = call.sending
        while (pause := attempts.pace()) is not None:
            if pause:  # held back by the rate limiter: ask again after the pause
                await asyncio.sleep(pause)
                continue
            try:
                answer = await method(request, timeout=attempts.timeout(), **sending)
            except grpc.RpcError as exc:
                answer = from_rpc_error(exc)
            if (delay := attempts.retry_delay(answer)) is None:
                break
            await asyncio.sleep(delay)
        return attempts.final(raw=raw)
