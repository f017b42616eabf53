"""The client's rate limiter and the token bucket, on a fake clock: milliseconds, no sleeping."""

from __future__ import annotations

import heapq
import itertools
import random
from typing import Callable

import pytest

from clarifai_workflow_predict import InputError, WorkflowClient
from clarifai_workflow_predict._ratelimit import (
    BETA,
    CUBIC,
    GROWTH,
    HOLD,
    INITIAL,
    LEAVE,
    OVERSHOOT,
    SETTLE,
    UNPACED,
    RateLimiter,
    TokenBucket,
    check_rate_limit,
)

from ..conftest import PAT
from ..helpers import Clock, FakeServer


def send(limiter: RateLimiter, clock: Clock, count: int, spacing: float) -> int:
    """Send ``count`` requests ``spacing`` apart, waiting as the limiter says, each answered
    at once; returns how many had to wait."""
    waited = 0
    for _ in range(count):
        while (wait := limiter.acquire()) > 0:
            waited += 1
            clock.advance(wait)
        limiter.succeeded()
        clock.advance(spacing)
    return waited


def send_for(limiter: RateLimiter, clock: Clock, seconds: float) -> int:
    """Send one request after another for ``seconds``, as fast as the limiter allows, each
    answered after a millisecond; returns how many were sent."""
    end, sent = clock.now + seconds, 0
    while clock.now < end:
        if (wait := limiter.acquire()) > 0:
            clock.advance(wait)
        else:
            clock.advance(0.001)
            limiter.succeeded()
            sent += 1
    return sent


def throttled_at(clock: Clock, rate: float, limit: float | None = None) -> RateLimiter:
    """An adaptive limiter past its slow start, sending ``rate`` requests/s freely, and just
    throttled: paced by CUBIC from here."""
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 100, 0.001)  # outgrows its slow start
    assert limiter.rate is None
    send(limiter, clock, int(2 * rate), 1 / rate)
    limiter.throttled(limiter.generation, limit)
    return limiter


def test_token_bucket_takes_refills_and_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=10, capacity=2, now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert bucket.wait() == pytest.approx(0.1)
    assert not bucket.take(0.05) and bucket.take(0.1)  # exactly when the wait said
    assert bucket.take(10.0) and bucket.take(10.0) and not bucket.take(10.0)  # capped at 2


# --- the slow start ----------------------------------------------------------------------------


def test_slow_start_paces_from_a_low_rate_and_grows_it_while_calls_succeed() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    assert limiter.rate == INITIAL and limiter.starting  # paced from the first request
    assert send_for(limiter, clock, 0.5) <= 5  # a handful in the first half second, no burst
    early = limiter.rate
    send_for(limiter, clock, 1.0)
    assert limiter.starting and limiter.throttles == 0
    assert limiter.rate is not None and early is not None
    assert limiter.rate >= 4 * early  # multiplicative: 4 times the pace a second later


def test_slow_start_never_runs_ahead_of_twice_what_is_sent() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    for _ in range(30):  # the slow start's steepest part, before it outgrows its top
        while (wait := limiter.acquire()) > 0:
            clock.advance(wait)
        clock.advance(0.001)
        limiter.succeeded()
        assert limiter.starting and limiter.rate is not None
        assert limiter.rate <= max(INITIAL, 2.1 * limiter._sent(clock.now))  # a measuring hair


def test_the_first_throttle_ends_the_slow_start_at_the_clients_share() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send_for(limiter, clock, 1.3)
    assert limiter.rate is not None and limiter.starting
    sent = min(limiter._sent(clock.now), limiter.rate)
    limiter.throttled(limiter.generation)
    assert not limiter.starting and limiter.generation == 1
    # Its share: half of what it sent over the last second (the account let through its
    # refill and its burst), and it leaves the slow start below that while the account's
    # bucket refills.
    assert limiter._peak == pytest.approx(sent / OVERSHOOT)
    assert limiter.rate == pytest.approx(LEAVE * limiter._peak)
    # From then on CUBIC, not the slow start: back towards the peak, no further for a while.
    send_for(limiter, clock, 2.0)
    assert limiter.rate is not None and limiter.rate <= limiter._peak * 1.01


def test_a_ceiling_paces_from_the_start_and_caps_the_slow_start() -> None:
    clock = Clock()
    limiter = RateLimiter(5.0, clock)
    assert limiter.rate == min(INITIAL, 5.0)
    send_for(limiter, clock, 3.0)
    assert limiter.rate == 5.0 and not limiter.starting  # grew to the ceiling, and stays there
    before = clock.now
    send(limiter, clock, 26, 0)
    assert clock.now - before == pytest.approx(5.0, rel=0.25)  # 26 requests at 5/s, a burst aside
    limiter.throttled(limiter.generation)
    assert limiter.rate is not None and limiter.rate < 5.0
    clock.advance(100)
    send(limiter, clock, 200, 0.0)
    assert limiter.rate == 5.0  # back, never above


