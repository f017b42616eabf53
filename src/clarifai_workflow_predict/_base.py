"""What the sync and async clients share: their settings and the I/O-free part of each call.

The two clients are thin shells over this: they differ only in how they open channels, send an
attempt, sleep between attempts and run chunks concurrently.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence

import grpc
from clarifai_grpc.grpc.api import service_pb2

from . import _auth, _channel, _request
from ._options import NOT_GIVEN, CallOptions, NotGiven
from ._ratelimit import RateLimiter, check_rate_limit
from ._retry import Attempts, Deadline, RetryPolicy
from .errors import InputError

if TYPE_CHECKING:
    from ._bulk import BulkSummary, Job
    from ._stream import Stream

__all__ = ["BaseClient", "Call"]

_DEFAULT_RETRY = RetryPolicy()
#: How long one ``predict_iter`` request may wait in all, retries included, when the call gives
#: no ``timeout``: long enough to ride out a model's cold start of several minutes (Clarifai's
#: own SDK waits up to 10), while each attempt still ends within the client's ``timeout``.
STREAM_REQUEST_DEADLINE = 600.0

# Clients alive in this process, so a forked child can reset what the fork broke.
_LIVE: weakref.WeakSet[BaseClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Call:
    """How a call's requests are sent: ``sending`` (the keyword arguments of each attempt
    besides its timeout: metadata, and compression when there is one, since a caller's channel
    may not take it), the retry policy, and each attempt's cap (``per_attempt``, for streams)."""

    __slots__ = ("sending", "retry", "per_attempt")

    def __init__(
        self,
        metadata: _auth.Metadata,
        retry: RetryPolicy | None,
        compression: grpc.Compression | None,
    ) -> None:
        self.sending: dict[str, Any] = {"metadata": metadata}
        if compression is not None:
            self.sending["compression"] = compression
        self.retry = retry
        self.per_attempt: float | None = None


