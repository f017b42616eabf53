"""320 inputs with 50 ms server latency: elapsed against the raw round trips it takes, by
``max_concurrency``, and the peak RSS of a fresh process making that call."""

from __future__ import annotations

import math
import subprocess
import sys

import grpc
from common import (
    ENV,
    LATENCY,
    METADATA,
    PAT,
    Context,
    Row,
    alternate,
    compared,
    ms,
    raw_method,
    warmed,
)
from workload import URL, request

from clarifai_workflow_predict import WorkflowClient


def run(ctx: Context) -> list[Row]:
    return _chunked(ctx) + _peak_rss(ctx.server.target)


def _chunked(ctx: Context) -> list[Row]:
    server, scale = ctx.server, ctx.scale
    section = "320 inputs, 50 ms server latency"
    channel = grpc.insecure_channel(server.target)
    raw = raw_method(channel)
    many, urls = request(32), [URL] * 320
    clients = {
        c: warmed(WorkflowClient(PAT, target=server.target, insecure=True, max_concurrency=c))
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


def _peak_rss(target: str) -> list[Row]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE.format(url=URL), target],
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
