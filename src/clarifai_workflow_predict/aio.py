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
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)

import grpc
import grpc.aio
from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from . import _channel, _tracing
from ._base import BaseClient, Call
from ._options import NOT_GIVEN, CallOptions, NotGiven
from ._retry import Deadline, RetryPolicy
from .errors import ClarifaiError, from_rpc_error

if TYPE_CHECKING:
    from ._bulk import BulkSummary, Job
    from ._channel import AsyncMethod
    from ._response import ChunkOutcome, RequestOutcome
    from ._stream import Chunk, Stream
    from .models import WorkflowResult
    from .prediction import WorkflowPrediction

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
        method, semaphore = self._conn.bind_loop()
        results = self._results
        with _tracing.scope(plan.workflow_id, plan.count) as scope:
            if len(plan.requests) == 1:
                fetched = await self._send(method, plan.requests[0], deadline, call, scope.span)
                prediction = results.prediction(plan, [results.outcome(plan, 0, fetched)])
            else:

                async def chunk(k: int) -> ChunkOutcome:
                    async with semaphore:  # held while sending only: conversion never blocks one
                        fetched = await self._send(
                            method, plan.requests[k], deadline, call, scope.span
                        )
                    return results.outcome(plan, k, fetched)

                outcomes = await asyncio.gather(*(chunk(k) for k in range(len(plan.requests))))
                prediction = results.prediction(plan, list(outcomes))
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
    ) -> AsyncIterator[WorkflowResult]:
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

        Returns an async iterator: ``async for result in ...``.
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

    async def bulk(
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
        them, so a rerun runs them. Cancelling the task (as ``asyncio.run`` does on Ctrl-C)
        stops the run at its next ``await``: the lines answered so far are written and the
        requests in flight cancelled; the file stays valid to resume. Returns the
        ``BulkSummary`` of the run.
        """
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
            job.per_input = await self._cost_per_input(job, call)
        results = self._iterate(stream, each, call)
        try:
            async for result in results:
                job.add(result)
            job.finish()
        except BaseException:
            job.commit()  # what was answered, whatever stopped the run
            raise
        finally:
            await results.aclose()  # cancels the requests in flight
            job.close()
        return job.summary()

    async def _cost_per_input(self, job: Job, call: Call) -> int | None:
        """The operations one input of ``job`` costs (the workflow's nodes), or ``None`` when
        the workflow cannot be read."""
        from . import _bulk

        self._conn.bind_loop()
        method = _channel.bind_get_workflow(self._conn.channel or self._dropped_in)
        if method is None:
            return None
        try:
            answer = await method(
                _bulk.workflow_request(job.settings), timeout=self.timeout, **call.sending
            )
        except grpc.RpcError:
            return None
        return _bulk.nodes(answer)

    async def predict_request(
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
        method, _ = self._conn.bind_loop()
        with _tracing.scope(request.workflow_id, len(request.inputs)) as scope:
            outcome = await self._send(method, request, deadline, call, scope.span, raw=True)
            if isinstance(outcome, ClarifaiError):
                raise outcome
            scope.req_id = outcome.status.req_id
        return outcome

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
    ) -> AsyncGenerator[WorkflowResult, None]:
        method, _ = self._conn.bind_loop()
        window: deque[tuple[Chunk, asyncio.Future[RequestOutcome] | None, _tracing.Scope | None]]
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
    ) -> RequestOutcome:
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
