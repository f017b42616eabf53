"""The retry schedule and the call deadline, with no I/O: clients bring the RPC and the sleep.

One retry layer, in this library, for sync and async alike. A call has one monotonic deadline;
each attempt gets what remains of it, and no backoff sleeps past it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import grpc

from .errors import (
    RETRYABLE_STATUS_CODES,
    ClarifaiError,
    DeadlineExceededError,
    InputError,
    from_rpc_error,
    from_status,
    retryable,
)

__all__ = ["RetryPolicy", "Deadline", "Attempts"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed attempts are retried.

    Retried: gRPC ``UNAVAILABLE`` and ``RESOURCE_EXHAUSTED``, and the in-band codes
    ``CONN_THROTTLED``, ``MODEL_DEPLOYING``, ``MODEL_BUSY_PLEASE_RETRY``, ``MODEL_LOADING``,
    ``RPC_REQUEST_QUEUE_FULL`` and ``RPC_SERVER_UNAVAILABLE``. ``max_attempts`` counts the first
    attempt. The n-th retry waits ``min(max_backoff, initial_backoff * backoff_multiplier**(n-1))``
    seconds, scaled by a random factor in ``[1 - jitter, 1 + jitter]`` and capped at
    ``max_backoff``.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    backoff_multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if type(self.max_attempts) is not int or self.max_attempts < 1:
            raise InputError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        for name in ("initial_backoff", "max_backoff", "backoff_multiplier", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise InputError(f"{name} must be a number, got {value!r}")
        if self.initial_backoff < 0 or self.max_backoff < self.initial_backoff:
            raise InputError("backoffs must satisfy 0 <= initial_backoff <= max_backoff")
        if self.backoff_multiplier < 1:
            raise InputError(f"backoff_multiplier must be >= 1, got {self.backoff_multiplier!r}")
        if not 0 <= self.jitter < 1:
            raise InputError(f"jitter must be in [0, 1), got {self.jitter!r}")

    def backoff(self, retry: int, rand: float) -> float:
        """Seconds before retry number ``retry`` (1-based); ``rand`` is uniform in [0, 1)."""
        base = min(self.max_backoff, self.initial_backoff * self.backoff_multiplier ** (retry - 1))
        return min(self.max_backoff, base * (1 - self.jitter + 2 * self.jitter * rand))


_NO_RETRY = RetryPolicy(max_attempts=1)


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


class Attempts:
    """The attempts of one request: how long each may take, and whether to try again.

    A client calls ``timeout()`` before each attempt and ``retry_delay()`` after it; the client
    itself only sends and sleeps.
    """

    __slots__ = ("_policy", "_deadline", "_rand", "attempt", "_last")

    def __init__(
        self,
        policy: RetryPolicy | None,
        deadline: Deadline,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self._policy = policy or _NO_RETRY
        self._deadline = deadline
        self._rand = rand
        self.attempt = 0
        self._last: ClarifaiError | None = None

    def timeout(self) -> float | None:
        """The timeout for the next attempt; ``DeadlineExceededError`` when none remains."""
        self.attempt += 1
        remaining = self._deadline.remaining()
        if remaining is not None and remaining <= 0:
            error = DeadlineExceededError(
                f"deadline of {self._deadline.timeout}s expired before attempt {self.attempt}"
            )
            raise error from self._last
        return remaining

    def retry_delay(self, answer: Any) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` when ``answer`` is final.

        ``answer`` is the attempt's response, or the ``grpc.RpcError`` it raised. A response is
        retried for a retryable in-band status while attempts and time remain, else it is final.
        An RPC error is retried likewise; when it is final, its typed error is raised from it.
        """
        if isinstance(answer, grpc.RpcError):
            error = from_rpc_error(answer)
            if retryable(error):
                delay = self._delay(error)
                if delay is not None:
                    return delay
            raise error from answer
        if answer.status.code not in RETRYABLE_STATUS_CODES:
            return None
        return self._delay(from_status(answer.status))

    def _delay(self, error: ClarifaiError) -> float | None:
        if self.attempt >= self._policy.max_attempts:
            return None
        delay = self._policy.backoff(self.attempt, (self._rand or _random)())
        remaining = self._deadline.remaining()
        if remaining is not None and delay >= remaining:
            # Sleeping would outlast the deadline: report the real failure now.
            return None
        self._last = error
        log.debug(
            "attempt %d of %d failed (%s); retrying in %.3fs",
            self.attempt,
            self._policy.max_attempts,
            error,
            delay,
        )
        return delay
