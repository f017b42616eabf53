"""Async throughput: ``AsyncWorkflowClient.predict`` with every field read, against a raw
``grpc.aio`` call and against its floor (the raw call and the same reads on the protobuf),
both on one event loop, at 1, 16 and 64 concurrent workers."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import grpc.aio
from common import METADATA, PAT, Context, Row, Scale, awarmed, ratio, raw_method
from floor import read_all
from reads import every_field
from workload import URL, request

from clarifai_workflow_predict import AsyncWorkflowClient


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


async def _rows(target: str, scale: Scale) -> list[Row]:
    section = "async calls vs a raw grpc.aio call"
    rows = []
    channel = grpc.aio.insecure_channel(target)
    raw = raw_method(channel)
    one = request(1)
    async with AsyncWorkflowClient(PAT, target=target, insecure=True) as client:
        await awarmed(client)

        async def floor() -> None:
            read_all((await raw(one, timeout=30, metadata=METADATA)).results)

        async def ours() -> None:
            every_field(await client.predict("General", URL))

        calls = {
            "raw": lambda: raw(one, timeout=30, metadata=METADATA),
            "ours": ours,
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


def run(ctx: Context) -> list[Row]:
    return asyncio.run(_rows(ctx.server.target, ctx.scale))
