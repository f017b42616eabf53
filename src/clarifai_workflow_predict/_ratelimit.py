"""Pacing requests: a token bucket, and a client rate limiter that adapts to the API's throttling.

The adaptive limiter is modelled on the AWS SDKs' adaptive retry mode: nothing is paced until
the API throttles; from then on every request takes a token from a bucket whose fill rate is cut
on each throttle and grown back along a CUBIC curve (Ha, Rhee and Xu, "CUBIC: A New TCP-Friendly
High-Speed TCP Variant", 2008; RFC 8312) while calls succeed, never above twice the rate actually
sent. A throttle that states the account's limit ("exceeded limit of N requests per second")
also caps the rate at N. The constants below differ from AWS's where API accounts differ from
TCP links, each for the reason given beside it: several clients (threads, processes, machines)
sharing one PAT's limit converge on it without talking to each other.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

__all__ = ["RateLimiter", "TokenBucket", "check_rate_limit"]

#: Requests per second the adaptive rate never goes below.
MIN_RATE = 0.5
#: The cut on a throttle: the new rate is this times the rate that was throttled. Deeper than
#: CUBIC's 0.7: an account's token bucket banks what the dip leaves unused, so little is lost,
#: and the longer respite lets clients sharing the limit settle.
BETA = 0.5
#: The rate recovers towards this share of the rate that was throttled, not all of it: that
#: rate overran the limit, and going straight back to it overruns it again (CUBIC's "fast
#: convergence" lowers its target likewise when flows share a link).
SETTLE = 0.7
#: Seconds after a cut in which further throttles do not cut again: they answer requests that
#: met the account's bucket before it could refill, not a rate still too high (TCP likewise
#: cuts once per round trip).
HOLD = 1.0
#: CUBIC's C, in units of the account's limit (when a throttle has said it, else of the peak):
#: after a cut the rate follows ``peak + CUBIC * limit * (t - K) ** 3``, back at the peak after
#: ``K = cbrt(peak * (1 - BETA) / (CUBIC * limit))`` seconds: about 4.4 s for one client at 70%
#: of the limit, 2.8 s for a quarter of that. As in CUBIC, K grows with the peak, so a client
#: holding less than its share regains its rate sooner than the others do theirs: clients
#: sharing one limit even out. (A K fixed for every peak keeps whatever shares the first
#: seconds dealt, and the client left with the least finishes a shared job last, alone.)
CUBIC = 0.004
#: Past the peak, the rate grows by ``PROBE`` of the account's limit (when a throttle has said
#: it, else of the peak) per second, plus a cubic term that reaches ``CONVEX`` of it after
#: ``LATE`` seconds without a throttle. CUBIC's convex growth, which starts at once, suits one
#: flow looking for spare room; clients sharing one limit would, all probing that fast, overrun
#: it within seconds. So the probe starts gently and in the same absolute steps for every client
#: (so their shares even out, as with TCP's additive increase), and speeds up only when no
#: throttle has come for a while: when the others have finished, the last client takes the
#: whole limit within seconds.
PROBE = 0.005
CONVEX = 0.5
LATE = 8.0
#: The sent rate is measured over the last this many seconds, or over the time the last
#: ``SAMPLES`` requests took at a slower pace, so a low rate is not read as zero.
WINDOW = 1.0
SAMPLES = 4


# A token counts as there a hair before it is whole: refills sum floats, and a wait computed to
# the exact moment must find the token then.
_ONE = 1 - 1e-9


class TokenBucket:
    """``capacity`` tokens refilled at ``rate`` per second; ``take`` takes one if it is there,
    ``wait`` says how long until one is."""

    __slots__ = ("rate", "capacity", "tokens", "_stamp")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self._stamp = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self, now: float) -> bool:
        """Take a token if one is there."""
        self.refill(now)
        if self.tokens >= _ONE:
            self.tokens -= 1
            return True
        return False

    def wait(self) -> float:
        """Seconds until the next token (after a ``take`` that found none)."""
        return (1 - self.tokens) / self.rate


def check_rate_limit(value: object) -> str | float | None:
    """``"adaptive"``, ``None``, or a positive number of requests per second, else InputError."""
    if value is None or value == "adaptive":
        return value  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
        from .errors import InputError

        raise InputError(
            "rate_limit must be 'adaptive', None, or a number of requests per second > 0, "
            f"got {value!r}"
        )
    return float(value)


class RateLimiter:
    """The pace of one client's requests, shared by all its chunks, threads and tasks.

    ``RateLimiter("adaptive")`` sends freely until the first throttle; ``RateLimiter(5.0)``
    paces at 5 requests/s from the start and adapts below that ceiling. Thread-safe; every
    method is a few arithmetic steps under a lock that is never held while waiting.
    """

    def __init__(self, mode: str | float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = None if mode == "adaptive" else float(mode)
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._bucket = TokenBucket(self.ceiling or MIN_RATE, 1.0, now)
        self.pacing = self.ceiling is not None
        #: Bumped on each cut; a throttle for a request sent before the last cut is the same
        #: congestion already answered, so it does not cut again.
        self.generation = 0
        self.throttles = 0
        self._peak = self.ceiling or 0.0  # the rate that was last throttled (CUBIC's W_max)
        self._cut_at = now
        self._k = 0.0  # seconds from the cut back to the peak (CUBIC's K)
        self._booked: deque[float] = deque()  # when each recent request was sent

    @property
    def rate(self) -> float | None:
        """Requests per second the client is paced at now; ``None`` while it is not paced."""
        return self._bucket.rate if self.pacing else None

    def acquire(self) -> float:
        """Take the next request's token: 0.0 when it may go now, else the seconds to wait
        before asking again (nothing is taken then, so a rate changed meanwhile applies)."""
        with self._lock:
            now = self._clock()
            if self.pacing and not self._bucket.take(now):
                return self._bucket.wait()
            self._booked.append(now)
            self._trim(now)  # else a client never throttled would keep every send time
            return 0.0

    def throttled(self, generation: int, limit: float | None = None) -> None:
        """The API throttled a request sent at ``generation``: cut the rate. ``limit`` is the
        account's limit when the throttle said it; the rate never probes above it again."""
        with self._lock:
            self.throttles += 1
            if limit is not None and limit > 0:
                self.ceiling = min(self.ceiling or limit, limit)
            now = self._clock()
            if generation != self.generation or (self.generation and now - self._cut_at < HOLD):
                return
            sent = self._sent(now)
            if self.pacing:
                sent = min(sent, self._bucket.rate)
            self._peak = max(min(sent * SETTLE, self.ceiling or sent), MIN_RATE)
            self._cut_at = now
            self._k = (self._peak * (1 - BETA) / (CUBIC * (self.ceiling or self._peak))) ** (1 / 3)
            self.generation += 1
            self._set_rate(self._peak * BETA, now)
            self.pacing = True

    def succeeded(self) -> None:
        """The API answered without throttling: grow the rate back along the CUBIC curve."""
        if not self.generation:  # never throttled: free, or at the ceiling given
            return
        with self._lock:
            now = self._clock()
            since = now - self._cut_at - self._k
            scale = self.ceiling or self._peak
            if since < 0:  # CUBIC's concave part: back towards the peak, fast then gently
                grown = self._peak + CUBIC * scale * since**3
            else:  # past the peak: probe slowly (see PROBE)
                grown = self._peak + scale * (PROBE * since + CONVEX * (since / LATE) ** 3)
            self._set_rate(min(grown, 2 * self._sent(now)), now)

    def _set_rate(self, rate: float, now: float) -> None:
        bucket = self._bucket
        bucket.refill(now)
        bucket.rate = min(max(rate, MIN_RATE), self.ceiling or float("inf"))

    def _sent(self, now: float) -> float:
        """Requests per second sent lately (see ``WINDOW`` and ``SAMPLES``)."""
        span = self._trim(now)
        return len(self._booked) / span

    def _trim(self, now: float) -> float:
        """Forget the sends older than the span the rate is measured over; returns the span."""
        span = max(WINDOW, SAMPLES / self._bucket.rate) if self.pacing else WINDOW
        booked = self._booked
        while booked and booked[0] <= now - span:
            booked.popleft()
        return span
