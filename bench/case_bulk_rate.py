"""``bulk`` processes sharing one PAT against an emulator limited to ``RATE`` requests/s."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, PAT, Context, Row

from clarifai_workflow_predict.testing import LocalWorkflowServer

RATE = 20.0  # the emulator's requests per second per PAT


def run(ctx: Context) -> list[Row]:
    scale = ctx.scale
    """``bulk`` processes sharing one PAT against an emulator limited to ``RATE`` requests/s."""
    rows = []
    for processes in (1, 4):
        each = scale.bulk_inputs * 4 // processes  # the same work in all, split evenly
        with LocalWorkflowServer(rate_limit=RATE) as server, tempfile.TemporaryDirectory() as tmp:
            commands = []
            for k in range(processes):
                inputs = Path(tmp, f"in-{k}.txt")
                inputs.write_text(
                    "".join(f"https://example.com/{k}/{i}.jpg\n" for i in range(each))
                )
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
            # An input fails with a failure line, or with no line at all.
            failed = sum('"name":"SUCCESS"' not in line for line in lines)
            failed += each * processes - len(lines)
            written = len(lines)
            calls, throttled = len(server.requests), server.throttled
        who = "4 processes sharing one PAT" if processes > 1 else "1 process"
        section = f"bulk, emulator limited to {RATE:g} requests/s, {who}"
        ideal = RATE * 32
        rows += [
            Row(
                section,
                f"inputs/s vs the ideal {RATE:g} x 32 ({written:,} inputs in {took:.1f} s)",
                f"{written / took:,.0f}/s",
                f"{ideal:,.0f}/s",
                written / took / ideal,
                "bulk inputs/s",
            ),
            Row(
                section,
                "throttled responses, share of calls",
                f"{throttled:,}",
                f"{calls:,} calls",
                100 * throttled / calls,
                "bulk throttled",
                f"{100 * throttled / calls:.1f}%",
            ),
            Row(
                section,
                "failed inputs (a failure line, or none)",
                f"{failed:,}",
                f"{each * processes:,} inputs",
                failed,
                "bulk failed",
                f"{failed:,}",
            ),
        ]
    return rows
