"""The official SDK, when installed (``make bench-sdk``): reference rows only."""

from __future__ import annotations

import importlib.util

from common import PAT, Context, Row, alternate, compared
from workload import URL

from clarifai_workflow_predict import WorkflowClient


def run(ctx: Context) -> list[Row]:
    server, scale = ctx.server, ctx.scale
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
