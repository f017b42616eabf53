"""The retry schedule, the call deadline and client-side pacing, with no I/O: clients bring the
RPC and the sleep.

One retry layer, in this library, for sync and async alike. A call has one monotonic deadline;
each attempt gets what remains of it (or less, with a per-attempt cap), and no backoff or pacing
wait runs past it. A client drives one request's attempts like this::

    attempts = Attempts(policy, deadline, limiter)
    while (pause := attempts.pace()) is not None:
        if pause:  # held back by the rate limiter: ask again after the pause
            sleep(pause)
            continue
        answer = send(timeout=attempts.timeout())  # the response, or the typed error
        if (delay := attempts.retry_delay(answer)) is None:
            break
        sleep(delay)
    return attempts.final()  # the response, or the error to raise (``attempts`` set)
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Union

import grpc

from . import _tracing
from .errors import (
    BUSY_CODES,
    CONN_THROTTLED,
    DEPLOYING_CODES,
    FAILURE,
    MIXED_STATUS,
    SUCCESS,
    ClarifaiError,
    DeadlineExceededError,
    InputError,
    from_status,
)

__all__ = ["AttemptOutcome", "Attempts", "Deadline", "DEPLOYING_POLL", "RetryPolicy", "accepted"]

log = logging.getLogger(__name__)

#: The shortest first wait before resending a throttled request: the account's bucket needs
#: time to refill (the AWS SDKs likewise back off from 0.5 s, not 0.1 s, on throttling).
THROTTLED_BACKOFF = 0.5
#: The longest wait between polls of a model that is deploying. A cold start ends at a moment
#: nobody knows; polling this often answers within about this long of the model being ready,
#: and one poll per request every second and a half is no load on the API.
DEPLOYING_POLL = 1.5


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed attempts are retried.

    Retried up to ``max_attempts`` attempts in all (the first included): gRPC codes in
    ``retry_grpc_codes`` (``UNAVAILABLE``, ``RESOURCE_EXHAUSTED``) and in-band statuses in
    ``retry_status_codes`` (``CONN_THROTTLED``, ``MODEL_BUSY_PLEASE_RETRY``,
    ``RPC_REQUEST_QUEUE_FULL``, ``RPC_SERVER_UNAVAILABLE``, ``QUEUE_CONN_ERROR``,
    ``TRY_AGAIN``). Retried until the call's deadline instead: ``deploying_status_codes``
    (``MODEL_DEPLOYING``, ``MODEL_QUEUED_FOR_DEPLOYMENT``, ``MODEL_LOADING``), a model's cold
    start, whether the response says it at the top or on every output of every result (where
    older API versions put it); if the deadline ends first, the call raises
    ``ModelDeployingError``. Add or remove codes with ``dataclasses.replace``.

    The n-th retry waits ``min(max_backoff, initial_backoff * backoff_multiplier**(n-1))``
    seconds, scaled by a random factor in ``[1 - jitter, 1 + jitter]`` and capped at
    ``max_backoff`` (and, while a model deploys, at ``DEPLOYING_POLL`` seconds).
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    backoff_multiplier: float = 2.0
    jitter: float = 0.2
    retry_grpc_codes: frozenset[grpc.StatusCode] = field(
        default=frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
    )
    retry_status_codes: frozenset[int] = BUSY_CODES
    deploying_status_codes: frozenset[int] = DEPLOYING_CODES

    def __post_init__(self) -> None:
        if type(self.max_attempts) is not int or self.max_attempts < 1:
            raise InputError(
                f"max_attempts must be an int >= 1, got {self.max_attempts!r}", param="max_attempts"
            )
        for name in ("initial_backoff", "max_backoff", "backoff_multiplier", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise InputError(f"{name} must be a number, got {value!r}", param=name)
        if self.initial_backoff < 0 or self.max_backoff < self.initial_backoff:
            raise InputError(
                "backoffs must satisfy 0 <= initial_backoff <= max_backoff", param="initial_backoff"
            )
        if self.backoff_multiplier < 1:
            raise InputError(
                f"backoff_multiplier must be >= 1, got {self.backoff_multiplier!r}",
                param="backoff_multiplier",
            )
        if not 0 <= self.jitter < 1:
            raise InputError(f"jitter must be in [0, 1), got {self.jitter!r}", param="jitter")
        _set_codes(self, "retry_grpc_codes", grpc.StatusCode)
        _set_codes(self, "retry_status_codes", int)
        _set_codes(self, "deploying_status_codes", int)

    def backoff(
        self, retry: int, rand: float, cap: float | None = None, start: float = 0.0
    ) -> float:
        """Seconds before retry number ``retry`` (1-based); ``rand`` is uniform in [0, 1);
        ``cap`` lowers ``max_backoff``; ``start`` raises ``initial_backoff``."""
        top = self.max_backoff if cap is None else min(cap, self.max_backoff)
        first = max(self.initial_backoff, start)
        base = min(top, first * self.backoff_multiplier ** (retry - 1))
        return min(top, base * (1 - self.jitter + 2 * self.jitter * rand))


def _set_codes(policy: RetryPolicy, name: str, kind: type) -> None:
    value: Any = getattr(policy, name)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InputError(f"{name} must be a set of codes, got {type(value).__name__}", param=name)
    codes = frozenset(value)
    if not all(isinstance(c, kind) and not isinstance(c, bool) for c in codes):
        raise InputError(
            f"{name} must hold {kind.__name__} codes, got {sorted(map(str, codes))}", param=name
        )
    object.__setattr__(policy, name, codes)


_NO_RETRY = RetryPolicy(max_attempts=1, deploying_status_codes=frozenset())
# How a throttled response states the account's limit (Clarifai's rate-limit page; the emulator).
_LIMIT = re.compile(r"limit of (\d+(?:\.\d+)?) requests per second")


def accepted(response: Any) -> bool:
    """Whether ``response`` answers each input (any other is the request's failure): its status
    is ``SUCCESS`` or ``MIXED_STATUS``, or ``FAILURE`` with results, which is how the API says
    that every input failed, each with its own status."""
    code = response.status.code
    return (
        code == SUCCESS or code == MIXED_STATUS or (code == FAILURE and len(response.results) > 0)
    )


def _deploying_status(response: Any, codes: frozenset[int]) -> Any:
    """The status saying a model is deploying (a code in ``codes``): the response's own, or,
    where older API versions put it, the one on every output of every result; else ``None``."""
    status = response.status
    if status.code in codes:
        return status
    if status.code == SUCCESS or not codes or not response.results:
        return None  # a response that succeeded has no output waiting for its model
    found = None
    for result in response.results:
        if not result.outputs:
            return None
        for output in result.outputs:
            if output.status.code not in codes:
                return None
            found = output.status
    return found


class Deadline:
    """One monotonic deadline for a whole call; ``timeout=None`` never expires."""

    __slots__ = ("_end", "_clock", "timeout")

    def __init__(self, timeout: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._clock = clock
        self._end = None if timeout is None else clock() + timeout

    def remaining(self) -> float | None:
        """Seconds left (may be negative), or ``None`` without a deadline."""
        return None if self._end is None else self._end - self._clock()


def _random() -> float:
    import random  # only a retry needs it; keeps it off the import path

    global _random
    _random = random.random
    return _random()


#: What one attempt gave: the response, or the typed error of a failed RPC.
AttemptOutcome = Union[Any, ClarifaiError]


class Attempts:
    """The attempts of one request: when each may start, how long it may take, whether to try
    again, and what the request's outcome is. Decides from answers only and never raises.

    ``per_attempt`` caps each attempt below what remains of the deadline. ``limiter`` (a
    ``RateLimiter``) paces the attempts and learns from their answers. ``span`` (an
    OpenTelemetry span) gets a child span per attempt and an event per retry or throttle.
    """

    __slots__ = (
        "_policy",
        "_deadline",
        "_limiter",
        "_per_attempt",
        "_rand",
        "_generation",
        "attempt",
        "_answer",
        "_deploying",
        "_stopped",
        "_span",
        "_attempt_span",
    )

    def __init__(
        self,
        policy: RetryPolicy | None,
        deadline: Deadline,
        limiter: Any = None,
        *,
        per_attempt: float | None = None,
        rand: Callable[[], float] | None = None,
        span: Any = None,
    ) -> None:
        self._policy = policy or _NO_RETRY
        self._deadline = deadline
        self._limiter = limiter
        self._per_attempt = per_attempt
        self._rand = rand
        self._generation = 0
        self.attempt = 0
        self._answer: AttemptOutcome | None = None
        # The last answer saying a model is deploying, and the status that says so.
        self._deploying: tuple[Any, Any] | None = None
        self._stopped = ""  # why no further attempt could start, when that ended the request
        self._span = span  # the request's OpenTelemetry span, if tracing
        self._attempt_span: Any = None

    def pace(self) -> float | None:
        """0.0 when the next attempt may go now; seconds to sleep before asking again when the
        rate limiter holds it back; ``None`` when no attempt can start within the deadline."""
        remaining = self._deadline.remaining()
        if remaining is not None and remaining <= 0:
            self._stopped = f"deadline of {self._deadline.timeout}s expired"
            return None
        limiter = self._limiter
        if limiter is None:
            return 0.0
        self._generation = limiter.generation
        wait = limiter.acquire()
        if remaining is not None and wait >= remaining:
            self._stopped = (
                f"deadline of {self._deadline.timeout}s would pass while waiting for the "
                f"client's rate limit ({limiter.rate:.2g} requests/s)"
            )
            return None
        return wait

    def timeout(self) -> float | None:
        """The timeout for the attempt about to be sent (and it counts as made)."""
        self.attempt += 1
        if self._span is not None:
            self._attempt_span = _tracing.attempt_span(self._span, self.attempt)
        remaining = self._deadline.remaining()
        cap = self._per_attempt
        if remaining is None:
            return cap
        remaining = max(remaining, 0.001)
        return remaining if cap is None else min(cap, remaining)

    def retry_delay(self, answer: AttemptOutcome) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` when ``answer`` is final.

        ``answer`` is the attempt's response, or the ``ClarifaiError`` its RPC failed with.
        """
        self._answer = answer
        if self._attempt_span is not None:
            self._traced(answer)
        policy = self._policy
        if isinstance(answer, ClarifaiError):
            throttled = _throttled_rpc(answer)
            if throttled:
                self._throttled()
            if not (_retryable_rpc(answer, policy) and self.attempt < policy.max_attempts):
                return None
            return self._delay(answer, None, THROTTLED_BACKOFF if throttled else 0.0)
        deploying = _deploying_status(answer, policy.deploying_status_codes)
        if deploying is not None:
            self._deploying = (answer, deploying)
            self._succeeded()
            return self._delay(answer, DEPLOYING_POLL)
        self._deploying = None
        code = answer.status.code
        throttled = code == CONN_THROTTLED
        if throttled:
            self._throttled(answer.status.details)
        else:
            self._succeeded()
        if code not in policy.retry_status_codes or self.attempt >= policy.max_attempts:
            return None
        return self._delay(answer, None, THROTTLED_BACKOFF if throttled else 0.0)

    def final(self, *, raw: bool = False) -> AttemptOutcome:
        """The request's outcome, with ``attempts`` set on an error: the last response, or the
        error to raise. A response with a failing status becomes its typed error unless ``raw``
        (``predict_request`` returns responses unchanged). When the deadline ended the request
        while its model was still deploying, the outcome is that deploying answer (as an error,
        ``ModelDeployingError``)."""
        answer = self._answer
        deploying = self._deploying
        if deploying is not None and (
            self._stopped or isinstance(answer, DeadlineExceededError) or answer is deploying[0]
        ):
            response, status = deploying
            if raw:
                answer = response
            else:
                cause = answer if isinstance(answer, ClarifaiError) else None
                answer = from_status(status)
                answer.__cause__ = cause
        elif self._stopped or answer is None:
            error = DeadlineExceededError(f"{self._stopped} before attempt {self.attempt + 1}")
            error.__cause__ = _error_of(answer)
            answer = error
        elif not (raw or isinstance(answer, ClarifaiError) or accepted(answer)):
            answer = from_status(answer.status)
        if isinstance(answer, ClarifaiError):
            answer.attempts = self.attempt
        return answer

    def _delay(self, answer: AttemptOutcome, cap: float | None, start: float = 0.0) -> float | None:
        delay = self._policy.backoff(self.attempt, (self._rand or _random)(), cap, start)
        remaining = self._deadline.remaining()
        if remaining is not None and delay >= remaining:
            return None  # sleeping would outlast the deadline: the last answer is the outcome
        log.debug(
            "attempt %d failed (%s); retrying in %.3fs",
            self.attempt,
            _describe(answer),
            delay,
        )
        if self._span is not None:
            reason = _describe(answer)
            _tracing.event(self._span, "retry", attempt=self.attempt, delay_s=delay, reason=reason)
        return delay

    def _traced(self, answer: AttemptOutcome) -> None:
        """End the attempt's span with what it gave."""
        span, self._attempt_span = self._attempt_span, None
        if isinstance(answer, ClarifaiError):
            _tracing.end(span, getattr(answer, "req_id", ""), answer)
        else:
            status = answer.status
            failed = None if accepted(answer) else from_status(status)
            _tracing.end(span, status.req_id, failed)

    def _throttled(self, details: str = "") -> None:
        if self._span is not None:
            _tracing.event(self._span, "throttled", attempt=self.attempt)
        if self._limiter is not None:
            found = _LIMIT.search(details)
            self._limiter.throttled(self._generation, float(found[1]) if found else None)

    def _succeeded(self) -> None:
        if self._limiter is not None:
            self._limiter.succeeded()


def _retryable_rpc(error: ClarifaiError, policy: RetryPolicy) -> bool:
    code = getattr(error, "grpc_code", None)
    if code not in policy.retry_grpc_codes:
        return False
    # gRPC also reports a message over the size limit as RESOURCE_EXHAUSTED; resending it
    # meets the same limit.
    return not _too_large(error)


def _throttled_rpc(error: ClarifaiError) -> bool:
    return getattr(
        error, "grpc_code", None
    ) is grpc.StatusCode.RESOURCE_EXHAUSTED and not _too_large(error)


def _too_large(error: ClarifaiError) -> bool:
    return getattr(error, "too_large", False) is True


def _describe(answer: AttemptOutcome) -> str:
    if isinstance(answer, ClarifaiError):
        return str(answer)
    return str(from_status(answer.status))


def _error_of(answer: AttemptOutcome) -> ClarifaiError | None:
    if answer is None or isinstance(answer, ClarifaiError):
        return answer
    return None if accepted(answer) else from_status(answer.status)