class BaseClient:
    """Settings, validation and call preparation shared by ``WorkflowClient`` and
    ``AsyncWorkflowClient``."""

    _aio = False  # whether this client takes grpc.aio channels

    def __init__(
        self,
        pat: str | None = None,
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        target: str | None = None,
        channel: Any = None,
        stub: Any = None,
        insecure: bool = False,
        root_certificates: bytes | str | Any = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        max_concurrency: int = 4,
        batch_size: int = _request.MAX_INPUTS_PER_REQUEST,
        rate_limit: str | float | None = "adaptive",
        channel_options: Sequence[tuple[str, Any]] = (),
        compression: grpc.Compression | None = None,
        interceptors: Sequence[Any] = (),
        allow_insecure_pat: bool = False,
    ) -> None:
        self._closed = True  # until construction succeeds, so close() has nothing to undo
        self._dropped_in: Any = None  # the caller's channel or stub, if any
        self._owns = True  # whether closing this client closes the connection
        # Results and their conversion load with the first client, not with the package, so
        # importing stays cheap; predict() then reaches them through this attribute.
        from . import _response

        self._results = _response
        pat = _auth.resolve_pat(pat)
        self._metadata = _auth.auth_metadata(pat)
        self.user_id = _auth.env(user_id, _auth.USER_ID_ENV)
        self.app_id = _auth.env(app_id, _auth.APP_ID_ENV)
        self._owner = _request.user_app_id(self.user_id, self.app_id)
        self.timeout = _check_timeout(timeout, "timeout")
        self.retry = _check_retry(retry)
        self.max_concurrency = _check_int(max_concurrency, "max_concurrency", 1, 1024)
        self.batch_size = _check_int(batch_size, "batch_size", 1, _request.MAX_INPUTS_PER_REQUEST)
        self.rate_limit = check_rate_limit(rate_limit)
        self._limiter = RateLimiter(self.rate_limit) if self.rate_limit is not None else None
        if compression is not None and not isinstance(compression, grpc.Compression):
            raise InputError(
                f"compression must be a grpc.Compression, got {type(compression).__name__}",
                param="compression",
            )
        self.compression = compression
        self._options = _channel.channel_options(channel_options)
        self._interceptors = _check_interceptors(interceptors, self._aio)
        if channel is not None or stub is not None:
            if channel is not None and stub is not None:
                raise InputError("pass channel= or stub=, not both", param="channel")
            for name, value in (
                ("target", target),
                ("root_certificates", root_certificates),
                ("channel_options", channel_options or None),
                ("interceptors", interceptors or None),
            ):
                if value is not None:
                    raise InputError(
                        f"{name}= has no effect with a channel= or stub= of yours", param=name
                    )
            if insecure:
                raise InputError(
                    "insecure= has no effect with a channel= or stub= of yours", param="insecure"
                )
            self.target = None
            self._dropped_in = stub if stub is not None else channel
            self._conn = self._connect(self._drop_in_method(channel, stub))
        else:
            self.target = _channel.resolve_target(target)
            if pat is None and not _channel.is_local(self.target):
                raise InputError(
                    f"no PAT for {self.target}: set CLARIFAI_PAT to a personal access token "
                    "(or pass pat=); only loopback targets, such as the local emulator, work "
                    "without one",
                    param="pat",
                )
            if insecure:
                _channel.check_plaintext(self.target, pat, allow_insecure_pat)
                if root_certificates is not None:
                    raise InputError(
                        "root_certificates has no effect with insecure=True",
                        param="root_certificates",
                    )
                self._credentials = None
            else:
                self._credentials = _channel.credentials(root_certificates)
            self._conn = self._connect(None)
        self._closed = False
        _LIVE.add(self)

    def _connect(self, drop_in: Any) -> Any:
        """The connection: the caller's bound method (``drop_in``), or one the client opens."""
        raise NotImplementedError

    def _open(self, module: Any) -> Any:
        """A new channel of the client's own, from ``module`` (``grpc`` or ``grpc.aio``)."""
        assert self.target is not None
        return _channel.open_channel(
            module, self.target, self._credentials, self._options, self._interceptors
        )

    def _after_fork(self) -> None:
        """Reset, in a forked child, the state that did not survive the fork."""

    def with_options(
        self,
        *,
        timeout: float | None | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | None | NotGiven = NOT_GIVEN,
        rate_limit: str | float | None | NotGiven = NOT_GIVEN,
        metadata: Sequence[tuple[str, str]] | NotGiven = NOT_GIVEN,
        user_id: str | None | NotGiven = NOT_GIVEN,
        app_id: str | None | NotGiven = NOT_GIVEN,
    ) -> Any:
        """A client with other defaults, sharing this one's channel, pool and limiter.

        Only the arguments given change: ``timeout``, ``retry`` (``None`` turns retries off),
        ``rate_limit`` (a limiter of its own), ``metadata`` (sent on every call, before a call's
        own), ``user_id`` and ``app_id``. Closing it leaves the shared channel to the client
        that opened it; closing that one closes the channel for every client derived from it.
        """
        self._check_open()
        derived = copy.copy(self)
        derived._owns = False
        if not isinstance(timeout, NotGiven):
            derived.timeout = _check_timeout(timeout, "timeout")
        if not isinstance(retry, NotGiven):
            derived.retry = _check_retry(retry)
        if not isinstance(rate_limit, NotGiven):
            derived.rate_limit = check_rate_limit(rate_limit)
            limit = derived.rate_limit
            derived._limiter = RateLimiter(limit) if limit is not None else None
        if not isinstance(metadata, NotGiven):
            derived._metadata = _auth.extra_metadata(self._metadata, metadata)
        if not (isinstance(user_id, NotGiven) and isinstance(app_id, NotGiven)):
            derived.user_id = self.user_id if isinstance(user_id, NotGiven) else user_id
            derived.app_id = self.app_id if isinstance(app_id, NotGiven) else app_id
            derived._owner = _request.user_app_id(derived.user_id, derived.app_id)
        _LIVE.add(derived)
        return derived

    def _drop_in_method(self, channel: Any, stub: Any) -> Any:
        if stub is not None:
            method = getattr(stub, "PostWorkflowResults", None)
            if not callable(method):
                raise InputError(
                    f"stub= must be a V2Stub (with PostWorkflowResults), got {type(stub).__name__}",
                    param="stub",
                )
            return method
        import grpc.aio

        is_aio = isinstance(channel, grpc.aio.Channel)
        if is_aio != self._aio or not callable(getattr(channel, "unary_unary", None)):
            wanted = "a grpc.aio.Channel" if self._aio else "a grpc.Channel"
            hint = (
                " (an aio channel belongs with AsyncWorkflowClient)"
                if is_aio
                else " (a sync channel belongs with WorkflowClient)"
                if self._aio and isinstance(channel, grpc.Channel)
                else ""
            )
            raise InputError(
                f"channel= must be {wanted}, got {type(channel).__name__}{hint}", param="channel"
            )
        return _channel.bind(channel, ours=False)

    def _check_open(self) -> None:
        if self._closed or self._conn.closed:
            raise RuntimeError(f"{type(self).__name__} is closed; make a new one to predict")

    def _prepare(
        self, workflow_id: str, inputs: Any, options: CallOptions
    ) -> tuple[_request.Plan, Deadline, Call]:
        """Everything ``predict`` does before its first RPC."""
        fields, timeout, call = self._call(workflow_id, options)
        plan = _request.plan(fields, inputs, self.batch_size, dedupe=_check_bool(options.dedupe))
        return plan, Deadline(timeout), call

    def _prepare_stream(
        self, workflow_id: str, inputs: Any, options: CallOptions
    ) -> tuple[Stream, float | None, Call]:
        """Everything ``predict_iter`` does before reading its inputs: returns the stream, each
        request's deadline, and how its requests are sent."""
        from ._stream import Stream

        fields, timeout, call = self._call(workflow_id, options)
        if options.timeout is not None:  # given: it bounds each request, retries included
            each = timeout
        else:
            each = None if timeout is None else max(STREAM_REQUEST_DEADLINE, timeout)
            call.per_attempt = timeout
        dedupe = _check_bool(options.dedupe)
        stream = Stream(inputs, fields, self.batch_size, window=self.max_concurrency, dedupe=dedupe)
        return stream, each, call

    def _prepare_bulk(
        self,
        workflow_id: str,
        inputs: Any,
        out: Any,
        *,
        retry_failed: bool,
        overwrite: bool,
        progress: Callable[[BulkSummary], Any] | None,
        options: CallOptions,
        sample_ms: int | None,
        max_operations: int | None,
    ) -> tuple[Job, Stream, float | None, Call]:
        """Everything ``bulk`` does before its first request: the job, checked against its
        output file (``InputError`` with the file untouched on a mismatch), and the stream that
        sends the inputs the file does not hold yet."""
        from . import _bulk

        self._check_open()
        target = _request.workflow_target(
            workflow_id, options.user_id, options.app_id, options.version_id
        )
        workflow_id, user_id, app_id, version_id = target
        for name, value in (("retry_failed", retry_failed), ("overwrite", overwrite)):
            _check_bool(value, name)
        if max_operations is not None:
            _check_int(max_operations, "max_operations", 0, 2**63 - 1)
        if progress is not None and not callable(progress):
            raise InputError(
                f"progress must be a callable, got {type(progress).__name__}", param="progress"
            )
        settings = _bulk.settings(
            workflow_id,
            user_id or self.user_id,
            app_id or self.app_id,
            version_id,
            options.output_config,
            sample_ms,
        )
        job = _bulk.Job(
            inputs,
            out,
            settings,
            batch_size=self.batch_size,
            retry_failed=retry_failed,
            overwrite=overwrite,
            progress=progress,
            pace=lambda: self.pace,
            dedupe=_check_bool(options.dedupe),
            max_operations=max_operations,
        )
        # The job dedupes across itself (``dedupe`` stays in its settings, not the stream's).
        resolved = dataclasses.replace(
            options, user_id=user_id, app_id=app_id, version_id=version_id, dedupe=False
        )
        stream, each, call = self._prepare_stream(workflow_id, job.values(), resolved)
        job.prepare()
        return job, stream, each, call

    @property
    def pace(self) -> float | None:
        """Requests per second the client paces its requests at now, or ``None`` while it does
        not pace them (``rate_limit=None``, or ``"adaptive"`` sending freely)."""
        return self._limiter.rate if self._limiter is not None else None

    def _attempts(self, deadline: Deadline, call: Call, span: Any) -> Attempts:
        """The attempts of one request: its retry policy, the client's pace, its trace."""
        return Attempts(
            call.retry, deadline, self._limiter, per_attempt=call.per_attempt, span=span
        )

    def _call(
        self, workflow_id: str, options: CallOptions
    ) -> tuple[dict[str, Any], float | None, Call]:
        """A call's request fields, timeout and how it is sent, from its arguments, validated."""
        self._check_open()
        workflow_id, user_id, app_id, version_id = _request.workflow_target(
            workflow_id, options.user_id, options.app_id, options.version_id
        )
        fields = _request.request_fields(
            workflow_id,
            owner=self._owner_for(user_id, app_id),
            version_id=version_id,
            output_config=options.output_config,
            node_runner_selectors=options.node_runner_selectors,
            workflow_state_id=options.workflow_state_id,
            favor_clarifai_workflows=options.favor_clarifai_workflows,
        )
        return fields, self._timeout(options.timeout), self._sending(options)

    def _sending(self, options: CallOptions) -> Call:
        retry = self.retry if isinstance(options.retry, NotGiven) else _check_retry(options.retry)
        metadata = _auth.extra_metadata(self._metadata, options.metadata)
        return Call(metadata, retry, self.compression)

    def _owner_for(self, user_id: str | None, app_id: str | None) -> Any:
        if user_id is None and app_id is None:
            return self._owner
        return _request.user_app_id(user_id or self.user_id, app_id or self.app_id)

    def _prepare_request(self, request: Any, options: CallOptions) -> tuple[Deadline, Call]:
        """Everything ``predict_request`` does before its first RPC."""
        self._check_open()
        if not isinstance(request, service_pb2.PostWorkflowResultsRequest):
            raise InputError(
                "predict_request() takes a PostWorkflowResultsRequest, "
                f"got {type(request).__name__}",
                param="request",
            )
        return Deadline(self._timeout(options.timeout)), self._sending(options)

    def _timeout(self, timeout: float | None) -> float | None:
        """A call's ``timeout``, validated, or the client's when it gave none."""
        return self.timeout if timeout is None else _check_timeout(timeout, "timeout")

    def __repr__(self) -> str:
        where = f"target={self.target!r}" if self.target else "drop-in channel"
        owner = f", user_id={self.user_id!r}, app_id={self.app_id!r}" if self._owner else ""
        pat = "set" if self._metadata else "none"
        closed = ", closed" if self._closed else ""
        return f"<{type(self).__name__} {where}{owner}, pat={pat}{closed}>"


