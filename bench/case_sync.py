"""Sync calls against a raw stub call: ``predict_request`` (no conversion) and ``predict`` of 1
and 32 inputs, each with every field read (``reads.every_field``, attribute by attribute, as a
caller reads them), beside the field-read floor (``floor.py``: the raw call and the same fields
read on the protobuf)."""

from __future__ import annotations

import grpc
from common import METADATA, PAT, Context, Row, alternate, compared, raw_method, warmed
from floor import read_all
from reads import every_field
from workload import URL, request

from clarifai_workflow_predict import WorkflowClient


def run(ctx: Context) -> list[Row]:
    server, scale = ctx.server, ctx.scale
    section = "sync calls vs a raw stub call"
    channel = grpc.insecure_channel(server.target)
    raw = raw_method(channel)
    rows = []
    with warmed(WorkflowClient(PAT, target=server.target, insecure=True)) as client:
        one = request(1)
        samples = alternate(
            {
                "raw": lambda: raw(one, timeout=30, metadata=METADATA),
                "predict_request": lambda: client.predict_request(one),
                "predict": lambda: every_field(client.predict("General", URL)),
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
                "1-input `predict` + every field read, p50, vs its floor (raw call + the same reads)",
                "sync floor",
            ),
            compared(
                samples,
                "predict",
                "raw",
                section,
                "1-input `predict` + every field vs raw stub call",
            ),
            compared(samples, "floor", "raw", section, "1-input floor p50 vs raw stub call"),
        ]

        many, urls = request(32), [URL] * 32
        samples = alternate(
            {
                "raw": lambda: raw(many, timeout=30, metadata=METADATA),
                "predict": lambda: every_field(client.predict("General", urls)),
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
                "32-input `predict` + every field vs raw stub call (retired target ≤ 3.0x)",
            ),
            compared(
                samples,
                "predict",
                "floor",
                section,
                "32-input `predict` + every field vs its floor",
            ),
        ]
    channel.close()
    return rows
