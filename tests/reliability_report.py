"""Render the counters of a reliability run (``make soak``) into ``docs/reliability.md``."""

from __future__ import annotations

import datetime
import json
import platform
import sys
from pathlib import Path

MEANING = {
    "predictions": "predict calls made by the fault, load and hygiene tests",
    "inputs_sent": "inputs in those calls",
    "calls_made": "RPCs the emulator saw in the transient-fault runs (attempts, retries included)",
    "faults_injected": "of those, calls the emulator failed on purpose (UNAVAILABLE or CONN_THROTTLED, 30%)",
    "retries": "attempts beyond the first, per request, in the transient-fault runs",
    "failed_inputs_reported": "inputs that came back as failed results or in a typed error, never silently",
    "calls_failed_typed": "calls that raised a typed error after exhausting retries or the deadline",
    "inputs_lost": "inputs with neither a result nor a reported failure (must be 0)",
    "misalignments": "results that belonged to another input (must be 0)",
    "bad_inputs_tried": "generated input values and arguments, each a valid request or an InputError",
    "malformed_responses_tried": "generated malformed responses and garbage bytes, each converted or a ClarifaiError",
    "open_close_cycles": "client open/predict/close cycles, sync and async",
    "leaks_found": "threads, gRPC threads and file descriptors left behind (must be 0)",
}


def main(source: str, target: str) -> None:
    data = json.loads(Path(source).read_text())
    counts = data["counts"]
    lines = [
        "# Reliability",
        "",
        "Figures from one run of the fault, load, hygiene, fuzz and security tests with their long",
        "variants (`make soak`). Every load and fault test runs on loopback against",
        "`LocalWorkflowServer` or a test server, bounded in calls and time. `make test` runs the same",
        "tests without the `soak`-marked variants.",
        "",
        f"- date: {datetime.date.today().isoformat()}; Python {platform.python_version()}",
        "",
        "| figure | value | what it counts |",
        "| --- | --- | --- |",
    ]
    for name, meaning in MEANING.items():
        lines.append(f"| {name.replace('_', ' ')} | {counts.get(name, 0):,} | {meaning} |")
    lines += ["", *data.get("notes", [])]
    Path(target).write_text(
        "\n".join(lines).rstrip()
        + "\n"
        + (Path(__file__).parent / "RELIABILITY_NOTES.md").read_text()
    )
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