def _check_timeout(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InputError(f"{name} must be a number of seconds > 0, got {value!r}", param=name)
    return float(value)


def _check_retry(value: Any) -> RetryPolicy | None:
    if value is not None and not isinstance(value, RetryPolicy):
        raise InputError(
            f"retry must be a RetryPolicy or None, got {type(value).__name__}", param="retry"
        )
    return value


def _check_bool(value: Any, name: str = "dedupe") -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be True or False, got {value!r}", param=name)
    return value


def _check_int(value: Any, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InputError(f"{name} must be an int from {low} to {high}, got {value!r}", param=name)
    return value


def _check_interceptors(values: Any, aio: bool) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InputError(
            "interceptors must be a sequence of gRPC client interceptors", param="interceptors"
        )
    if aio:
        from grpc.aio import ClientInterceptor

        kinds: tuple[type, ...] = (ClientInterceptor,)
        wanted = "grpc.aio client interceptors"
    else:
        kinds = (
            grpc.UnaryUnaryClientInterceptor,
            grpc.UnaryStreamClientInterceptor,
            grpc.StreamUnaryClientInterceptor,
            grpc.StreamStreamClientInterceptor,
        )
        wanted = "grpc client interceptors (grpc.UnaryUnaryClientInterceptor, ...)"
    for value in values:
        if not isinstance(value, kinds):
            raise InputError(
                f"interceptors must be {wanted}, got {type(value).__name__}", param="interceptors"
            )
    return tuple(values)
