"""The exception tree, and the one place where failures become exceptions.

::

    ClarifaiError
    ├── ApiError(code, description, details, req_id)     the API answered with a failing status
    │   ├── AuthenticationError                          bad or missing PAT
    │   ├── PermissionDeniedError                        the PAT lacks a scope or access
    │   ├── NotFoundError                                workflow, model, ... does not exist
    │   ├── RateLimitError                               throttled or over a usage limit
    │   ├── InvalidRequestError                          the API rejected the request's contents
    │   └── ModelDeployingError                          the deadline ended during a cold start
    ├── TransportError(grpc_code, details, req_id)       the RPC itself failed
    │   └── DeadlineExceededError                        the call's deadline expired
    ├── InputError (also a ValueError)                   bad input caught before sending
    └── PredictionError                                  from WorkflowPrediction.raise_for_status()

gRPC ``UNAUTHENTICATED`` and ``PERMISSION_DENIED`` become ``AuthenticationError`` and
``PermissionDeniedError`` (code ``FAILURE``, with ``grpc_code`` set), so one ``except`` catches an
auth failure however it arrives. An error raised after retries says how many attempts were made
in ``attempts``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import grpc
from clarifai_grpc.grpc.api.status import status_code_pb2

if TYPE_CHECKING:
    from clarifai_grpc.grpc.api.status import status_pb2

__all__ = [
    "ClarifaiError",
    "ApiError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InvalidRequestError",
    "ModelDeployingError",
    "TransportError",
    "DeadlineExceededError",
    "InputError",
    "PredictionError",
]

_StatusCode = status_code_pb2.StatusCode
SUCCESS: int = status_code_pb2.SUCCESS
MIXED_STATUS: int = status_code_pb2.MIXED_STATUS
FAILURE: int = status_code_pb2.FAILURE
#: The API throttled the request: the account's requests per second are spent.
CONN_THROTTLED: int = status_code_pb2.CONN_THROTTLED
#: A model of the workflow is coming up (a cold start): ready in seconds to minutes.
DEPLOYING_CODES = frozenset(
    {
        status_code_pb2.MODEL_DEPLOYING,
        status_code_pb2.MODEL_QUEUED_FOR_DEPLOYMENT,
        status_code_pb2.MODEL_LOADING,
    }
)
#: The API is busy or its queue is full for now: the same request may succeed a moment later.
BUSY_CODES = frozenset(
    {
        CONN_THROTTLED,
        status_code_pb2.MODEL_BUSY_PLEASE_RETRY,
        status_code_pb2.RPC_REQUEST_QUEUE_FULL,
        status_code_pb2.RPC_SERVER_UNAVAILABLE,
        status_code_pb2.QUEUE_CONN_ERROR,
        status_code_pb2.TRY_AGAIN,
    }
)


@lru_cache(maxsize=1024)
def status_name(code: int) -> str:
    """The ``StatusCode`` enum name of ``code``, or the number as text for unknown codes."""
    try:
        return _StatusCode.Name(code)
    except ValueError:
        return str(code)


class ClarifaiError(Exception):
    """Base of every error this library raises.

    ``attempts`` is how many attempts the request made, on errors raised after retries
    (``None`` on errors raised before anything was sent).
    """

    attempts: int | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword and typed arguments; rebuild from state so errors cross
        # process boundaries (process pools, Ray workers) intact.
        return (_rebuild, (type(self), self.args, self.__dict__))


class ApiError(ClarifaiError):
    """The API answered with a failing status.

    ``code`` is the Clarifai ``StatusCode`` number and ``name`` its enum name. ``grpc_code`` is
    set when the failure came from the RPC layer (gRPC UNAUTHENTICATED / PERMISSION_DENIED)
    rather than an in-band status.
    """

    def __init__(
        self,
        code: int,
        description: str = "",
        details: str = "",
        req_id: str = "",
        *,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        self.code = code
        self.name = status_name(code)
        self.description = description
        self.details = details
        self.req_id = req_id
        self.grpc_code = grpc_code
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.name} ({self.code})"
        if self.description:
            text += f": {self.description}"
        if self.details:
            text += f" [{self.details}]"
        if self.req_id:
            text += f" (req_id={self.req_id})"
        return text


class AuthenticationError(ApiError):
    """The PAT is missing, malformed, unknown or revoked."""


class PermissionDeniedError(ApiError):
    """The PAT is valid but lacks a scope or access to the resource."""


class NotFoundError(ApiError):
    """The workflow, model or another named resource does not exist (for these ids)."""


class RateLimitError(ApiError):
    """Throttled, or over an hourly or monthly limit."""


class InvalidRequestError(ApiError):
    """The API rejected the request's arguments."""


class ModelDeployingError(ApiError):
    """The call's deadline ended while a model of the workflow was still deploying (a cold
    start); ``code`` is the last status (``MODEL_DEPLOYING``, ``MODEL_QUEUED_FOR_DEPLOYMENT`` or
    ``MODEL_LOADING``). Retry with a longer ``timeout``: a cold start can take minutes."""


