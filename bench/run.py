"""Side-by-side benchmarks: ``make bench`` (``python bench/run.py``).

Each ``case_*.py`` is one benchmark: its ``run(ctx)`` measures, within this one run, and returns
report rows. ``common.TARGETS`` is the one table of targets; the report prints it, each target
beside its figure, to stdout and ``docs/benchmarks.md``, followed by ``NOTES.md``.

``--quick`` runs every case with few repetitions (a smoke test; its figures mean little);
``--only NAME`` runs the named cases (``--only sync --only tail``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import FULL, QUICK, ROOT, TARGETS, Context, Row, Scale  # noqa: E402

#: The cases, in the order they run and report.
CASES = (
    "pacing",
    "bulk_rate",
    "ray",
    "cold_start",
    "sync",
    "typical",
    "conversion",
    "fastapi",
    "async",
    "chunked",
    "bulk_memory",
    "sdk",
    "import",
)


def table(rows: list[Row]) -> str:
    lines = [
        "| section | figure | ours | reference | value | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        value = r.shown or ("" if r.value is None else f"{r.value:.2f}x")
        target = TARGETS[r.target].text if r.target else ""
        lines.append(
            f"| {r.section} | {r.figure} | {r.ours} | {r.reference} | {value} | {target} | {met} |"
        )
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(rows: list[Row], seconds: float, scale: Scale) -> str:
    import grpc as grpc_module
    from google.protobuf import __version__ as protobuf_version

    judged = [r for r in rows if r.met is not None]
    missed = [r for r in judged if not r.met]
    head = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); every figure is measured within this one run.",
        "Ratios compare sides on the same loopback server, taking turns, as a median over blocks.",
        "Targets come from the design's speed table; see the notes below for what each measures.",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- Python {platform.python_version()}, grpcio {grpc_module.__version__}, protobuf {protobuf_version}",
        f"- CPU: {cpu_name()}, {os.cpu_count()} cores",
        f"- blocks: {scale.blocks}, calls per block: {scale.calls}, conversion rounds: {scale.rounds}; took {seconds:.0f} s"
        + (" (--quick: a smoke run, figures mean little)" if scale.quick else ""),
        "",
        table(rows),
        "",
        f"Targets met: {len(judged) - len(missed)} of {len(judged)}."
        + (f" Missed: {'; '.join(f'{r.section}: {r.figure}' for r in missed)}." if missed else ""),
    ]
    return "\n".join(head) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few repetitions")
    parser.add_argument(
        "--only", action="append", choices=CASES, metavar="CASE", help=f"one of {', '.join(CASES)}"
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    if args.only and not args.no_write:
        parser.error("--only reports part of the table: add --no-write")
    ctx = Context(QUICK if args.quick else FULL)
    started = time.monotonic()
    rows: list[Row] = []
    try:
        for name in args.only or CASES:
            rows += importlib.import_module(f"case_{name}").run(ctx)
    finally:
        ctx.close()
    text = report(rows, time.monotonic() - started, ctx.scale)
    notes = (HERE / "NOTES.md").read_text() if (HERE / "NOTES.md").exists() else ""
    print(text)
    if args.json:
        print(json.dumps([{**r.__dict__, "met": r.met} for r in rows], indent=1))
    if not args.no_write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + ("\n" + notes if notes else ""))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
