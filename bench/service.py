"""The FastAPI service of ``case_fastapi.py``: ``python service.py SIDE TARGET PORT [freeze]``.

``GET /top?inputs=N`` predicts N image URLs through the workflow ``General`` on the bench server
at TARGET (asking it for 30 ms of latency) and returns each result's top concept. SIDE ``ours``
calls through ``AsyncWorkflowClient``; ``raw`` through a raw ``grpc.aio`` multicallable, building
the request from the URLs and reading the protobuf, as a service written on the stubs would.
With ``freeze`` the service calls ``gc.freeze()`` before it serves, as the README advises
services that hold many results to do after warm-up.
"""

from __future__ import annotations

import gc
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc.aio  # noqa: E402
import uvicorn  # noqa: E402
from clarifai_grpc.grpc.api import resources_pb2, service_pb2  # noqa: E402
from common import METADATA, PAT, raw_method  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from workload import URL  # noqa: E402

from clarifai_workflow_predict import AsyncWorkflowClient  # noqa: E402

LATENCY = (("x-bench-latency-ms", "30"),)


def app(side: str, target: str, *, freeze: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if freeze:  # what is alive once the service has started leaves every later collection
            gc.freeze()
        yield

    service = FastAPI(lifespan=lifespan)
    ours = AsyncWorkflowClient(PAT, target=target, insecure=True)
    channel: grpc.aio.Channel | None = None

    @service.get("/top")
    async def top(inputs: int = 32) -> list[str]:
        urls = [URL] * inputs
        if side == "ours":
            prediction = await ours.predict("General", urls, metadata=LATENCY)
            return [r.outputs[0].concepts[0].name for r in prediction.results]
        nonlocal channel
        if channel is None:  # a grpc.aio channel belongs to the loop that serves the app
            channel = grpc.aio.insecure_channel(target)
        request = service_pb2.PostWorkflowResultsRequest(
            workflow_id="General",
            inputs=[
                resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=u)))
                for u in urls
            ],
        )
        response = await raw_method(channel)(request, timeout=30, metadata=METADATA + LATENCY)
        return [r.outputs[0].data.concepts[0].name for r in response.results]

    return service


if __name__ == "__main__":
    side, target, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(
        app(side, target, freeze=sys.argv[4:] == ["freeze"]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        workers=1,
    )
