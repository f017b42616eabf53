"""A FastAPI service (uvicorn, one worker, its own process) whose endpoint calls a workflow
through the bench server (30 ms server latency) and returns each result's top concept, loaded by
16 concurrent HTTP clients: throughput with ``AsyncWorkflowClient`` against the same service on
the raw ``grpc.aio`` stub (which builds its request from the URLs and reads the protobuf), for 1
and 32 inputs. The sides take turns, a few seconds each, and the median ratio is reported. A
last row runs both services with ``gc.freeze()`` at start (the README's advice for services).

The service is ``service.py`` beside this file, run as ``python service.py SIDE TARGET``.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time

from common import ENV, HERE, Context, Row

SECTION = "FastAPI service, 30 ms server latency, 16 concurrent clients"
CLIENTS = 16
#: Seconds of load each service gets before it is measured: a new client's slow start paces
#: its first second or two, and the case measures a service as it runs after that.
WARM_UP = 2.5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """``service.py`` for one side, in its own process, until closed."""

    def __init__(self, side: str, target: str, *extra: str) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "service.py"), side, target, str(self.port), *extra],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the {side} service did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def _throughput(url: str, inputs: int, seconds: float) -> float:
    """Requests per second ``CLIENTS`` clients, each asking again as soon as answered, get."""
    import httpx

    done = 0
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        await asyncio.gather(*(http.get(f"/top?inputs={inputs}") for _ in range(CLIENTS)))

        async def client() -> None:
            nonlocal done
            while time.monotonic() < end:
                answer = await http.get(f"/top?inputs={inputs}")
                answer.raise_for_status()
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        return done / (time.monotonic() - started)


def _rows(ctx: Context, freeze: bool) -> list[Row]:
    seconds = 1.0 if ctx.scale.quick else 4.0
    rounds = 2 if ctx.scale.quick else 5
    extra = ("freeze",) if freeze else ()
    services = {side: Service(side, ctx.server.target, *extra) for side in ("ours", "raw")}
    rows = []
    try:
        for service in services.values():  # past the client's slow start (its first ~2 s)
            asyncio.run(_throughput(service.url, 32, WARM_UP))
        for inputs in (1, 32) if not freeze else (32,):
            rates: dict[str, list[float]] = {side: [] for side in services}
            for _ in range(rounds):
                for side, service in services.items():
                    rates[side].append(asyncio.run(_throughput(service.url, inputs, seconds)))
            ratios = [a / b for a, b in zip(rates["ours"], rates["raw"], strict=True)]
            rows.append(
                Row(
                    SECTION,
                    f"{inputs} input{'s' if inputs > 1 else ''} a request: requests/s, ours vs the"
                    " raw `grpc.aio` stub"
                    + (", both services `gc.freeze()` at start" if freeze else ""),
                    f"{statistics.median(rates['ours']):,.0f}/s",
                    f"{statistics.median(rates['raw']):,.0f}/s",
                    statistics.median(ratios),
                    "" if freeze else f"fastapi {inputs}",
                )
            )
    finally:
        for service in services.values():
            service.close()
    return rows


def run(ctx: Context) -> list[Row]:
    return _rows(ctx, freeze=False) + _rows(ctx, freeze=True)
