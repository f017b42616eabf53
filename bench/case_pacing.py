"""N processes sharing one PAT's limit, simulated over the real ``RateLimiter`` and ``Attempts``.

A discrete-event loop on a simulated clock, so it runs in seconds and sleeps never:

- ``processes`` clients, each with its own ``RateLimiter("adaptive")``, each running its share of
  the job with ``CONCURRENCY`` requests in flight, as ``bulk`` does, through the client's own
  retry schedule (``Attempts`` with the default ``RetryPolicy``: a throttled request waits at
  least 0.5 s, doubling, and fails after 4 attempts);
- the processes start within ``STAGGER`` seconds of each other (interpreters starting on shared
  cores: 0.1 to 0.3 s apart here);
- the server is the emulator's limit: a token bucket of ``limit`` requests per second with a
  burst of one second's worth, checked as a request arrives; a throttle is answered at once, an
  admitted call after its latency (``LATENCY``, the emulator's under ``bulk``);
- the job is ``SECONDS`` of the limit's work (``limit x SECONDS`` requests of 32 inputs), split
  evenly, as ``case_bulk_rate`` splits its 4,800 inputs at 10 requests/s.

Each cell is the mean of ``SEEDS`` jobs: inputs per second against the ideal ``limit x 32``
(from the first process's start to the last answer), the throttled share of calls, failed
requests, and how long the aggregate rate takes to settle: the start of the first window from
which every window (of a second, or ten requests' worth at a low limit) holds 90% of the limit's
requests, until the first process runs out of work (the median over the jobs).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from dataclasses import dataclass
from typing import Callable

from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as Response
from clarifai_grpc.grpc.api.status import status_code_pb2
from clarifai_grpc.grpc.api.status.status_pb2 import Status
from common import Context, Row

from clarifai_workflow_predict._ratelimit import RateLimiter, TokenBucket
from clarifai_workflow_predict._retry import Attempts, Deadline, RetryPolicy

PROCESSES = (1, 2, 4, 8)
LIMITS = (5.0, 10.0, 15.0, 100.0)
SECONDS = 15.0  # the job: this many seconds of the limit's work
CONCURRENCY = 4  # requests in flight per process, the clients' default
LATENCY = 0.03  # median seconds an admitted call takes (the emulator's, loaded: 10-40 ms)
SPREAD = 0.4  # sigma of the latency's log-normal: one call in 25 takes twice the median
NETWORK = (0.001, 0.005)  # seconds each way, uniform: loopback plus a busy machine's scheduling
STAGGER = 0.3  # seconds within which the processes start
SEEDS = 16  # jobs per cell: single jobs vary by 10% and more
SETTLED = 0.9  # the share of the limit a window must hold to count as settled
SECTION = "pacing, simulated: processes sharing one PAT's limit"


@dataclass
class Outcome:
    """One simulated job, or the mean of several."""

    ratio: float  # inputs/s against the ideal
    throttled: float  # share of calls
    failed: int  # requests that failed after their attempts
    settled: float  # seconds until the aggregate rate settled; inf if it never did


def simulate(processes: int, limit: float, seed: int) -> Outcome:
    """One job of ``processes`` clients sharing ``limit`` requests per second."""
    rng = random.Random(seed)
    now = 0.0
    events: list[tuple[float, int, Callable[[], None]]] = []
    order = itertools.count()  # ties go in the order they were scheduled

    def at(when: float, action: Callable[[], None]) -> None:
        heapq.heappush(events, (when, next(order), action))

    def clock() -> float:
        return now

    server = TokenBucket(limit, limit, 0.0)
    throttle = Response(
        status=Status(
            code=status_code_pb2.CONN_THROTTLED,
            description="Making too many requests",
            details=f"exceeded limit of {limit:g} requests per second",
        )
    )
    success = Response(status=Status(code=status_code_pb2.SUCCESS))
    policy = RetryPolicy()
    requests = round(limit * SECONDS)
    admitted: list[float] = []
    started: list[float] = []
    finished: list[float] = []
    counts = {"calls": 0, "failed": 0}

    def process(share: int) -> None:
        """A client running ``share`` requests, ``CONCURRENCY`` at a time."""
        started.append(now)
        limiter = RateLimiter("adaptive", clock)
        left, running = [share], [0]

        def start() -> None:
            if not left[0]:
                if not running[0]:
                    finished.append(now)
                return
            left[0] -= 1
            running[0] += 1
            step(Attempts(policy, Deadline(None, clock), limiter, rand=rng.random))

        def step(attempts: Attempts) -> None:
            pause = attempts.pace()
            if pause:  # never None: there is no deadline
                at(now + pause, lambda: step(attempts))
                return
            attempts.timeout()
            at(now + rng.uniform(*NETWORK), lambda: arrive(attempts))

        def arrive(attempts: Attempts) -> None:
            counts["calls"] += 1
            if server.take(now):
                admitted.append(now)
                took = LATENCY * math.exp(rng.gauss(0, SPREAD)) + rng.uniform(*NETWORK)
                at(now + took, lambda: answer(attempts, success))
            else:
                at(now + rng.uniform(*NETWORK), lambda: answer(attempts, throttle))

        def answer(attempts: Attempts, response: Response) -> None:
            delay = attempts.retry_delay(response)
            if delay is not None:
                at(now + delay, lambda: step(attempts))
                return
            counts["failed"] += response is throttle
            running[0] -= 1
            start()

        for _ in range(CONCURRENCY):
            start()

    for k in range(processes):
        share = requests // processes + (k < requests % processes)
        at(rng.uniform(0, STAGGER) if processes > 1 else 0.0, lambda s=share: process(s))
    while events:
        now, _, action = heapq.heappop(events)
        action()
    began = min(started)
    return Outcome(
        ratio=len(admitted) / (max(finished) - began) / limit,
        throttled=(counts["calls"] - len(admitted)) / counts["calls"],
        failed=counts["failed"],
        settled=_settled([t - began for t in admitted], limit, min(finished) - began),
    )


def _settled(admitted: list[float], limit: float, until: float) -> float:
    """The start of the first window from which every window up to ``until`` holds at least
    ``SETTLED`` of the limit's requests (windows sliding by a tenth of their length)."""
    length = max(1.0, 10 / limit)  # ten requests at least, so a window's count means something
    step = length / 10
    settled = math.inf
    start = 0.0
    while start + length <= until:
        count = sum(start <= t < start + length for t in admitted)
        if count < SETTLED * limit * length:
            settled = math.inf
        elif settled == math.inf:
            settled = start
        start += step
    return settled


def cell(processes: int, limit: float, seeds: int = SEEDS) -> Outcome:
    """The mean of ``seeds`` jobs (the median for ``settled``)."""
    runs = [simulate(processes, limit, seed) for seed in range(seeds)]
    return Outcome(
        ratio=statistics.mean(r.ratio for r in runs),
        throttled=statistics.mean(r.throttled for r in runs),
        failed=sum(r.failed for r in runs),
        settled=statistics.median(r.settled for r in runs),
    )


def run(ctx: Context) -> list[Row]:
    seeds = 4 if ctx.scale.quick else SEEDS
    rows = []
    for limit in LIMITS:
        for processes in PROCESSES:
            mean = cell(processes, limit, seeds)
            who = f"{processes} process{'es' if processes > 1 else ''}"
            settled = "never" if math.isinf(mean.settled) else f"after {mean.settled:.1f} s"
            rows.append(
                Row(
                    SECTION,
                    f"{who} under {limit:g} requests/s: inputs/s vs the ideal {limit:g} x 32"
                    f" (mean of {seeds} jobs)",
                    f"{100 * mean.throttled:.1f}% throttled, {mean.failed} failed",
                    f"settled {settled}",
                    mean.ratio,
                )
            )
    return rows
