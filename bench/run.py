"""Side-by-side benchmarks: ``make bench`` (``python bench/run.py``).

Every figure is measured in this one run. Latency and throughput figures compare sides against
the same loopback server (``server.py``, its own process, replying with pre-serialized bytes)
through one helper, ``alternate``: the sides take turns call by call (or block by block), a
statistic is taken per block, the ratio per block, and the median of those is reported. The
rate-limit and cold-start figures run the real client and ``bulk`` against ``LocalWorkflowServer``
and compare with the ideal the emulator's limits allow. ``TARGETS`` is the one table of targets;
the report prints it, each target beside its figure, to stdout and ``docs/benchmarks.md``.

``--quick`` runs every benchmark with few repetitions (a smoke test; its figures mean little).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import grpc  # noqa: E402
import grpc.aio  # noqa: E402
from clarifai_grpc.grpc.api import service_pb2  # noqa: E402
from floor import read_all  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from heap import tracked_objects  # noqa: E402
from workload import URL, request, response_bytes  # noqa: E402

from clarifai_workflow_predict import (  # noqa: E402
    AsyncWorkflowClient,
    WorkflowClient,
    WorkflowPrediction,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer  # noqa: E402

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
    "p99/p50": at_most(2.0),
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
    cold_start: float
    quick: bool


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


def raw_method(channel: Any) -> Any:
    return channel.unary_unary(
        METHOD,
        request_serializer=service_pb2.PostWorkflowResultsRequest.SerializeToString,
        response_deserializer=service_pb2.PostWorkflowResultsResponse.FromString,
        _registered_method=True,
    )


# --- 1. sync calls --------------------------------------------------------------------------


def sync_latency(server: Server, scale: Scale) -> list[Row]:
    section = "sync calls vs a raw stub call"
    channel = grpc.insecure_channel(server.target)
    raw = raw_method(channel)
    rows = []
    with WorkflowClient(PAT, target=server.target, insecure=True) as client:
        one = request(1)
        samples = alternate(
            {
                "raw": lambda: raw(one, timeout=30, metadata=METADATA),
                "predict_request": lambda: client.predict_request(one),
                "predict": lambda: client.predict("General", URL),
                "floor": lambda: read_all(raw(one, timeout=30, metadata=METADATA).results),
            },
            blocks=scale.blocks,
            per_block=scale.calls,
            warmup=scale.calls // 4,
        )
        rows += [
            compared(
                samples,
                "predict_request",
                "raw",
                section,
                "`predict_request` p50 vs raw stub call",
                "predict_request",
            ),
            compared(
                samples,
                "predict",
                "floor",
                section,
                "1-input `predict` p50 vs its floor (raw call + reading every converted field)",
                "sync floor",
            ),
            compared(samples, "predict", "raw", section, "1-input `predict` p50 vs raw stub call"),
            compared(samples, "floor", "raw", section, "1-input floor p50 vs raw stub call"),
        ]

        many, urls = request(32), [URL] * 32
        samples = alternate(
            {
                "raw": lambda: raw(many, timeout=30, metadata=METADATA),
                "predict": lambda: client.predict("General", urls),
                "floor": lambda: read_all(raw(many, timeout=30, metadata=METADATA).results),
            },
            blocks=scale.blocks,
            per_block=max(10, scale.calls // 4),
            warmup=scale.calls // 8,
        )
        rows += [
            compared(
                samples,
                "predict",
                "raw",
                section,
                "32-input `predict` p50 vs raw stub call (retired target ≤ 3.0x: below the field-read floor)",
            ),
            compared(samples, "predict", "floor", section, "32-input `predict` p50 vs its floor"),
        ]
    channel.close()
    return rows


def tail_latency(server: Server, scale: Scale) -> list[Row]:
    """p99/p50 of a 32-input ``predict`` called in a loop, the garbage collector left as it is."""
    urls = [URL] * 32
    with WorkflowClient(PAT, target=server.target, insecure=True) as client:
        loop = {"predict": lambda: client.predict("General", urls)}
        gc.collect()
        samples = alternate(loop, blocks=3, per_block=scale.calls * 3, warmup=scale.calls // 4)
    per_block = [pct(block, 0.99) / pct(block, 0.5) for block in samples["predict"]]
    p50 = statistics.median(pct(b, 0.5) for b in samples["predict"])
    p99 = statistics.median(pct(b, 0.99) for b in samples["predict"])
    held = tracked_objects(
        WorkflowPrediction.from_proto(
            service_pb2.PostWorkflowResultsResponse.FromString(response_bytes(32))
        )
    )
    return [
        Row(
            "tail latency, no gc.freeze()",
            "GC-tracked objects one 32-input prediction holds (3,500 before leaves dropped `.raw`)",
            f"{held:,}",
            "",
            None,
            shown=f"{held:,}",
        ),
        Row(
            "tail latency, no gc.freeze()",
            f"32-input `predict` in a loop: p99 vs p50 ({scale.calls * 3} calls a block)",
            us(p99),
            us(p50),
            statistics.median(per_block),
            "p99/p50",
        ),
    ]


# --- 2. conversion --------------------------------------------------------------------------


def conversion(scale: Scale) -> list[Row]:
    data = response_bytes(32)
    parse = service_pb2.PostWorkflowResultsResponse.FromString

    def fresh(convert: Callable[[Any], Any], spent: list[float]) -> None:
        # A fresh parse each time (upb caches the wrappers it has made), timed apart from the
        # conversion: the side's own time is the conversion's alone.
        message = parse(data)
        started = time.perf_counter()
        convert(message)
        spent.append(time.perf_counter() - started)

    sides = {
        "ours": WorkflowPrediction.from_proto,
        "floor": lambda m: read_all(m.results),
        "MessageToDict": json_format.MessageToDict,
    }
    times: dict[str, list[list[float]]] = {name: [] for name in (*sides, "parse")}
    for _ in range(scale.blocks):
        for name, convert in sides.items():
            spent: list[float] = []
            for _ in range(scale.rounds):
                fresh(convert, spent)
            times[name].append(spent)
        times["parse"].append([timed(lambda: parse(data)) for _ in range(scale.rounds)])
    section = "conversion, 32 inputs x 3 outputs"
    rows = [
        compared(
            times,
            "ours",
            "floor",
            section,
            "`WorkflowPrediction.from_proto` vs the field-read floor",
            "conversion",
        ),
        compared(
            times,
            "ours",
            "floor",
            section,
            "the same, against the stretch target",
            "conversion stretch",
        ),
    ]
    rows += [
        compared(
            times,
            "MessageToDict",
            "ours",
            section,
            "MessageToDict time / ours (retired target ≥ 60x)",
        ),
        compared(times, "ours", "parse", section, "ours / FromString parse time"),
    ]
    return rows


# --- 3. async throughput --------------------------------------------------------------------


async def _throughput(call: Callable[[], Any], concurrency: int, total: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter() - started) / total  # seconds per call


async def _async_rows(server: Server, scale: Scale) -> list[Row]:
    section = "async calls vs a raw grpc.aio call"
    rows = []
    channel = grpc.aio.insecure_channel(server.target)
    raw = raw_method(channel)
    one = request(1)
    async with AsyncWorkflowClient(PAT, target=server.target, insecure=True) as client:

        async def floor() -> None:
            read_all((await raw(one, timeout=30, metadata=METADATA)).results)

        calls = {
            "raw": lambda: raw(one, timeout=30, metadata=METADATA),
            "ours": lambda: client.predict("General", URL),
            "floor": floor,
        }
        for concurrency in (1, 16, 64):
            # Sides take turns block by block; a block is `scale.calls` calls at `concurrency`.
            per_call: dict[str, list[list[float]]] = {name: [] for name in calls}
            for call in calls.values():
                await _throughput(call, concurrency, scale.calls // 2)
            for _ in range(scale.blocks):
                for name, call in calls.items():
                    per_call[name].append([await _throughput(call, concurrency, scale.calls)])
            # Seconds per call, so throughput ours / reference is reference time / ours.
            value, raw_s, ours_s = ratio(per_call, "raw", "ours")
            rows.append(
                Row(
                    section,
                    f"1-input throughput at concurrency {concurrency}: ours / raw",
                    f"{1 / ours_s:,.0f}/s",
                    f"{1 / raw_s:,.0f}/s",
                    value,
                )
            )
            if concurrency == 16:
                value, floor_s, ours_s = ratio(per_call, "floor", "ours")
                rows.append(
                    Row(
                        section,
                        "1-input throughput at concurrency 16: ours / its floor (raw call + field reads)",
                        f"{1 / ours_s:,.0f}/s",
                        f"{1 / floor_s:,.0f}/s",
                        value,
                        "async floor",
                    )
                )
    await channel.close()
    return rows


def async_throughput(server: Server, scale: Scale) -> list[Row]:
    return asyncio.run(_async_rows(server, scale))


# --- 4. import time -------------------------------------------------------------------------

IMPORT_PROBE = (
    "import sys, time; {setup}; t = time.perf_counter(); {statement}; "
    "print(time.perf_counter() - t)"
)
#: Makes ``import opentelemetry`` fail, as when the ``otel`` extra is not installed.
WITHOUT_OTEL = "sys.modules['opentelemetry'] = None"


def _import(statement: str, setup: str = "pass") -> Callable[[], float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run() -> float:
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(setup=setup, statement=statement)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return float(out.stdout.strip().splitlines()[-1])

    return run


def import_time(scale: Scale) -> list[Row]:
    statements = {
        "ours": "import clarifai_workflow_predict",
        "stubs": "from clarifai_grpc.grpc.api import service_pb2_grpc",
        "client": "from clarifai_workflow_predict import WorkflowClient",
    }
    if importlib.util.find_spec("clarifai") is not None:
        statements["sdk"] = "from clarifai.client.workflow import Workflow"
    probes = {name: _import(statement) for name, statement in statements.items()}
    probes["client without otel"] = _import(statements["client"], WITHOUT_OTEL)
    for probe in probes.values():
        probe()  # writes the bytecode caches
    # Each probe reports the import's own time, measured inside its fresh process.
    times: dict[str, list[list[float]]] = {name: [[]] for name in probes}
    for _ in range(max(3, scale.rounds // 2)):
        for name, probe in probes.items():
            times[name][0].append(probe())
    section = "import, fresh processes"
    rows = [
        compared(
            times,
            "ours",
            "stubs",
            section,
            "`import clarifai_workflow_predict` vs `from clarifai_grpc.grpc.api import service_pb2_grpc`",
            "import",
            ms,
        ),
        compared(
            times,
            "client",
            "stubs",
            section,
            "`from clarifai_workflow_predict import WorkflowClient` vs the stubs",
            shown=ms,
        ),
        compared(
            times,
            "client",
            "client without otel",
            section,
            "that with `opentelemetry-api` installed vs without it (tracing loads it at the "
            "first call, never at import)",
            "import otel",
            ms,
        ),
    ]
    if "sdk" in times:
        rows.append(
            compared(
                times,
                "client",
                "sdk",
                section,
                "that vs the official SDK's `from clarifai.client.workflow import Workflow`",
                shown=ms,
            )
        )
    return rows


# --- 5. chunked calls -----------------------------------------------------------------------


def chunked(server: Server, scale: Scale) -> list[Row]:
    section = "320 inputs, 50 ms server latency"
    channel = grpc.insecure_channel(server.target)
    raw = raw_method(channel)
    many, urls = request(32), [URL] * 320
    clients = {
        c: WorkflowClient(PAT, target=server.target, insecure=True, max_concurrency=c)
        for c in (1, 4, 8)
    }
    sides = {"trip": lambda: raw(many, timeout=30, metadata=METADATA + LATENCY)}
    for c, client in clients.items():
        sides[f"c{c}"] = lambda client=client: client.predict("General", urls, metadata=LATENCY)
    samples = alternate(sides, blocks=max(3, scale.blocks // 2), per_block=1)
    rows = []
    for c, client in clients.items():
        rounds = math.ceil(10 / c)
        # The reference is `rounds` raw 32-input round trips: scale the trip's samples.
        scaled = {
            "trip": [[t * rounds for t in b] for b in samples["trip"]],
            "ours": samples[f"c{c}"],
        }
        rows.append(
            compared(
                scaled,
                "ours",
                "trip",
                section,
                f"max_concurrency={c}: elapsed vs {rounds} raw 32-input round trips",
                "320 inputs" if c == 4 else "",
                ms,
            )
        )
        client.close()
    channel.close()
    return rows


# VmHWM, this process's own peak (ru_maxrss would carry over the peak of the process that
# forked it, here the benchmark itself, across exec).
PEAK_PROBE = """
import sys
def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
from clarifai_workflow_predict import WorkflowClient
before = peak()
with WorkflowClient("x", target=sys.argv[1], insecure=True) as client:
    prediction = client.predict("General", ["{url}"] * 320)
    assert len(prediction) == 320
