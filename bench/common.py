"""What every benchmark case shares: the table of targets, a report row, the scale of a run, the
one side-by-side helper (``alternate``) with its statistics, and the loopback bench server.

Latency and throughput figures compare sides against the same loopback server (``server.py``,
its own process, replying with pre-serialized bytes): the sides take turns call by call (or
block by block), a statistic is taken per block, the ratio per block, and the median of those is
reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from clarifai_grpc.grpc.api import service_pb2  # noqa: E402

METHOD = "/clarifai.api.V2/PostWorkflowResults"
PAT = "bench-pat"
METADATA = (("authorization", f"Key {PAT}"),)
LATENCY = (("x-bench-latency-ms", "50"),)
ENV = {**os.environ, "GRPC_VERBOSITY": "ERROR"}


@dataclass(frozen=True)
class Target:
    """A target from the design: ``text`` as printed, ``met`` tells whether a figure meets it."""

    text: str
    met: Callable[[float], bool]


def at_most(limit: float, unit: str = "x") -> Target:
    return Target(f"≤ {limit:g}{unit}", lambda value: value <= limit)


def at_least(limit: float, unit: str = "x") -> Target:
    return Target(f"≥ {limit:g}{unit}", lambda value: value >= limit)


#: The design's speed table, one entry per figure with a target.
TARGETS: dict[str, Target] = {
    "bulk inputs/s": at_least(0.9),
    "bulk throttled": at_most(5, "%"),
    "bulk failed": at_most(0, " inputs"),
    "cold start": at_most(2, " s"),
    "predict_request": at_most(1.03),
    "conversion": at_most(1.5),
    "conversion stretch": at_most(1.3),
    "typical read": at_most(2.0),
    "typical stretch": at_most(1.5),
    "typical p99/p50": at_most(2.0),
    "full p99/p50": at_most(2.5),
    "tracked unread": at_most(300, " objects"),
    "tracked top": at_most(1000, " objects"),
    "bytes unread": at_most(0.3),
    "dedupe rss": at_most(300, " MiB"),
    "fastapi 1": at_least(0.9),
    "fastapi 32": at_least(0.8),
    "sync floor": at_most(1.10),
    "async floor": at_least(0.90),
    "import": at_most(1.10),
    "import otel": at_most(1.10),
    "320 inputs": at_most(1.30),
}


@dataclass
class Row:
    section: str
    figure: str
    ours: str
    reference: str
    value: float | None  # a ratio, or a figure in the target's unit
    target: str = ""  # a key of TARGETS, or "" for information only
    shown: str = ""  # how ``value`` prints (default: as a ratio)

    @property
    def met(self) -> bool | None:
        return (
            None if not self.target or self.value is None else TARGETS[self.target].met(self.value)
        )


@dataclass
class Scale:
    blocks: int
    calls: int
    rounds: int
    bulk_inputs: int
    ray_inputs: int
    cold_start: float
    quick: bool


QUICK = Scale(
    blocks=2, calls=20, rounds=4, bulk_inputs=160, ray_inputs=256, cold_start=1.0, quick=True
)
FULL = Scale(
    blocks=9, calls=200, rounds=41, bulk_inputs=4800, ray_inputs=19200, cold_start=20.0, quick=False
)


def job_rows(
    section: str,
    rate: float,
    *,
    done: int,
    took: str,
    seconds: float,
    calls: int,
    throttled: int,
    failed: int,
    total: int,
    failed_means: str,
) -> list[Row]:
    """The rows of a job against a rate-limited server, with the bulk targets: inputs per second
    against the ideal ``rate x 32``, the share of calls throttled, and the inputs that failed."""
    ideal = rate * 32
    return [
        Row(
            section,
            f"inputs/s vs the ideal {rate:g} x 32 ({done:,} inputs in {seconds:.1f} s{took})",
            f"{done / seconds:,.0f}/s",
            f"{ideal:,.0f}/s",
            done / seconds / ideal,
            "bulk inputs/s",
        ),
        Row(
            section,
            "throttled responses, share of calls",
            f"{throttled:,}",
            f"{calls:,} calls",
            100 * throttled / calls,
            "bulk throttled",
            f"{100 * throttled / calls:.1f}%",
        ),
        Row(
            section,
            f"failed inputs ({failed_means})",
            f"{failed:,}",
            f"{total:,} inputs",
            failed,
            "bulk failed",
            f"{failed:,}",
        ),
    ]


# --- the one side-by-side helper ------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def alternate(
    sides: dict[str, Callable[[], Any]], *, blocks: int, per_block: int, warmup: int = 0
) -> dict[str, list[list[float]]]:
    """Run ``sides`` in turn, ``per_block`` times each per block, interleaved call by call;
    returns each side's seconds per call, grouped by block."""
    for _ in range(warmup):
        for fn in sides.values():
            fn()
    samples: dict[str, list[list[float]]] = {name: [] for name in sides}
    for _ in range(blocks):
        block: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(per_block):
            for name, fn in sides.items():
                block[name].append(timed(fn))
        for name in sides:
            samples[name].append(block[name])
    return samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ratio(
    samples: dict[str, list[list[float]]],
    ours: str,
    reference: str,
    stat: Callable[[list[float]], float] = statistics.median,
) -> tuple[float, float, float]:
    """``(median of per-block ratios, ours, reference)`` of ``stat`` over each block."""
    mine = [stat(block) for block in samples[ours]]
    theirs = [stat(block) for block in samples[reference]]
    ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
    return statistics.median(ratios), statistics.median(mine), statistics.median(theirs)


def compared(
    samples: dict[str, list[list[float]]],
    ours: str,
    reference: str,
    section: str,
    figure: str,
    target: str = "",
    shown: Callable[[float], str] | None = None,
) -> Row:
    """The row of ``ratio(samples, ours, reference)``, both sides shown by ``shown`` (µs)."""
    value, mine, theirs = ratio(samples, ours, reference)
    show = shown or us
    return Row(section, figure, show(mine), show(theirs), value, target)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


# --- the bench server -------------------------------------------------------------------------


class Server:
    """The benchmark server in its own process, so its work never competes with the client's
    interpreter."""

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        port = int(self.process.stdout.readline())  # type: ignore[union-attr]
        self.target = f"127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=30)


def warmed(client: Any) -> Any:
    """``client`` (a ``WorkflowClient``) past its slow start: ``rate_limit="adaptive"`` paces a
    new client's first second or two of back-to-back calls, and the cases measure a client as a
    service has it after its first seconds. ``AsyncWorkflowClient``s use ``awarmed``."""
    from workload import URL

    deadline = time.monotonic() + 10
    while client.pace is not None and time.monotonic() < deadline:
        client.predict("General", URL)
    return client


async def awarmed(client: Any) -> Any:
    """``warmed`` for an ``AsyncWorkflowClient``."""
    from workload import URL

    deadline = time.monotonic() + 10
    while client.pace is not None and time.monotonic() < deadline:
        await client.predict("General", URL)
    return client


def raw_method(channel: Any) -> Any:
    """The raw stub call every ratio compares with: a registered ``unary_unary`` multicallable."""
    return channel.unary_unary(
        METHOD,
        request_serializer=service_pb2.PostWorkflowResultsRequest.SerializeToString,
        response_deserializer=service_pb2.PostWorkflowResultsResponse.FromString,
        _registered_method=True,
    )


@dataclass
class Context:
    """What a case gets: the run's scale, and the bench server (started once, on first use)."""

    scale: Scale
    _server: Server | None = None

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = Server().__enter__()
        return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.__exit__()
            self._server = None