def test_an_idle_adaptive_client_may_send_a_seconds_worth_at_once_a_ceiling_one() -> None:
    # A chunked call after a pause goes out at once, as the account's own bucket lets it; a
    # ceiling the caller gives is kept to the request.
    clock = Clock()
    adaptive = throttled_at(clock, 10.0)
    send(adaptive, clock, 30, 0.1)
    assert adaptive.rate is not None and adaptive.rate > 3
    clock.advance(2.0)
    burst = [adaptive.acquire() for _ in range(int(adaptive.rate) + 1)]  # before any answer
    assert burst[:-1] == [0.0] * int(adaptive.rate) and burst[-1] > 0
    fixed = RateLimiter(10.0, clock)
    send_for(fixed, clock, 3.0)
    assert fixed.rate == 10.0
    clock.advance(2.0)
    assert fixed.acquire() == 0.0 and fixed.acquire() > 0


def test_none_never_paces() -> None:
    with FakeServer() as server:
        with WorkflowClient(PAT, target=server.target, insecure=True, rate_limit=None) as free:
            assert free.pace is None
            free.predict("General", [f"https://example.com/{i}.jpg" for i in range(128)])
            assert free.pace is None and server.calls == 4
        with WorkflowClient(PAT, target=server.target, insecure=True) as adaptive:
            assert adaptive.pace == INITIAL  # the default starts gently


def test_a_slow_start_that_no_longer_holds_the_client_back_stops_pacing() -> None:
    # A client sending less than half its pace, and never held back by it lately, needs no
    # pacing: it sends freely until a throttle, as before the slow start existed.
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 3, 2.0)
    assert limiter.rate is None and not limiter.starting
    assert send(limiter, clock, 50, 0.0) == 0
    limiter.throttled(limiter.generation)
    assert limiter.rate is not None  # paced again from the first throttle


def test_a_slow_start_past_unpaced_stops_pacing() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    held = sum(send(limiter, clock, 1, 0.001) for _ in range(100))
    assert limiter.rate is None and not limiter.starting
    assert held <= UNPACED / GROWTH + 5  # held back 30-odd times, then sends freely
    assert send(limiter, clock, 1_000, 0.001) == 0


# --- after the slow start: CUBIC ----------------------------------------------------------------


def test_a_throttle_past_the_slow_start_cuts_to_beta_of_what_was_sent_and_paces() -> None:
    clock = Clock()
    limiter = throttled_at(clock, 10.0)
    cut = limiter.rate
    assert cut == pytest.approx(10 * SETTLE * BETA, rel=0.15)  # 9 or 10 sends in its last second
    before = clock.now
    for _ in range(20):  # as fast as allowed, with no answers yet to grow the rate
        while (wait := limiter.acquire()) > 0:
            clock.advance(wait)
    assert (clock.now - before) * cut == pytest.approx(20 - limiter._bucket.capacity, abs=1.5)


def test_the_stated_limit_caps_the_rate_and_the_peak() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send_for(limiter, clock, 1.6)  # sending twice the limit of 10 requests/s, and more
    limiter.throttled(limiter.generation, limit=10.0)
    assert limiter.ceiling == 10 and limiter._peak == 10 and limiter.rate == 10 * LEAVE
    clock.advance(60)
    send(limiter, clock, 50, 0)
    assert limiter.rate == pytest.approx(10.0)  # grown back, and no further


def test_throttles_of_requests_sent_before_a_cut_or_within_hold_do_not_cut_again() -> None:
    clock = Clock()
    limiter = throttled_at(clock, 8.0)
    cut = limiter.rate
    assert cut == pytest.approx(8 * SETTLE * BETA, rel=0.15)
    limiter.throttled(limiter.generation - 1)  # sent before the cut
    limiter.throttled(limiter.generation)  # within HOLD of the cut
    assert limiter.rate == cut and limiter.throttles == 3
    clock.advance(HOLD + 0.01)
    limiter.throttled(limiter.generation)
    assert limiter.rate is not None and limiter.rate < cut


def test_success_grows_the_rate_back_towards_the_peak_then_probes_beyond() -> None:
    clock = Clock()
    limiter = throttled_at(clock, 20.0)
    low, peak = limiter.rate, limiter._peak
    assert low is not None
    rates = []
    for _ in range(8):
        send(limiter, clock, 20, 0.0)
        rates.append(limiter.rate)
    assert rates == sorted(rates) and rates[-1] > low  # it only grows while calls succeed
    clock.advance(((1 - BETA) / CUBIC) ** (1 / 3))  # K, with no stated limit to scale by
    send(limiter, clock, 40, 0.0)
    assert limiter.rate is not None and limiter.rate >= peak * 0.95
    clock.advance(30)
    send(limiter, clock, 40, 0.0)
    assert limiter.rate is not None and limiter.rate > 1.5 * peak  # probing, a while later


