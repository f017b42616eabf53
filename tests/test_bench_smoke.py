"""``bench/run.py --quick`` runs every benchmark end to end (figures not asserted: too noisy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_bench_reports_every_section() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-write"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )
    assert out.returncode == 0, out.stderr
    for section in (
        "pacing, simulated: processes sharing one PAT's limit",
        "bulk, emulator limited to 10 requests/s, 1 process",
        "bulk, emulator limited to 10 requests/s, 4 processes sharing one PAT",
        "Ray Data recipe, 4 workers sharing one PAT, emulator limited to 15 requests/s",
        "cold start of 1 s (`cold_start`)",
        "sync calls vs a raw stub call",
        "tail latency, no gc.freeze()",
        "conversion, 32 inputs x 3 outputs",
        "async calls vs a raw grpc.aio call",
        "import, fresh processes",
        "320 inputs, 50 ms server latency",
        "typical read: 32 inputs, the top concept of each output",
        "what a 32-input prediction holds",
        "FastAPI service, 30 ms server latency, 16 concurrent clients",
        "bulk --dedupe at scale",
    ):
        assert f"| {section} |" in out.stdout
    assert "Targets met:" in out.stdout
