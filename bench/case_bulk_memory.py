"""``bulk --dedupe`` at scale: the peak RSS of the command over 1,000,000 input lines, half of
them duplicates (so its duplicate keys hold half a million distinct inputs), and the requests a
file of 50% duplicates sends with and without ``--dedupe``.

The emulator runs as ``serve`` in its own process (its memory is not the command's) with the
``Color`` workflow, whose answers are small, so the output file stays a few hundred MB; each
``bulk`` runs in a fresh process that reports its own peak (``VmHWM``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, Context, Row

SECTION = "bulk --dedupe at scale"

# Runs the command in this process and prints its peak RSS in KiB afterwards.
RUN = (
    "import sys\n"
    "from clarifai_workflow_predict.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "with open('/proc/self/status') as f:\n"
    "    peak = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))\n"
    "print('peak_kib', peak, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _inputs(path: Path, lines: int) -> None:
    """``lines`` URLs, each of the first half once more in the second half."""
    half = lines // 2
    with path.open("w") as f:
        for i in range(lines):
            f.write(f"https://example.com/dedupe/{i % half}.jpg\n")


def _bulk(target: str, inputs: Path, out: Path, *extra: str) -> tuple[int, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            "bulk",
            "Color",
            str(inputs),
            "--out",
            str(out),
            "--target",
            target,
            "--insecure",
            "--no-progress",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"bulk exited {done.returncode}: {done.stderr[-2000:]}")
    return int(done.stderr.split("peak_kib")[-1].split()[0]), took, done.stderr


def run(ctx: Context) -> list[Row]:
    lines = 20_000 if ctx.scale.quick else 1_000_000
    rows = []
    serve = subprocess.Popen(
        [sys.executable, "-m", "clarifai_workflow_predict", "serve"],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    target = serve.stdout.readline().split()[-1]  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inputs = Path(tmp, "inputs.txt")
            _inputs(inputs, lines)
            peak, took, _ = _bulk(target, inputs, Path(tmp, "out.jsonl"), "--dedupe")
            size = Path(tmp, "out.jsonl").stat().st_size
            rows.append(
                Row(
                    SECTION,
                    f"peak RSS of `bulk --dedupe` over {lines:,} lines, 50% duplicates "
                    f"({took:,.0f} s, {lines / took:,.0f} lines/s, {size / 2**20:,.0f} MiB written)",
                    f"{peak / 1024:,.0f} MiB",
                    "",
                    peak / 1024,
                    "dedupe rss",
                    f"{peak / 1024:,.0f} MiB",
                )
            )
    finally:
        serve.terminate()
        serve.wait(30)
    rows += _duplicates(ctx)
    return rows


def _duplicates(ctx: Context) -> list[Row]:
    """Requests sent for a file of 50% duplicates, with and without ``--dedupe``."""
    from clarifai_workflow_predict.testing import LocalWorkflowServer

    lines = 640 if ctx.scale.quick else 6400
    counts = {}
    with LocalWorkflowServer() as server, tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp, "inputs.txt")
        _inputs(inputs, lines)
        for label, extra in (("plain", ()), ("dedupe", ("--dedupe",))):
            before = len(server.requests)
            _bulk(server.target, inputs, Path(tmp, f"{label}.jsonl"), *extra)
            counts[label] = len(server.requests) - before
    return [
        Row(
            SECTION,
            f"requests for a file of {lines:,} lines, 50% duplicates: `--dedupe` vs without",
            f"{counts['dedupe']:,}",
            f"{counts['plain']:,}",
            counts["dedupe"] / counts["plain"],
        )
    ]
