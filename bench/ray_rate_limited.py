"""The Ray Data recipe with 4 workers against an emulator limited to R requests/s per PAT.

Each worker is its own process with its own client, so its own rate limiter: this is the
"several processes sharing one PAT, no coordination" case. Prints throughput against the ideal
R x 32 inputs/s, the throttled share of calls and the failed inputs. Run with
`python bench/ray_rate_limited.py [R] [INPUTS]`; the figures go into docs/scale.md by hand.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine

import ray  # noqa: E402

from clarifai_workflow_predict.ray_data import WorkflowPredictor  # noqa: E402
from clarifai_workflow_predict.testing import LocalWorkflowServer  # noqa: E402

PAT = "ray-bench-pat"


def main(rate: float, count: int) -> None:
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"CLARIFAI_PAT": PAT, "GRPC_VERBOSITY": "ERROR"}},
    )
    rows = [{"id": f"row-{i}", "url": f"https://example.com/ray/{i}.jpg"} for i in range(count)]
    with LocalWorkflowServer(pat=PAT, rate_limit=rate) as server:
        started = time.monotonic()
        out = (
            ray.data.from_items(rows)
            .map_batches(
                WorkflowPredictor,
                fn_constructor_kwargs={
                    "workflow_id": "General",
                    "target": server.target,
                    "insecure": True,
                },
                batch_size=256,
                concurrency=4,
            )
            .take_all()
        )
        took = time.monotonic() - started
        calls, throttled = len(server.requests), server.throttled
    ray.shutdown()
    failed = sum(row["status"] != "SUCCESS" for row in out) + count - len(out)
    print(
        f"{count:,} inputs, 4 Ray workers, emulator limited to {rate:g} requests/s: "
        f"{took:.1f} s, {count / took:,.0f} inputs/s ({count / took / (rate * 32):.2f}x the ideal "
        f"{rate * 32:,.0f}), throttled {throttled}/{calls} calls ({100 * throttled / calls:.1f}%), "
        f"failed inputs {failed}"
    )


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 15.0,
        int(sys.argv[2]) if len(sys.argv) > 2 else 19200,
    )