def test_a_client_with_less_than_its_share_regains_its_rate_sooner() -> None:
    # Two clients sharing a stated limit of 20/s, throttled at 16/s and at 4/s. As in CUBIC,
    # the time back to the peak grows with the peak, so after 2 s the smaller client is back at
    # its rate while the larger one is still recovering.
    recovered = []
    for rate in (16.0, 4.0):
        clock = Clock()
        limiter = throttled_at(clock, rate, limit=20.0)
        assert limiter.rate is not None
        peak = limiter._peak
        send_for(limiter, clock, 2.0)
        recovered.append(limiter.rate / peak)
    big, small = recovered
    assert small >= 0.98 and big <= 0.95


def test_the_rate_never_grows_past_twice_what_is_sent() -> None:
    clock = Clock()
    limiter = throttled_at(clock, 20.0)
    clock.advance(120)  # a long idle while the curve would have grown a lot
    send(limiter, clock, 4, 1.0)  # one request a second
    assert limiter.rate is not None and limiter.rate <= 2.5


def test_a_client_never_throttled_keeps_only_the_last_seconds_of_send_times() -> None:
    # The send times measure the rate a first throttle cuts from; a long-running client that
    # is never throttled must not keep all of them.
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 100_000, 0.001)  # 100 s at up to 1,000 requests/s
    assert limiter.rate is None and len(limiter._booked) <= 1_001
    limiter.throttled(limiter.generation)
    assert limiter.rate == pytest.approx(1_000 * SETTLE * BETA, rel=0.01)


# --- clients sharing a limit --------------------------------------------------------------------


def share_a_limit(clients: int, limit: float, seconds: float) -> tuple[float, float]:
    """``clients`` limiters, 4 requests in flight each, against one account's bucket of
    ``limit`` requests/s (burst of one second's worth), on a simulated clock: returns the
    requests/s admitted over the second half, and the throttled share of all calls."""
    rand = random.Random(0).random
    now = 0.0
    events: list[tuple[float, int, Callable[[], None]]] = []
    order = itertools.count()
    account = TokenBucket(limit, limit, 0.0)
    admitted: list[float] = []
    calls = 0

    def at(when: float, action: Callable[[], None]) -> None:
        heapq.heappush(events, (when, next(order), action))

    def slot(limiter: RateLimiter, backoff: float = 0.0) -> None:
        nonlocal calls
        if now >= seconds:
            return
        generation = limiter.generation
        if (wait := limiter.acquire()) > 0:
            at(now + wait, lambda: slot(limiter, backoff))
            return
        calls += 1
        if account.take(now):
            admitted.append(now)
            limiter.succeeded()
            at(now + 0.02 + 0.02 * rand(), lambda: slot(limiter))
        else:  # retried after at least 0.5 s, doubling, as ``Attempts`` does
            limiter.throttled(generation, limit)
            backoff = max(0.5, 2 * backoff)
            at(now + backoff * (0.8 + 0.4 * rand()), lambda: slot(limiter, backoff))

    for k in range(clients):
        limiter = RateLimiter("adaptive", lambda: now)
        for _ in range(4):
            at(0.05 * k, lambda limiter=limiter: slot(limiter))
    while events:
        now, _, action = heapq.heappop(events)
        action()
    late = [t for t in admitted if t >= seconds / 2]
    return len(late) / (seconds / 2), 1 - len(admitted) / calls


@pytest.mark.parametrize(("clients", "limit"), [(4, 10.0), (4, 15.0), (8, 15.0)])
def test_clients_sharing_a_limit_end_up_near_it_with_few_throttles(
    clients: int, limit: float
) -> None:
    # Without the slow start (each client sending freely until its first throttle) the same
    # runs throttle 13-26% of their calls.
    rate, throttled = share_a_limit(clients, limit, 20.0)
    assert 0.9 * limit <= rate <= 1.1 * limit
    assert throttled <= (0.08 if clients <= 4 else 0.16)


@pytest.mark.parametrize("value", ["fast", 0, -1, True, float("nan"), [5]])
def test_bad_rate_limits_are_refused(value: object) -> None:
    with pytest.raises(InputError, match="rate_limit"):
        check_rate_limit(value)
    assert check_rate_limit("adaptive") == "adaptive" and check_rate_limit(None) is None
    assert check_rate_limit(3) == 3.0
