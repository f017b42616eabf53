"""Peak memory of `clarifai-workflow-predict bulk` as the input count grows (10k and 100k).

Starts the emulator (`serve`) in its own process, writes an inputs file of N distinct URLs, runs
`bulk` in a fresh process for each N and reports that process's peak RSS and its rate. Run with
`python bench/bulk_memory.py [N ...]`; the figures go into docs/scale.md by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = (
    "import resource, sys\n"
    "from clarifai_workflow_predict.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def main(counts: list[int]) -> None:
    env = {**os.environ, "GRPC_VERBOSITY": "ERROR"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "clarifai_workflow_predict", "serve"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    target = serve.stdout.readline().split()[-1]  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for count in counts:
                inputs, out = Path(tmp, f"in-{count}.txt"), Path(tmp, f"out-{count}.jsonl")
                inputs.write_text(
                    "".join(f"https://example.com/bulk/{i}.jpg\n" for i in range(count))
                )
                started = time.monotonic()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        RUN,
                        "bulk",
                        "General",
                        str(inputs),
                        "--out",
                        str(out),
                        "--target",
                        target,
                        "--insecure",
                        "--no-progress",
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                )
                took = time.monotonic() - started
                peak = int(done.stderr.split("peak_kib")[-1].split()[0])
                written = sum(1 for _ in out.open())
                size = out.stat().st_size
                print(
                    f"{count:>9,} inputs: exit {done.returncode}, {written:,} lines ({size / 2**20:,.0f} MiB), "
                    f"peak RSS {peak / 1024:,.1f} MiB, {took:,.1f} s ({count / took:,.0f} inputs/s)",
                    flush=True,
                )
    finally:
        serve.terminate()
        serve.wait(30)


if __name__ == "__main__":
    main([int(n) for n in sys.argv[1:]] or [10_000, 100_000])