class TransportError(ClarifaiError):
    """The RPC failed below the API: connection, TLS, deadline, server crash.

    ``grpc_code`` is a ``grpc.StatusCode``; ``details`` the text gRPC gave with it; ``req_id``
    the request id the server sent back, if it sent one; ``too_large`` whether a message was
    over gRPC's size limit (``RESOURCE_EXHAUSTED`` then says so, not a throttle: resending it
    meets the same limit).
    """

    too_large = False

    def __init__(self, grpc_code: grpc.StatusCode, details: str = "", req_id: str = "") -> None:
        self.grpc_code = grpc_code
        self.details = details
        self.req_id = req_id
        text = f"gRPC {grpc_code.name}"
        text = f"{text}: {details}" if details else text
        super().__init__(f"{text} (req_id={req_id})" if req_id else text)


class DeadlineExceededError(TransportError):
    """The call's deadline expired, retries and chunks included."""

    def __init__(self, details: str = "deadline exceeded", req_id: str = "") -> None:
        super().__init__(grpc.StatusCode.DEADLINE_EXCEEDED, details, req_id)


class InputError(ClarifaiError, ValueError):
    """Bad input or arguments, caught before anything was sent.

    ``param`` names the argument at fault as the call spells it (``"pat"``, ``"user_id"``,
    ``"timeout"``, ``"output_config"``, ``"inputs[3]"``, ...), or is ``None``; a front end can
    name its own flag from it instead of reading the message.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class PredictionError(ClarifaiError):
    """Raised by ``WorkflowPrediction.raise_for_status()`` when some inputs failed.

    ``failed`` holds ``(index, WorkflowResult)`` pairs, in input order.
    """

    def __init__(self, message: str, failed: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.failed = failed


def _rebuild(
    cls: type[ClarifaiError], args: tuple[Any, ...], state: dict[str, Any]
) -> ClarifaiError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


# --- mapping -----------------------------------------------------------------------------

_AUTH_CODES = frozenset(
    {
        status_code_pb2.CONN_KEY_INVALID,
        status_code_pb2.CONN_CREDENTIALS_INVALID,
        status_code_pb2.CONN_KEY_NOT_FOUND,
        status_code_pb2.CONN_TOKEN_INVALID,
    }
)
_RATE_LIMIT_CODES = frozenset({CONN_THROTTLED})
_INVALID_REQUEST = re.compile(r"INVALID_(ARGUMENT|REQUEST|RANGE)|BAD_REQUEST")
# Refusals of the request's contents whose names the pattern above does not catch: an input of a
# kind the workflow does not take (an image sent to a text workflow).
_INVALID_REQUEST_CODES = frozenset({status_code_pb2.INPUT_UNSUPPORTED_FORMAT})
#: The metadata key carrying the API's request id.
REQUEST_ID_KEY = "x-clarifai-request-id"


@lru_cache(maxsize=512)
def api_error_class(code: int) -> type[ApiError]:
    """The ``ApiError`` subclass for a Clarifai status code, decided by its enum name."""
    name = status_name(code)
    if code in _AUTH_CODES:
        return AuthenticationError
    if code in DEPLOYING_CODES:
        return ModelDeployingError
    if name == "CONN_INSUFFICIENT_SCOPES" or name.endswith("_PERMISSION_DENIED"):
        return PermissionDeniedError
    if name.endswith(("_DOES_NOT_EXIST", "_NOT_FOUND")):
        return NotFoundError
    if code in _RATE_LIMIT_CODES or name.startswith("CONN_EXCEED"):
        return RateLimitError
    if code in _INVALID_REQUEST_CODES or _INVALID_REQUEST.search(name):
        return InvalidRequestError
    return ApiError


def from_status(status: status_pb2.Status) -> ApiError:
    """The typed error for a failing in-band ``status_pb2.Status``."""
    return api_error_class(status.code)(
        status.code, status.description, status.details, status.req_id
    )


def from_rpc_error(exc: grpc.RpcError) -> ClarifaiError:
    """The typed error for a failed RPC, caused by it (raised, it reads ``raise ... from exc``)."""
    code = _call(exc, "code")
    details = _call(exc, "details") or ""
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    req_id = ""
    for key, value in _call(exc, "trailing_metadata") or ():
        if key == REQUEST_ID_KEY and isinstance(value, str):
            req_id = value
    error: ClarifaiError
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        error = DeadlineExceededError(details or "deadline exceeded", req_id)
    elif code is grpc.StatusCode.UNAUTHENTICATED:
        error = AuthenticationError(FAILURE, details, f"gRPC {code.name}", req_id, grpc_code=code)
    elif code is grpc.StatusCode.PERMISSION_DENIED:
        error = PermissionDeniedError(FAILURE, details, f"gRPC {code.name}", req_id, grpc_code=code)
    else:
        error = TransportError(code, details, req_id)
        # gRPC reports a message over its size limit as RESOURCE_EXHAUSTED, in words only.
        error.too_large = (
            code is grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details
        )
    error.__cause__ = exc
    return error


def _call(exc: Any, name: str) -> Any:
    method = getattr(exc, name, None)
    return method() if callable(method) else None
