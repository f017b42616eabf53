"""Import time in fresh processes: the package, the client, and the stubs they are built on."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import Callable

from common import Context, Row, compared, ms

IMPORT_PROBE = (
    "import sys, time; {setup}; t = time.perf_counter(); {statement}; "
    "print(time.perf_counter() - t)"
)
#: Makes ``import opentelemetry`` fail, as when the ``otel`` extra is not installed.
WITHOUT_OTEL = "sys.modules['opentelemetry'] = None"


def _import(statement: str, setup: str = "pass") -> Callable[[], float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run() -> float:
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(setup=setup, statement=statement)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return float(out.stdout.strip().splitlines()[-1])

    return run


def run(ctx: Context) -> list[Row]:
    scale = ctx.scale
    statements = {
        "ours": "import clarifai_workflow_predict",
        "stubs": "from clarifai_grpc.grpc.api import service_pb2_grpc",
        "client": "from clarifai_workflow_predict import WorkflowClient",
    }
    if importlib.util.find_spec("clarifai") is not None:
        statements["sdk"] = "from clarifai.client.workflow import Workflow"
    probes = {name: _import(statement) for name, statement in statements.items()}
    probes["client without otel"] = _import(statements["client"], WITHOUT_OTEL)
    for probe in probes.values():
        probe()  # writes the bytecode caches
    # Each probe reports the import's own time, measured inside its fresh process.
    times: dict[str, list[list[float]]] = {name: [[]] for name in probes}
    for _ in range(max(3, scale.rounds // 2)):
        for name, probe in probes.items():
            times[name][0].append(probe())
    section = "import, fresh processes"
    rows = [
        compared(
            times,
            "ours",
            "stubs",
            section,
            "`import clarifai_workflow_predict` vs `from clarifai_grpc.grpc.api import service_pb2_grpc`",
            "import",
            ms,
        ),
        compared(
            times,
            "client",
            "stubs",
            section,
            "`from clarifai_workflow_predict import WorkflowClient` vs the stubs",
            shown=ms,
        ),
        compared(
            times,
            "client",
            "client without otel",
            section,
            "that with `opentelemetry-api` installed vs without it (tracing loads it at the "
            "first call, never at import)",
            "import otel",
            ms,
        ),
    ]
    if "sdk" in times:
        rows.append(
            compared(
                times,
                "client",
                "sdk",
                section,
                "that vs the official SDK's `from clarifai.client.workflow import Workflow`",
                shown=ms,
            )
        )
    return rows
