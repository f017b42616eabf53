"""What the sync and async clients share: their settings and the I/O-free part of each call.

The two clients are thin shells over this: they differ only in how they open channels, send an
attempt, sleep between attempts and run chunks concurrently.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any, Sequence

from clarifai_grpc.grpc.api import service_pb2

from . import _auth, _channel, _request
from ._ratelimit import RateLimiter, check_rate_limit
from ._retry import Attempts, Deadline, RetryPolicy
from .errors import InputError

if TYPE_CHECKING:
    from ._stream import Stream

__all__ = ["BaseClient"]

_DEFAULT_RETRY = RetryPolicy()
#: How long one ``predict_iter`` request may wait in all, retries included, when the call gives
#: no ``timeout``: long enough to ride out a model's cold start of several minutes (Clarifai's
#: own SDK waits up to 10), while each attempt still ends within the client's ``timeout``.
STREAM_REQUEST_DEADLINE = 600.0

#: A call's keyword arguments, in the order of the public signatures: ``user_id``, ``app_id``,
#: ``version_id``, ``output_config``, ``node_runner_selectors``, ``workflow_state_id``,
#: ``timeout``, ``metadata``. The clients pass them on as one tuple.
CallOptions = tuple[Any, Any, Any, Any, Any, Any, Any, Any]

# Clients alive in this process, so a forked child can reset what the fork broke.
_LIVE: weakref.WeakSet[BaseClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

PREDICT_DOC = """Run ``inputs`` through a workflow; ``results[i]`` belongs to ``inputs[i]``.

