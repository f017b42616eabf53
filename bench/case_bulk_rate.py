"""``bulk`` processes sharing one PAT against an emulator limited to ``RATE`` requests/s: one
process, then ``SHARED`` processes with the same inputs split evenly between them.

The time runs from starting the processes to the last one's exit, interpreter start-up included
(about half a second of a 15-second job here): that is what a user waits for.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, PAT, Context, Row, job_rows

from clarifai_workflow_predict.testing import LocalWorkflowServer

RATE = 10.0  # the emulator's requests per second per PAT
SHARED = 4  # processes sharing the PAT in the second job


def run(ctx: Context) -> list[Row]:
    rows = []
    for processes in (1, SHARED):
        rows += _job(ctx.scale.bulk_inputs, processes)
    return rows


def _job(total: int, processes: int) -> list[Row]:
    """``total`` inputs split evenly between ``processes`` ``bulk`` processes."""
    shares = [total // processes + (k < total % processes) for k in range(processes)]
    with LocalWorkflowServer(rate_limit=RATE) as server, tempfile.TemporaryDirectory() as tmp:
        commands = []
        for k, share in enumerate(shares):
            inputs = Path(tmp, f"in-{k}.txt")
            inputs.write_text("".join(f"https://example.com/{k}/{i}.jpg\n" for i in range(share)))
            commands.append(
                [
                    sys.executable,
                    "-m",
                    "clarifai_workflow_predict",
                    "bulk",
                    "General",
                    str(inputs),
                    "--out",
                    str(Path(tmp, f"out-{k}.jsonl")),
                    "--target",
                    server.target,
                    "--insecure",
                    "--pat",
                    PAT,
                    "--no-progress",
                ]
            )
        started = time.monotonic()
        running = [subprocess.Popen(c, stderr=subprocess.PIPE, env=ENV) for c in commands]
        for process in running:
            process.communicate(timeout=600)
        took = time.monotonic() - started
        lines = [
            line
            for k in range(processes)
            for line in Path(tmp, f"out-{k}.jsonl").read_text().splitlines()
        ]
        calls, throttled = len(server.requests), server.throttled
    # An input fails with a failure line, or with no line at all.
    failed = sum('"name":"SUCCESS"' not in line for line in lines) + total - len(lines)
    written = len(lines)
    who = f"{processes} processes sharing one PAT" if processes > 1 else "1 process"
    section = f"bulk, emulator limited to {RATE:g} requests/s, {who}"
    return job_rows(
        section,
        RATE,
        done=written,
        took="",
        seconds=took,
        calls=calls,
        throttled=throttled,
        failed=failed,
        total=total,
        failed_means="a failure line, or none",
    )
