"""Side-by-side benchmarks: ``make bench`` (``python bench/run.py``).

Every figure is measured in this one run, against the same loopback server (``server.py``, its own
process, replying with pre-serialized bytes), as a median over repeated blocks in which the two
sides alternate. Ratios are computed within each block, then their median is reported. The table
goes to stdout and to ``docs/benchmarks.md``, each target beside its figure.

``--quick`` runs every benchmark with few repetitions (a smoke test; its figures mean little).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
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
from workload import URL, request, response_bytes  # noqa: E402

from clarifai_workflow_predict import (  # noqa: E402
    AsyncWorkflowClient,
    WorkflowClient,
    _convert,  # noqa: E402
)

METHOD = "/clarifai.api.V2/PostWorkflowResults"
PAT = "bench-pat"
METADATA = (("authorization", f"Key {PAT}"),)
LATENCY = (("x-bench-latency-ms", "50"),)


@dataclass
class Row:
    section: str
    figure: str
    ours: str
    reference: str
    ratio: float | None
    target: str = ""
    met: bool | None = None


@dataclass
class Scale:
    blocks: int
    calls: int
    rounds: int


class Server:
    """The benchmark server in its own process, so its work never competes with the client's
    interpreter."""

    def __enter__(self) -> Server:
        env = {**os.environ, "GRPC_VERBOSITY": "ERROR"}
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
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


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


# --- 1. sync latency ----------------------------------------------------------------------


def sync_latency(server: Server, scale: Scale) -> list[Row]:
    rows = []
    channel = grpc.insecure_channel(server.target)
    raw = raw_method(channel)
    with WorkflowClient(PAT, target=server.target, insecure=True) as client:
        for count in (1, 32):
            req = request(count)
            urls = [URL] * count
            sides = {
                "raw": lambda req=req: raw(req, timeout=30, metadata=METADATA),
                "ours": lambda urls=urls: client.predict("General", urls),
                "floor": lambda req=req: read_all(raw(req, timeout=30, metadata=METADATA).results),
            }
            for fn in sides.values():
                for _ in range(scale.calls // 4):
                    fn()
            p50: dict[str, list[float]] = {k: [] for k in sides}
            p99: dict[str, list[float]] = {k: [] for k in sides}
            ratio50, ratio99, floor50 = [], [], []
            calls = scale.calls if count == 1 else max(10, scale.calls // 4)
            for _ in range(scale.blocks):
                samples: dict[str, list[float]] = {k: [] for k in sides}
                for _ in range(calls):
                    for name, fn in sides.items():
                        samples[name].append(timed(fn))
                for name in sides:
                    p50[name].append(pct(samples[name], 0.5))
                    p99[name].append(pct(samples[name], 0.99))
                ratio50.append(p50["ours"][-1] / p50["raw"][-1])
                ratio99.append(p99["ours"][-1] / p99["raw"][-1])
                floor50.append(p50["floor"][-1] / p50["raw"][-1])
            target = 1.10 if count == 1 else 3.0
            r50 = statistics.median(ratio50)
            rows.append(
                Row(
                    "sync predict vs raw stub call",
                    f"{count}-input p50, conversion included",
                    us(statistics.median(p50["ours"])),
                    us(statistics.median(p50["raw"])),
                    r50,
                    f"≤ {target:.2f}x",
                    r50 <= target,
                )
            )
            rows.append(
                Row(
                    "sync predict vs raw stub call",
                    f"{count}-input p50, floor: raw call + reading every converted field",
                    us(statistics.median(p50["floor"])),
                    us(statistics.median(p50["raw"])),
                    statistics.median(floor50),
                )
            )
            rows.append(
                Row(
                    "sync predict vs raw stub call",
                    f"{count}-input p99",
                    us(statistics.median(p99["ours"])),
                    us(statistics.median(p99["raw"])),
                    statistics.median(ratio99),
                )
            )
    channel.close()
    return rows


# --- 2. conversion ------------------------------------------------------------------------


def conversion(scale: Scale) -> list[Row]:
    data = response_bytes(32)
    parse = service_pb2.PostWorkflowResultsResponse.FromString
    sides: dict[str, Callable[[Any], Any]] = {
        "ours": lambda m: _convert.results(m.results),
        "floor": lambda m: read_all(m.results),
        "MessageToDict": json_format.MessageToDict,
    }
    times: dict[str, list[float]] = {name: [] for name in (*sides, "parse")}
    for _ in range(scale.rounds):
        times["parse"].append(timed(lambda: parse(data)))
        for name, fn in sides.items():
            message = parse(data)  # fresh each time: upb caches wrappers once made
            times[name].append(timed(lambda: fn(message)))  # noqa: B023
    ours, floor, m2d, parsed = (
        statistics.median(times[k]) for k in ("ours", "floor", "MessageToDict", "parse")
    )
    section = "conversion, 32 inputs x 3 outputs"
    return [
        Row(
            section,
            "MessageToDict time / ours",
            us(ours),
            us(m2d),
            m2d / ours,
            "≥ 60x",
            m2d / ours >= 60,
        ),
        Row(
            section,
            "MessageToDict time / reading the same fields without building anything (floor)",
            us(floor),
            us(m2d),
            m2d / floor,
        ),
        Row(
            section,
            "ours / FromString parse time (stretch)",
            us(ours),
            us(parsed),
            ours / parsed,
            "≤ 15x",
            ours / parsed <= 15,
        ),
        Row(
            section,
            "field-reading floor / FromString parse time",
            us(floor),
            us(parsed),
            floor / parsed,
        ),
    ]


# --- 3. async throughput ------------------------------------------------------------------


async def _throughput(call: Callable[[], Any], concurrency: int, total: int) -> float:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def _async_rows(server: Server, scale: Scale) -> list[Row]:
    rows = []
    channel = grpc.aio.insecure_channel(server.target)
    raw = raw_method(channel)
    req = request(1)
    async with AsyncWorkflowClient(PAT, target=server.target, insecure=True) as client:

        async def floor() -> None:
            read_all((await raw(req, timeout=30, metadata=METADATA)).results)

        sides = {
            "raw": lambda: raw(req, timeout=30, metadata=METADATA),
            "ours": lambda: client.predict("General", URL),
            "floor": floor,
        }
        for call in sides.values():
            await _throughput(call, 16, scale.calls)
        for concurrency in (1, 16, 64):
            rates: dict[str, list[float]] = {name: [] for name in sides}
            ratios, floors = [], []
            for _ in range(scale.blocks):
                for name, call in sides.items():
                    rates[name].append(await _throughput(call, concurrency, scale.calls))
                ratios.append(rates["ours"][-1] / rates["raw"][-1])
                floors.append(rates["floor"][-1] / rates["raw"][-1])
            ratio = statistics.median(ratios)
            rows.append(
                Row(
                    "async predict vs raw grpc.aio call",
                    f"1-input throughput, concurrency {concurrency}",
                    f"{statistics.median(rates['ours']):,.0f}/s",
                    f"{statistics.median(rates['raw']):,.0f}/s",
                    ratio,
                    "≥ 0.90x" if concurrency == 16 else "",
                    ratio >= 0.9 if concurrency == 16 else None,
                )
            )
            if concurrency == 16:
                rows.append(
                    Row(
                        "async predict vs raw grpc.aio call",
                        "concurrency 16, floor: raw call + reading every converted field",
                        f"{statistics.median(rates['floor']):,.0f}/s",
                        f"{statistics.median(rates['raw']):,.0f}/s",
                        statistics.median(floors),
                    )
                )
    await channel.close()
    return rows


def async_throughput(server: Server, scale: Scale) -> list[Row]:
    return asyncio.run(_async_rows(server, scale))


# --- 4. import time -----------------------------------------------------------------------

IMPORT_PROBE = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def _import_seconds(statement: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip().splitlines()[-1])


def import_time(scale: Scale) -> list[Row]:
    statements = {
        "ours": "import clarifai_workflow_predict",
        "stubs": "from clarifai_grpc.grpc.api import service_pb2_grpc",
    }
    sdk = importlib.util.find_spec("clarifai") is not None
    if sdk:
        statements["sdk"] = "from clarifai.client.workflow import Workflow"
    for statement in statements.values():
        _import_seconds(statement)  # writes the bytecode caches
    times: dict[str, list[float]] = {k: [] for k in statements}
    for _ in range(scale.rounds // 2 or 1):
        for name, statement in statements.items():
            times[name].append(_import_seconds(statement))
    ours, stubs = statistics.median(times["ours"]), statistics.median(times["stubs"])
    rows = [
        Row(
            "import, fresh processes",
            "`import clarifai_workflow_predict` vs `from clarifai_grpc.grpc.api import service_pb2_grpc`",
            ms(ours),
            ms(stubs),
            ours / stubs,
            "≤ 1.10x",
            ours / stubs <= 1.10,
        )
    ]
    if sdk:
        official = statistics.median(times["sdk"])
        rows.append(
            Row(
                "import, fresh processes",
                "ours vs the official SDK's `from clarifai.client.workflow import Workflow`",
                ms(ours),
                ms(official),
                ours / official,
            )
        )
    return rows


# --- 5 and 6. chunked calls and memory ----------------------------------------------------


def chunked(server: Server, scale: Scale) -> list[Row]:
    rows = []
    channel = grpc.insecure_channel(server.target)
    raw = raw_method(channel)
    req = request(32)
    urls = [URL] * 320
    clients = {
        c: WorkflowClient(PAT, target=server.target, insecure=True, max_concurrency=c)
        for c in (1, 4, 8)
    }
    round_trips, elapsed = [], {c: [] for c in clients}
    for _ in range(max(3, scale.blocks // 2)):
        round_trips.append(timed(lambda: raw(req, timeout=30, metadata=METADATA + LATENCY)))
        for c, client in clients.items():
            elapsed[c].append(timed(lambda: client.predict("General", urls, metadata=LATENCY)))  # noqa: B023
    trip = statistics.median(round_trips)
    for c, client in clients.items():
        rounds = math.ceil(10 / c)
        took = statistics.median(elapsed[c])
        ratio = took / (rounds * trip)
        rows.append(
            Row(
                "320 inputs, 50 ms server latency",
                f"max_concurrency={c}: elapsed vs {rounds} raw 32-input round trips",
                ms(took),
                ms(rounds * trip),
                ratio,
                "≤ 1.30x" if c == 4 else "",
                ratio <= 1.3 if c == 4 else None,
            )
        )
        client.close()
    channel.close()
    return rows


PEAK_PROBE = """
import resource, sys
from clarifai_workflow_predict import WorkflowClient
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with WorkflowClient("x", target=sys.argv[1], insecure=True) as client:
    prediction = client.predict("General", ["{url}"] * 320)
    assert len(prediction) == 320
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after)
"""


def peak_rss(server: Server) -> list[Row]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE.format(url=URL), server.target],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )
    before, after = (int(v) / 1024 for v in out.stdout.split())
    return [
        Row(
            "320 inputs, 50 ms server latency",
            "peak RSS of a fresh process: after the 320-input call (ours) vs after import (reference)",
            f"{after:,.1f} MiB",
            f"{before:,.1f} MiB",
            after / before,
        )
    ]


# --- the official SDK, when installed -----------------------------------------------------


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
        sides = {
            "ours": lambda: client.predict("General", URL),
            "sdk": lambda: workflow.predict(inp),
        }
        for fn in sides.values():
            for _ in range(scale.calls // 4):
                fn()
        p50: dict[str, list[float]] = {k: [] for k in sides}
        ratios = []
        for _ in range(scale.blocks):
            samples: dict[str, list[float]] = {k: [] for k in sides}
            for _ in range(scale.calls):
                for name, fn in sides.items():
                    samples[name].append(timed(fn))
            for name in sides:
                p50[name].append(pct(samples[name], 0.5))
            ratios.append(p50["ours"][-1] / p50["sdk"][-1])
    return [
        Row(
            "official SDK (reference only)",
            "1-input p50: our predict (with conversion) vs `Workflow.predict` (returns protobuf)",
            us(statistics.median(p50["ours"])),
            us(statistics.median(p50["sdk"])),
            statistics.median(ratios),
        )
    ]


# --- report -------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = [
        "| section | figure | ours | reference | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        lines.append(
            f"| {r.section} | {r.figure} | {r.ours} | {r.reference} | {ratio} | {r.target} | {met} |"
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

    missed = [r for r in rows if r.met is False]
    head = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); every ratio is measured within this one run, on",
        "the same loopback server, as a median over alternating blocks. Speed targets come from",
        "the design; see the notes below the table for what each figure measures.",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- Python {platform.python_version()}, grpcio {grpc_module.__version__}, protobuf {protobuf_version}",
        f"- CPU: {cpu_name()}, {os.cpu_count()} cores",
        f"- blocks: {scale.blocks}, calls per block: {scale.calls}, conversion rounds: {scale.rounds}; took {seconds:.0f} s",
        "",
        table(rows),
        "",
        f"Targets met: {sum(r.met is True for r in rows)} of {sum(r.met is not None for r in rows)}."
        + (f" Missed: {', '.join(r.figure for r in missed)}." if missed else ""),
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
        Scale(blocks=2, calls=20, rounds=4) if args.quick else Scale(blocks=9, calls=200, rounds=41)
    )
    started = time.monotonic()
    rows: list[Row] = []
    with Server() as server:
        rows += sync_latency(server, scale)
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
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    if not args.no_write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + ("\n" + notes if notes else ""))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