after = peak()
print(before, after)
"""


def peak_rss(server: Server) -> list[Row]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE.format(url=URL), server.target],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    before, after = (int(v) / 1024 for v in out.stdout.split())
    return [
        Row(
            "320 inputs, 50 ms server latency",
            "peak RSS of a fresh process: after the 320-input call vs after import",
            f"{after:,.1f} MiB",
            f"{before:,.1f} MiB",
            after / before,
        )
    ]


# --- 6. rate limits and cold starts, against the emulator -----------------------------------

RATE = 20.0  # the emulator's requests per second per PAT


def bulk_rate_limited(scale: Scale) -> list[Row]:
    """``bulk`` processes sharing one PAT against an emulator limited to ``RATE`` requests/s."""
    rows = []
    for processes in (1, 4):
        each = scale.bulk_inputs * 4 // processes  # the same work in all, split evenly
        with LocalWorkflowServer(rate_limit=RATE) as server, tempfile.TemporaryDirectory() as tmp:
            commands = []
            for k in range(processes):
                inputs = Path(tmp, f"in-{k}.txt")
                inputs.write_text(
                    "".join(f"https://example.com/{k}/{i}.jpg\n" for i in range(each))
                )
                commands.append(
                    [
                        sys.executable,
                        "-m",
                        "clarifai_workflow_predict",
                        "bulk",
                        "General",
                        str(inputs),
                        "--out",
                        str(Path(tmp, f"out-{k}.jsonl")),
                        "--target",
                        server.target,
                        "--insecure",
                        "--pat",
                        PAT,
                        "--no-progress",
                    ]
                )
            started = time.monotonic()
            running = [subprocess.Popen(c, stderr=subprocess.PIPE, env=ENV) for c in commands]
            for process in running:
                process.communicate(timeout=600)
            took = time.monotonic() - started
            lines = [
                line
                for k in range(processes)
                for line in Path(tmp, f"out-{k}.jsonl").read_text().splitlines()
            ]
            # An input fails with a failure line, or with no line at all.
            failed = sum('"name":"SUCCESS"' not in line for line in lines)
            failed += each * processes - len(lines)
            written = len(lines)
            calls, throttled = len(server.requests), server.throttled
        who = "4 processes sharing one PAT" if processes > 1 else "1 process"
        section = f"bulk, emulator limited to {RATE:g} requests/s, {who}"
        ideal = RATE * 32
        rows += [
            Row(
                section,
                f"inputs/s vs the ideal {RATE:g} x 32 ({written:,} inputs in {took:.1f} s)",
                f"{written / took:,.0f}/s",
                f"{ideal:,.0f}/s",
                written / took / ideal,
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
                "failed inputs (a failure line, or none)",
                f"{failed:,}",
                f"{each * processes:,} inputs",
                failed,
                "bulk failed",
                f"{failed:,}",
            ),
        ]
    return rows


def cold_start(scale: Scale) -> list[Row]:
    """From the end of a cold start to the first result, for one ``predict`` with the default
    retry policy."""
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(target=server.target, insecure=True) as client,
    ):
        started = time.monotonic()
        server.cold_start(scale.cold_start)
        prediction = client.predict("General", URL, timeout=scale.cold_start + 60)
        after = time.monotonic() - started - scale.cold_start
        polls = len(server.requests)
    assert prediction.ok
    return [
        Row(
            f"cold start of {scale.cold_start:g} s (`cold_start`)",
            f"first result after the model is ready ({polls} polls)",
            f"{after:.2f} s",
            "",
            after,
            "cold start",
            f"{after:.2f} s",
        )
    ]


# --- the official SDK, when installed -------------------------------------------------------


def official_sdk(server: Server, scale: Scale) -> list[Row]:
    if importlib.util.find_spec("clarifai") is None:
        return []
    import logging

    from clarifai.client.workflow import Workflow
    from clarifai_grpc.grpc.api import resources_pb2

    logging.getLogger("clarifai").setLevel(logging.WARNING)
    workflow = Workflow(
        workflow_id="General",
        user_id="clarifai",
        app_id="main",
        base_url=f"http://{server.target}",
        pat=PAT,
    )
    inp = [resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=URL)))]
    with WorkflowClient(PAT, target=server.target, insecure=True) as client:
        samples = alternate(
            {"ours": lambda: client.predict("General", URL), "sdk": lambda: workflow.predict(inp)},
            blocks=scale.blocks,
            per_block=scale.calls,
            warmup=scale.calls // 4,
        )
    return [
        compared(
            samples,
            "ours",
            "sdk",
            "official SDK (reference only)",
            "1-input p50: our `predict` (converted) vs `Workflow.predict` (protobuf)",
        )
    ]


# --- report ---------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = [
        "| section | figure | ours | reference | value | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        value = r.shown or ("" if r.value is None else f"{r.value:.2f}x")
        target = TARGETS[r.target].text if r.target else ""
        lines.append(
            f"| {r.section} | {r.figure} | {r.ours} | {r.reference} | {value} | {target} | {met} |"
        )
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(rows: list[Row], seconds: float, scale: Scale) -> str:
    import grpc as grpc_module
    from google.protobuf import __version__ as protobuf_version

    judged = [r for r in rows if r.met is not None]
    missed = [r for r in judged if not r.met]
    head = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); every figure is measured within this one run.",
        "Ratios compare sides on the same loopback server, taking turns, as a median over blocks.",
        "Targets come from the design's speed table; see the notes below for what each measures.",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- Python {platform.python_version()}, grpcio {grpc_module.__version__}, protobuf {protobuf_version}",
        f"- CPU: {cpu_name()}, {os.cpu_count()} cores",
        f"- blocks: {scale.blocks}, calls per block: {scale.calls}, conversion rounds: {scale.rounds}; took {seconds:.0f} s"
        + (" (--quick: a smoke run, figures mean little)" if scale.quick else ""),
        "",
        table(rows),
        "",
        f"Targets met: {len(judged) - len(missed)} of {len(judged)}."
        + (f" Missed: {'; '.join(f'{r.section}: {r.figure}' for r in missed)}." if missed else ""),
    ]
    return "\n".join(head) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few repetitions")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    scale = (
        Scale(blocks=2, calls=20, rounds=4, bulk_inputs=160, cold_start=1.0, quick=True)
        if args.quick
        else Scale(blocks=9, calls=200, rounds=41, bulk_inputs=4800, cold_start=20.0, quick=False)
    )
    started = time.monotonic()
    rows: list[Row] = []
    rows += bulk_rate_limited(scale)
    rows += cold_start(scale)
    with Server() as server:
        rows += sync_latency(server, scale)
        rows += tail_latency(server, scale)
        rows += conversion(scale)
        rows += async_throughput(server, scale)
        rows += chunked(server, scale)
        rows += peak_rss(server)
        rows += official_sdk(server, scale)
    rows += import_time(scale)
    text = report(rows, time.monotonic() - started, scale)
    notes = (HERE / "NOTES.md").read_text() if (HERE / "NOTES.md").exists() else ""
    print(text)
    if args.json:
        print(json.dumps([{**r.__dict__, "met": r.met} for r in rows], indent=1))
    if not args.no_write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + ("\n" + notes if notes else ""))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
