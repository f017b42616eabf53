"""From the end of a cold start to the first result, for one ``predict`` with the default retry
policy, against the emulator."""

from __future__ import annotations

import time

from common import Context, Row
from workload import URL

from clarifai_workflow_predict import WorkflowClient
from clarifai_workflow_predict.testing import LocalWorkflowServer


def run(ctx: Context) -> list[Row]:
    scale = ctx.scale
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
