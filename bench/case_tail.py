"""p99/p50 of a 32-input ``predict`` called in a loop, the garbage collector left as it is, and
the GC-tracked objects one prediction holds."""

from __future__ import annotations

import gc
import statistics

from clarifai_grpc.grpc.api import service_pb2
from common import PAT, Context, Row, alternate, pct, us
from heap import tracked_objects
from workload import URL, response_bytes

from clarifai_workflow_predict import WorkflowClient, WorkflowPrediction


def run(ctx: Context) -> list[Row]:
    """p99/p50 of a 32-input ``predict`` called in a loop, the garbage collector left as it is."""
    server, scale = ctx.server, ctx.scale
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
