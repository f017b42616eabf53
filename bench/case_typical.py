"""The typical read of a low-latency service: a 32-input ``predict`` and the top concept of each
output, against the raw stub call and the same read on the protobuf; the tail of that loop and of
the every-field loop, the garbage collector left as it is (no ``gc.freeze()``); and what a
prediction holds, unread and read: objects for the collector to walk, and memory."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys

import grpc
from clarifai_grpc.grpc.api import service_pb2
from common import (
    ENV,
    HERE,
    METADATA,
    PAT,
    Context,
    Row,
    alternate,
    compared,
    pct,
    raw_method,
    us,
    warmed,
)
from heap import tracked_objects
from reads import every_field, top_concepts, top_concepts_raw
from workload import URL, request, response_bytes

from clarifai_workflow_predict import WorkflowClient, WorkflowPrediction
from clarifai_workflow_predict.models import load

SECTION = "typical read: 32 inputs, the top concept of each output"
TAIL = "tail latency, no gc.freeze()"
HELD = "what a 32-input prediction holds"


def run(ctx: Context) -> list[Row]:
    return _typical(ctx) + _tails(ctx) + _held()


def _typical(ctx: Context) -> list[Row]:
    scale = ctx.scale
    channel = grpc.insecure_channel(ctx.server.target)
    raw = raw_method(channel)
    many, urls = request(32), [URL] * 32
    with warmed(WorkflowClient(PAT, target=ctx.server.target, insecure=True)) as client:
        samples = alternate(
            {
                "raw": lambda: top_concepts_raw(raw(many, timeout=30, metadata=METADATA)),
                "ours": lambda: top_concepts(client.predict("General", urls)),
            },
            blocks=scale.blocks,
            per_block=max(10, scale.calls // 4),
            warmup=scale.calls // 4,
        )
    channel.close()
    return [
        compared(
            samples,
            "ours",
            "raw",
            SECTION,
            "`predict` + the read, p50, vs the raw stub call + the same read on the protobuf",
            "typical read",
        ),
        compared(
            samples,
            "ours",
            "raw",
            SECTION,
            "the same, against the stretch target",
            "typical stretch",
        ),
    ]


def _tails(ctx: Context) -> list[Row]:
    urls = [URL] * 32
    per_block = ctx.scale.calls * 3
    rows = []
    channel = grpc.insecure_channel(ctx.server.target)
    raw, many = raw_method(channel), request(32)
    with warmed(WorkflowClient(PAT, target=ctx.server.target, insecure=True)) as client:
        loops = {
            "32-input `predict` + the top concept of each output": lambda: top_concepts(
                client.predict("General", urls)
            ),
            "32-input `predict` + every field, attribute by attribute": lambda: every_field(
                client.predict("General", urls)
            ),
            # The machine's own tail, for scale: the raw call and the read on the protobuf.
            "the raw stub call + the same top-concept read": lambda: top_concepts_raw(
                raw(many, timeout=30, metadata=METADATA)
            ),
        }
        for (what, loop), target in zip(
            loops.items(), ("typical p99/p50", "full p99/p50", ""), strict=True
        ):
            gc.collect()
            samples = alternate(
                {"loop": loop}, blocks=3, per_block=per_block, warmup=per_block // 10
            )
            blocks = samples["loop"]
            rows.append(
                Row(
                    TAIL,
                    f"{what}, in a loop: p99 vs p50 ({per_block} calls a block)",
                    us(statistics.median(pct(b, 0.99) for b in blocks)),
                    us(statistics.median(pct(b, 0.5) for b in blocks)),
                    statistics.median(pct(b, 0.99) / pct(b, 0.5) for b in blocks),
                    target,
                )
            )
    channel.close()
    return rows


# A fresh process holds N predictions (or, for the floor, the parsed messages alone) and prints
# what they added to its RSS, in KiB each. One process per measure: memory freed in a process
# stays in its allocator and would hide the next measure's growth.
MEMORY_PROBE = """
import gc, sys
sys.path.insert(0, {here!r})
from workload import response_bytes
from clarifai_grpc.grpc.api import service_pb2
from clarifai_workflow_predict import WorkflowPrediction
from clarifai_workflow_predict.models import load
def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
data, count, what = response_bytes(32), 200, {what!r}
parse = service_pb2.PostWorkflowResultsResponse.FromString
WorkflowPrediction.from_proto(parse(data)).to_dict()  # everything imported and warm
gc.collect(); start = rss()
held = [parse(data) if what == "parsed" else WorkflowPrediction.from_proto(parse(data)) for _ in range(count)]
if what == "read":
    for prediction in held:
        load(prediction.results)
gc.collect()
print((rss() - start) / count)
"""


def _kib(what: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE.format(here=str(HERE), what=what)],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    return float(out.stdout)


def _held() -> list[Row]:
    parse = service_pb2.PostWorkflowResultsResponse.FromString
    unread = WorkflowPrediction.from_proto(parse(response_bytes(32)))
    tracked_unread = tracked_objects(unread)
    top_concepts(unread)
    tracked_top = tracked_objects(unread)
    load(unread.results)
    tracked_full = tracked_objects(unread)
    parsed, held, read = (_kib(what) for what in ("parsed", "unread", "read"))
    return [
        Row(
            HELD,
            "GC-tracked objects, unread",
            f"{tracked_unread:,}",
            f"{tracked_full:,} read",
            tracked_unread,
            "tracked unread",
            f"{tracked_unread:,}",
        ),
        Row(
            HELD,
            "GC-tracked objects after the top-concept read",
            f"{tracked_top:,}",
            f"{tracked_full:,} read",
            tracked_top,
            "tracked top",
            f"{tracked_top:,}",
        ),
        Row(
            HELD,
            "memory (RSS) unread vs fully read",
            f"{held:,.0f} KiB",
            f"{read:,.0f} KiB",
            held / read,
            "bytes unread",
        ),
        Row(
            HELD,
            "its floor: the parsed response message alone vs the fully read prediction",
            f"{parsed:,.0f} KiB",
            f"{read:,.0f} KiB",
            parsed / read,
        ),
    ]
