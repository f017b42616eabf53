"""The client's rate limiter and the token bucket, on a fake clock: milliseconds, no sleeping."""

from __future__ import annotations

import pytest

from clarifai_workflow_predict import InputError
from clarifai_workflow_predict._ratelimit import (
    BETA,
    CUBIC,
    HOLD,
    SETTLE,
    RateLimiter,
    TokenBucket,
    check_rate_limit,
)

from ..helpers import Clock


def send(limiter: RateLimiter, clock: Clock, count: int, spacing: float) -> int:
    """Send ``count`` requests ``spacing`` apart, waiting as the limiter says; returns how many
    had to wait."""
    waited = 0
    for _ in range(count):
        while (wait := limiter.acquire()) > 0:
            waited += 1
            clock.advance(wait)
        limiter.succeeded()
        clock.advance(spacing)
    return waited


def test_token_bucket_takes_refills_and_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=10, capacity=2, now=0.0)
    assert bucket.take(0.0) and bucket.take(0.0) and not bucket.take(0.0)
    assert bucket.wait() == pytest.approx(0.1)
    assert not bucket.take(0.05) and bucket.take(0.1)  # exactly when the wait said
    assert bucket.take(10.0) and bucket.take(10.0) and not bucket.take(10.0)  # capped at 2


def test_adaptive_sends_freely_until_the_first_throttle() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    assert limiter.rate is None and send(limiter, clock, 200, 0.001) == 0


def test_a_throttle_cuts_to_beta_of_what_was_sent_and_paces_from_then_on() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 40, 0.025)  # 40 requests/s
    limiter.throttled(limiter.generation)
    cut = limiter.rate
    assert cut == pytest.approx(40 * SETTLE * BETA, rel=0.05)
    before = clock.now
    for _ in range(20):  # as fast as allowed, with no answers yet to grow the rate
        while (wait := limiter.acquire()) > 0:
            clock.advance(wait)
    assert (clock.now - before) * cut == pytest.approx(19, rel=0.01)


def test_the_stated_limit_caps_the_rate_and_the_peak() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 100, 0.01)  # 100 requests/s
    limiter.throttled(limiter.generation, limit=10.0)
    assert limiter.ceiling == 10 and limiter.rate == pytest.approx(10 * BETA)
    clock.advance(60)
    send(limiter, clock, 50, 0)
    assert limiter.rate == pytest.approx(10.0)  # grown back, and no further


def test_throttles_of_requests_sent_before_a_cut_or_within_hold_do_not_cut_again() -> None:
    clock = Clock()
    limiter = RateLimiter(8.0, clock)
    send(limiter, clock, 16, 0)  # at the ceiling, 8 requests/s
    stale = limiter.generation
    limiter.throttled(stale)
    cut = limiter.rate
    assert cut == pytest.approx(8 * SETTLE * BETA, rel=0.05)
    limiter.throttled(stale)  # sent before the cut
    limiter.throttled(limiter.generation)  # within HOLD of the cut
    assert limiter.rate == cut and limiter.throttles == 3
    clock.advance(HOLD + 0.01)
    limiter.throttled(limiter.generation)
    assert limiter.rate is not None and limiter.rate < cut


def test_success_grows_the_rate_back_towards_the_peak_then_probes_beyond() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 50, 0.05)  # 20 requests/s
    limiter.throttled(limiter.generation)
    low = limiter.rate
    assert low is not None
    rates = []
    for _ in range(8):
        send(limiter, clock, 20, 0.0)
        rates.append(limiter.rate)
    assert rates == sorted(rates) and rates[-1] > low  # it only grows while calls succeed
    peak = 20 * SETTLE
    clock.advance(((1 - BETA) / CUBIC) ** (1 / 3))  # K, with no stated limit to scale by
    send(limiter, clock, 40, 0.0)
    assert limiter.rate is not None and limiter.rate >= peak * 0.95


def test_a_client_with_less_than_its_share_regains_its_rate_sooner() -> None:
    # Two clients sharing a stated limit of 20/s, throttled at 16/s and at 4/s. As in CUBIC,
    # the time back to the peak grows with the peak, so after 2 s the smaller client is back at
    # its rate while the larger one is still recovering: shares even out instead of staying as
    # the first throttles dealt them (with one recovery time for every peak, both would be at
    # the same fraction of theirs).
    recovered = []
    for rate in (16, 4):
        clock = Clock()
        limiter = RateLimiter("adaptive", clock)
        send(limiter, clock, rate, 1 / rate)
        limiter.throttled(limiter.generation, limit=20.0)
        assert limiter.rate is not None
        peak = limiter.rate / BETA
        end = clock.now + 2.0
        while clock.now < end:  # as fast as the limiter allows, every call succeeding
            wait = limiter.acquire()
            if wait > 0:
                clock.advance(wait)
            else:
                limiter.succeeded()
        recovered.append(limiter.rate / peak)
    big, small = recovered
    assert small >= 0.99 and big <= 0.95


def test_a_client_never_throttled_keeps_only_the_last_seconds_of_send_times() -> None:
    # The send times measure the rate a first throttle cuts from; a long-running client that
    # is never throttled must not keep all of them.
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 100_000, 0.001)  # 100 s at 1,000 requests/s
    assert len(limiter._booked) <= 1_001
    limiter.throttled(limiter.generation)
    assert limiter.rate == pytest.approx(1_000 * SETTLE * BETA, rel=0.01)


def test_the_rate_never_grows_past_twice_what_is_sent() -> None:
    clock = Clock()
    limiter = RateLimiter("adaptive", clock)
    send(limiter, clock, 20, 0.05)
    limiter.throttled(limiter.generation)
    clock.advance(120)  # a long idle while the curve would have grown a lot
    send(limiter, clock, 4, 1.0)  # one request a second
    assert limiter.rate is not None and limiter.rate <= 2.5


def test_a_fixed_ceiling_paces_from_the_start_and_adapts_below_it() -> None:
    clock = Clock()
    limiter = RateLimiter(5.0, clock)
    assert limiter.rate == 5.0
    before = clock.now
    send(limiter, clock, 26, 0)
    assert clock.now - before == pytest.approx(5.0, rel=0.02)  # 26 requests, 25 gaps of 0.2 s
    limiter.throttled(limiter.generation)
    assert limiter.rate is not None and limiter.rate < 5.0
    clock.advance(100)
    send(limiter, clock, 200, 0.0)
    assert limiter.rate == 5.0  # back, never above


@pytest.mark.parametrize("value", ["fast", 0, -1, True, float("nan"), [5]])
def test_bad_rate_limits_are_refused(value: object) -> None:
    with pytest.raises(InputError, match="rate_limit"):
        check_rate_limit(value)
    assert check_rate_limit("adaptive") == "adaptive" and check_rate_limit(None) is None
    assert check_rate_limit(3) == 3.0