``inputs`` is one input or a sequence: ``Input``, ``resources_pb2.Input``, an ``http(s)://``
URL (an image), ``bytes`` (an image) or an ``os.PathLike`` (a file). ``user_id``/``app_id``
override the client's owner ids for this call; ``version_id``, ``output_config`` (an
``OutputConfig`` or a dict of its fields), ``node_runner_selectors`` and ``workflow_state_id``
go into the request; ``metadata`` adds call metadata. ``timeout`` (default: the client's) is
one deadline for the whole call, retries and chunks included.

Raises ``InputError`` before sending anything when the arguments are bad, and an ``ApiError``
or ``TransportError`` subclass when the call fails. A failed input shows in its own
``result.status`` instead; so do the inputs of a failed request when others succeeded.
"""

PREDICT_ITER_DOC = """Stream results for an iterable of inputs of any length, in input order.

Inputs are read lazily, ``batch_size`` at a time, with at most ``max_concurrency`` requests in
flight, so memory stays bounded for millions of inputs. Takes ``predict``'s keyword arguments;
``timeout`` bounds each request (with its retries) rather than the whole stream; without one,
each attempt gets the client's ``timeout`` and a request may keep retrying a model that is
deploying for up to 10 minutes, so a stream rides out a cold start. A failed request, or a value
that is not an input (status ``INPUT_INVALID_ARGUMENT``), comes back as failed results; the
stream raises only for arguments that are wrong from the start, and when a request fails for
authentication, permission or not-found reasons, which every later request would share.
Stopping the iteration early cancels the requests in flight.
"""

PREDICT_REQUEST_DOC = """Send a request you built, adding auth, the deadline and retries.

Returns the response unchanged whatever its in-band status; raises only when the RPC itself
fails (``TransportError``, or the auth errors for gRPC UNAUTHENTICATED / PERMISSION_DENIED).
No chunking, no conversion.
"""


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
        allow_insecure_pat: bool = False,
    ) -> None:
        self._closed = True  # until construction succeeds, so close() has nothing to undo
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
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InputError(f"retry must be a RetryPolicy or None, got {type(retry).__name__}")
        self.retry = retry
        self.max_concurrency = _check_int(max_concurrency, "max_concurrency", 1, 1024)
        self.batch_size = _check_int(batch_size, "batch_size", 1, _request.MAX_INPUTS_PER_REQUEST)
        self.rate_limit = check_rate_limit(rate_limit)
        self._limiter = RateLimiter(self.rate_limit) if self.rate_limit is not None else None
        self._drop_in = channel is not None or stub is not None
        if self._drop_in:
            if channel is not None and stub is not None:
                raise InputError("pass channel= or stub=, not both")
            for name, value in (
                ("target", target),
                ("root_certificates", root_certificates),
            ):
                if value is not None:
                    raise InputError(f"{name}= has no effect with a channel= or stub= of yours")
            if insecure:
                raise InputError("insecure= has no effect with a channel= or stub= of yours")
            self.target = None
            self._method = self._drop_in_method(channel, stub)
        else:
            self.target = _channel.resolve_target(target)
            if pat is None and not _channel.is_loopback(_channel.host_of(self.target)):
                raise InputError(
                    f"no PAT for {self.target}: set CLARIFAI_PAT to a personal access token "
                    "(or pass pat=); only loopback targets, such as the local emulator, work "
                    "without one"
                )
            if insecure:
                _channel.check_plaintext(self.target, pat, allow_insecure_pat)
                if root_certificates is not None:
                    raise InputError("root_certificates has no effect with insecure=True")
                self._credentials = None
            else:
                self._credentials = _channel.credentials(root_certificates)
        self._start()
        self._closed = False
        _LIVE.add(self)

    def _start(self) -> None:
        """Open what the client owns (the sync client's channel; the async one is lazy)."""
        raise NotImplementedError

    def _after_fork(self) -> None:
        """Reset, in a forked child, the state that did not survive the fork."""

    def _drop_in_method(self, channel: Any, stub: Any) -> Any:
        if stub is not None:
            method = getattr(stub, "PostWorkflowResults", None)
            if not callable(method):
                raise InputError(
                    f"stub= must be a V2Stub (with PostWorkflowResults), got {type(stub).__name__}"
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
                if self._aio
                else ""
            )
            raise InputError(f"channel= must be {wanted}, got {type(channel).__name__}{hint}")
        return _channel.bind(channel, ours=False)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; make a new one to predict")

    def _prepare(
        self, workflow_id: str, inputs: Any, options: CallOptions
    ) -> tuple[_request.Plan, Deadline, _auth.Metadata]:
        """Everything ``predict`` does before its first RPC."""
        fields, timeout, metadata = self._call(workflow_id, options)
        return _request.plan(fields, inputs, self.batch_size), Deadline(timeout), metadata

    def _prepare_stream(
        self, workflow_id: str, inputs: Any, options: CallOptions
    ) -> tuple[Stream, float | None, float | None, _auth.Metadata]:
        """Everything ``predict_iter`` does before reading its inputs: returns the stream, each
        request's deadline and per-attempt timeout, and the call metadata."""
        from ._stream import Stream

        fields, timeout, metadata = self._call(workflow_id, options)
        if options[6] is not None:  # a timeout given: it bounds each request, retries included
            each, per_attempt = timeout, None
        else:
            each = None if timeout is None else max(STREAM_REQUEST_DEADLINE, timeout)
            per_attempt = timeout
        return Stream(inputs, fields, self.batch_size), each, per_attempt, metadata

    def _pace(self) -> float | None:
        """Requests per second the client is paced at now, or ``None`` while it is not."""
        return self._limiter.rate if self._limiter is not None else None

    def _attempts(self, deadline: Deadline, per_attempt: float | None = None) -> Attempts:
        """The attempts of one request: this client's retry policy and pace."""
        return Attempts(self.retry, deadline, self._limiter, per_attempt=per_attempt)

    def _call(
        self, workflow_id: str, options: CallOptions
    ) -> tuple[dict[str, Any], float | None, _auth.Metadata]:
        """A call's request fields, timeout and metadata, from its arguments, validated."""
        self._check_open()
        user_id, app_id, version_id, output_config, selectors, state_id, timeout, metadata = options
        fields = _request.request_fields(
            workflow_id,
            owner=self._owner_for(user_id, app_id),
            version_id=version_id,
            output_config=output_config,
            node_runner_selectors=selectors,
            workflow_state_id=state_id,
        )
        return fields, self._timeout(timeout), _auth.extra_metadata(self._metadata, metadata)

    def _owner_for(self, user_id: str | None, app_id: str | None) -> Any:
        if user_id is None and app_id is None:
            return self._owner
        return _request.user_app_id(user_id or self.user_id, app_id or self.app_id)

    def _prepare_request(
        self, request: Any, timeout: float | None, metadata: Sequence[tuple[str, str]] | None
    ) -> tuple[Deadline, _auth.Metadata]:
        """Everything ``predict_request`` does before its first RPC."""
        self._check_open()
        if not isinstance(request, service_pb2.PostWorkflowResultsRequest):
            raise InputError(
                "predict_request() takes a PostWorkflowResultsRequest, "
                f"got {type(request).__name__}"
            )
        return Deadline(self._timeout(timeout)), _auth.extra_metadata(self._metadata, metadata)

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
        raise InputError(f"{name} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _check_int(value: Any, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InputError(f"{name} must be an int from {low} to {high}, got {value!r}")
    return value
