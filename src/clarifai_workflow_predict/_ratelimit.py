"""Pacing requests: a token bucket, and a client rate limiter that adapts to the API's throttling.

The adaptive limiter has the shape of the AWS SDKs' adaptive retry mode: every request takes a
token from a bucket; the send rate is measured; a throttle cuts the bucket's rate and success
grows it back along a CUBIC curve (Ha, Rhee and Xu, "CUBIC: A New TCP-Friendly High-Speed TCP
Variant", 2008; RFC 8312), never above twice the rate actually sent. A throttle that states the
account's limit ("exceeded limit of N requests per second") also caps the rate at N.

Unlike the AWS mode, which sends freely until the first throttle, a client starts gently, with
TCP's slow start (RFC 5681, section 3.1): paced from a low rate that grows multiplicatively while
calls succeed (by a fixed amount per answered request, as the window grows by a segment per
acknowledgement), until the first throttle. That throttle ends the slow start: CUBIC takes over,
its peak (W_max) set to this client's share of what the account let through in the overrun. So
N processes starting together on one PAT open with about one throttle each, not a burst of them,
and the account's limit ends up shared without the clients talking to each other. A slow start
that outgrows the client's needs (it is no longer what holds requests back, or it passes
``UNPACED``) stops pacing until a throttle, as the AWS mode does.

The constants differ from TCP's and AWS's where API accounts differ from TCP links; each has its
reason beside it. ``bench/case_pacing.py`` simulates clients sharing a limit over this class, and
``docs/scale.md`` has its figures.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

__all__ = ["RateLimiter", "TokenBucket", "check_rate_limit"]

#: Requests per second the adaptive rate never goes below.
MIN_RATE = 0.5
#: The slow start's first pace, in requests per second: low enough that a few clients starting
#: together open under a default account's limit (15/s), high enough that one client alone
#: reaches that limit within about a second.
INITIAL = 2.0
#: Requests per second added to the pace per answered request in the slow start, so the pace
#: doubles about every 0.35 s while calls succeed. Quick, so that clients sharing a limit overrun
#: it together and take their first throttles within a fraction of a second of each other: with
#: a slower start the first throttled clients back off while the last ones go on growing, and the
#: shares the slow start deals stay lopsided for the rest of a job.
GROWTH = 2.0
#: Past this rate a slow start stops pacing until a throttle, as the AWS mode before its first
#: one: a client this fast is alone on a large limit, or on a server without one, and pacing it
#: further would only hold its requests back (about 30 calls after the start).
UNPACED = 64.0
#: The adaptive bucket holds this many seconds' worth of the rate, as the account's own bucket
#: does: a client that was idle may send a few requests at once (a chunked call, a new batch),
#: which the account's bucket has banked for it too, while its average stays paced. (A ceiling
#: the caller gives is kept to the request: its bucket holds one token.)
BURST = 1.0
#: At its first throttle a slow start's send rate is this many times its share of the limit:
#: the account's bucket has just run dry, so over the last second it let through its refill and
#: the burst it had banked, twice the limit (RFC 5681 likewise halves the window at the end of a
#: slow start). The client's share, its sends over that second divided by this, is CUBIC's peak.
OVERSHOOT = 2.0
#: The overshoot when the throttle comes within the client's first second: its sends are then
#: counted over its life, during which the others were in their steepest growth too, and they
#: overran the limit about three times over (measured by ``bench/case_pacing.py``). Between the
#: ages in ``EARLY`` (seconds) the two blend, so clients throttled on either side of one second
#: take about the same share.
EARLY_OVERSHOOT = 3.0
EARLY = (0.85, 1.15)
#: The slow start ends at this share of the peak, which CUBIC then regains (RFC 8312's beta):
#: the account's bucket, run dry by the overrun, refills meanwhile.
LEAVE = 0.7
#: The cut on a later throttle: the rate drops to this share of the peak it sets (``SETTLE``)
#: and CUBIC regains it. Deeper than CUBIC's 0.7: an account's token bucket banks what the dip
#: leaves unused, so little is lost, and the longer respite spaces the throttles of clients
#: sharing the limit.
BETA = 0.5
#: The peak a later throttle sets: this share of the rate that was throttled (CUBIC's "fast
#: convergence" lowers its target likewise when flows share a link), so the client that overran
#: gives a little room to the others.
SETTLE = 0.9
#: Seconds after a cut in which further throttles do not cut again: they answer requests that
#: met the account's bucket before it could refill, not a rate still too high (TCP likewise
#: cuts once per round trip).
HOLD = 2.0
#: CUBIC's C, in units of the account's limit (when a throttle has said it, else of the peak):
#: after a cut the rate follows ``peak + CUBIC * limit * (t - K) ** 3``, back at the peak after
#: ``K = cbrt(peak * (1 - beta) / (CUBIC * limit))`` seconds: about 3 s for a quarter of the
#: limit, 5 s for all of it. As in CUBIC, K grows with the peak, so a client holding less than
#: its share regains its rate sooner than the others do theirs.
CUBIC = 0.004
#: Past the peak the rate grows by ``PROBE * limit * (t - K) ** 3``: barely for seconds (clients
#: sharing a limit that all probed at once would overrun it, at a throttle each), then faster,
#: +7% of the limit 10 s past the peak, +56% after 20 s. So when the others sharing the limit
#: have finished, the last client grows into the room they left.
PROBE = 7e-5
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
            f"got {value!r}",
            param="rate_limit",
        )
    return float(value)


class RateLimiter:
    """The pace of one client's requests, shared by all its chunks, threads and tasks.

    ``RateLimiter("adaptive")`` starts with a slow start: paced at ``INITIAL`` requests/s, the
    pace growing while calls succeed, until the first throttle (then CUBIC), or until the pace no
    longer holds the client back (then it sends freely until a throttle). ``RateLimiter(5.0)``
    does the same below a ceiling of 5 requests/s, and paces at most at 5 from the start.
    Thread-safe; every method is a few arithmetic steps under a lock that is never held while
    waiting.
    """

    def __init__(self, mode: str | float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = None if mode == "adaptive" else float(mode)
        self._burst = BURST if self.ceiling is None else 0.0
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._bucket = TokenBucket(min(INITIAL, self.ceiling or INITIAL), 1.0, now)
        self._bucket.capacity = max(1.0, self._bucket.rate * self._burst)  # one token to start
        self.pacing = True
        #: In the slow start: until the first throttle, or until it stops pacing.
        self.starting = True
        #: Bumped on each cut; a throttle for a request sent before the last cut is the same
        #: congestion already answered, so it does not cut again.
        self.generation = 0
        self.throttles = 0
        self._peak = self.ceiling or 0.0  # the rate CUBIC returns to (its W_max)
        self._cut_at = now
        self._k = 0.0  # seconds from the cut back to the peak (CUBIC's K)
        self._booked: deque[float] = deque()  # when each recent request was sent
        self._first: float | None = None  # when the first request was sent
        self._held = float("-inf")  # when the pace last held a request back

    @property
    def rate(self) -> float | None:
        """Requests per second the client paces at now, or ``None`` while it does not pace.

        A new client paces (its slow start), so this is a number from the start; it becomes
        ``None`` when the slow start stops pacing a client that outgrew it, and a number again
        from the next throttle on.
        """
        return self._bucket.rate if self.pacing else None

    def acquire(self) -> float:
        """Take the next request's token: 0.0 when it may go now, else the seconds to wait
        before asking again (nothing is taken then, so a rate changed meanwhile applies)."""
        with self._lock:
            now = self._clock()
            if self.pacing and not self._bucket.take(now):
                self._held = now
                return self._bucket.wait()
            if self._first is None:
                self._first = now
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
            if self.starting:  # the end of the slow start: the peak is this client's share
                peak, beta = sent / self._overshoot(now), LEAVE
                self.starting = False
            else:
                peak, beta = sent * SETTLE, BETA
            self._peak = max(min(peak, self.ceiling or peak), MIN_RATE)
            self._cut_at = now
            self._k = (self._peak * (1 - beta) / (CUBIC * (self.ceiling or self._peak))) ** (1 / 3)
            self.generation += 1
            self._set_rate(self._peak * beta, now)
            self.pacing = True

    def succeeded(self) -> None:
        """The API answered without throttling: raise the slow start's pace, or grow the rate
        back along the CUBIC curve."""
        if not (self.starting or self.generation):  # sending freely, or at the ceiling given
            return
        with self._lock:
            now = self._clock()
            if self.starting:
                self._start(now)
                return
            since = now - self._cut_at - self._k
            scale = self.ceiling or self._peak
            # CUBIC's concave part back to the peak, fast then gently; past it, probe (PROBE).
            grown = self._peak + (CUBIC if since < 0 else PROBE) * scale * since**3
            self._set_rate(min(grown, 2 * self._sent(now)), now)

    def _start(self, now: float) -> None:
        """One more success in the slow start: grow the pace, or end the slow start when the
        pace no longer holds the client back or reaches its top."""
        rate, sent = self._bucket.rate, self._sent(now)
        # Not held back for a while and using less than half the pace: the client needs less
        # than it is given (RFC 7661's "application-limited").
        idle = now - self._held >= WINDOW and rate >= 2 * sent
        if idle or rate + GROWTH >= min(self.ceiling or UNPACED, UNPACED):
            self.starting = False
            if self.ceiling is None:
                self.pacing = False
            else:
                self._set_rate(self.ceiling, now)
        else:  # never past twice what is sent, as in the AWS mode: the sends measure the room
            self._set_rate(min(rate + GROWTH, max(rate, 2 * sent)), now)

    def _overshoot(self, now: float) -> float:
        """How many times its share of the limit the client sent at its first throttle (see
        ``OVERSHOOT`` and ``EARLY_OVERSHOOT``)."""
        age = now - (now if self._first is None else self._first)
        young, old = EARLY
        early = min(max((old - age) / (old - young), 0.0), 1.0)
        return OVERSHOOT + (EARLY_OVERSHOOT - OVERSHOOT) * early

    def _set_rate(self, rate: float, now: float) -> None:
        bucket = self._bucket
        bucket.refill(now)
        bucket.rate = min(max(rate, MIN_RATE), self.ceiling or float("inf"))
        bucket.capacity = max(1.0, bucket.rate * self._burst)
        bucket.tokens = min(bucket.tokens, bucket.capacity)

    def _sent(self, now: float) -> float:
        """Requests per second sent lately (see ``WINDOW`` and ``SAMPLES``)."""
        span = self._trim(now)
        return len(self._booked) / span

    def _trim(self, now: float) -> float:
        """Forget the sends older than the span the rate is measured over; returns the span,
        shortened to the client's age when it is younger."""
        span = max(WINDOW, SAMPLES / self._bucket.rate) if self.pacing else WINDOW
        booked = self._booked
        while booked and booked[0] <= now - span:
            booked.popleft()
        if self._first is not None:
            span = min(span, max(now - self._first, 1 / self._bucket.rate))
        return span
