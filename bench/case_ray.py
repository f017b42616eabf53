"""The Ray Data recipe (``ray_data.WorkflowPredictor``) with ``WORKERS`` workers sharing one PAT
against an emulator limited to ``RATE`` requests/s.

Each worker is its own process with its own client, so its own rate limiter: several processes
sharing one limit with no coordination, started by Ray. Unlike ``bulk`` processes with their
inputs split evenly, Ray hands the next batch to whichever worker is free, so a worker the
limit favours does more of the work instead of leaving the others to finish alone.

Ray's own start-up (the cluster, then each worker's interpreter, imports and client) takes
seconds here, varies from run to run by more than the whole figure's margin, and says nothing
about the client. So the time runs from the first request the emulator receives (the first
worker ready with its first batch) to the last row in the driver's hands. That is the
predictor's own time plus Ray's data movement while it runs, and it counts the other workers
starting late, as they do in a real job. The predictor's own time alone (summed per batch)
would leave out the gaps between batches, which are part of what a user waits for.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from common import PAT, Context, Row, job_rows

from clarifai_workflow_predict.testing import LocalWorkflowServer

RATE = 15.0  # the emulator's requests per second per PAT: Clarifai's default limit
WORKERS = 4
BATCH = 256  # rows per call of the predictor: 8 requests of 32
SECTION = (
    f"Ray Data recipe, {WORKERS} workers sharing one PAT, emulator limited to {RATE:g} requests/s"
)


def run(ctx: Context) -> list[Row]:
    try:
        import ray
    except ImportError:
        return [
            Row(SECTION, "not run: Ray is not installed (pip install -e '.[ray]')", "", "", None)
        ]
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine
    # Ray waits 30 s for its GCS server by default; a busy 2-core machine can take longer.
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")
    ray.init(
        num_cpus=WORKERS,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"CLARIFAI_PAT": PAT, "GRPC_VERBOSITY": "ERROR"}},
    )
    try:
        return _job(ray, ctx.scale.ray_inputs)
    finally:
        ray.shutdown()


def _job(ray: Any, count: int) -> list[Row]:
    from clarifai_workflow_predict.ray_data import WorkflowPredictor

    rows = [{"id": f"row-{i}", "url": f"https://example.com/ray/{i}.jpg"} for i in range(count)]
    with LocalWorkflowServer(pat=PAT, rate_limit=RATE) as server:
        first = _FirstRequest(server)
        out = (
            ray.data.from_items(rows)
            .map_batches(
                WorkflowPredictor,
                fn_constructor_kwargs={
                    "workflow_id": "General",
                    "target": server.target,
                    "insecure": True,
                },
                batch_size=BATCH,
                concurrency=WORKERS,
            )
            .take_all()
        )
        took = time.monotonic() - first.stop()
        calls, throttled = len(server.requests), server.throttled
    failed = sum(row["status"] != "SUCCESS" for row in out) + count - len(out)
    return job_rows(
        SECTION,
        RATE,
        done=len(out),
        took=" from the first request",
        seconds=took,
        calls=calls,
        throttled=throttled,
        failed=failed,
        total=count,
        failed_means="a row with a failing status, or none",
    )


class _FirstRequest:
    """When the emulator received its first request, watched from a thread."""

    def __init__(self, server: LocalWorkflowServer) -> None:
        self._server = server
        self._at: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set() and not self._server.requests:
            time.sleep(0.002)
        self._at = time.monotonic()

    def stop(self) -> float:
        """The time of the first request (``time.monotonic``)."""
        self._done.set()
        self._thread.join()
        assert self._at is not None
        return self._at
