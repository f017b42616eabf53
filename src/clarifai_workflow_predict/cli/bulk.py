"""``bulk WORKFLOW INPUTS --out FILE``: every input of a file into JSON lines, resumably, through
``WorkflowClient.bulk``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from . import (
    EXIT_BUDGET,
    EXIT_ERROR,
    EXIT_FAILED_INPUTS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    WORKFLOW_HELP,
    Usage,
    connect,
    connection_options,
    input_error,
    int_in,
    output_config,
    positive,
    transport_cause,
    workflow_id,
    writable,
)
from .progress import ProgressLine, summary_text

if TYPE_CHECKING:
    from .. import BulkSummary

#: What to do when ``--out`` holds the lines of another job.
MISMATCH_ADVICE = "use another --out, or --overwrite to start the file afresh"


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``bulk`` command and its options."""
    parser = commands.add_parser(
        "bulk",
        parents=[common],
        help="predict every input of a file into JSON lines, resumably",
        description="Predict every input in INPUTS (one URL or path per line, or a CSV with a "
        "'url' and an optional 'id' column) into --out, one JSON line per input. Rerunning "
        "resumes: it checks that the file belongs to the same job and inputs, then runs the "
        "inputs that have no line yet. Ctrl-C leaves a valid file to resume from; a second "
        "Ctrl-C stops at once.",
    )
    parser.add_argument("workflow_id", metavar="WORKFLOW", type=workflow_id, help=WORKFLOW_HELP)
    parser.add_argument("inputs_file", metavar="INPUTS", help="a text file of URLs/paths, or a CSV")
    parser.add_argument("--out", required=True, help="the JSON-lines file to write (and resume)")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="also run again the inputs whose line shows a failure",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start --out afresh instead of resuming it"
    )
    parser.add_argument(
        "--dedupe",
        action="store_true",
        help="send inputs with the same data once, and copy the answer to their duplicates "
        "(off by default: a generative model may answer the same prompt differently)",
    )
    parser.add_argument(
        "--max-operations",
        type=int_in(1, 2**63 - 1),
        metavar="N",
        help="stop before this run would use more than N operations (model calls, as billed; "
        "an estimate), exiting 4; a rerun resumes with a budget of its own",
    )
    parser.add_argument(
        "--batch-size", type=int_in(1, 32), default=32, help="inputs per request (1 to 32)"
    )
    parser.add_argument(
        "--max-concurrency", type=int_in(1, 1024), default=4, help="requests in flight"
    )
    parser.add_argument(
        "--rate-limit",
        type=rate_limit,
        default="adaptive",
        metavar="R",
        help="at most R requests per second, adapting below it when throttled; 'adaptive' "
        "(default) starts gently and paces to what the API allows; 'none' never paces",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress line (default: when stderr is a terminal)",
    )
    connection_options(
        parser,
        "seconds each attempt of a request may take (default 30); a request retries a model "
        "that is still deploying (a cold start) for up to 10 minutes",
    )
    parser.set_defaults(run=run)


def rate_limit(value: str) -> str | float | None:
    """An argparse type: requests per second, ``adaptive`` or ``none``."""
    if value.lower() in ("adaptive", "none"):
        return None if value.lower() == "none" else "adaptive"
    try:
        return positive(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be requests per second (> 0), 'adaptive' or 'none', got {value!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Run the job; say what it wrote, and why it stopped if it did."""
    from .. import InputError, TransportError

    writable(args.out, "--out")
    line = ProgressLine(sys.stderr, sys.stderr.isatty() if args.progress is None else args.progress)
    last: list[BulkSummary] = []  # what the file held at the last written batch

    def progress(summary: BulkSummary) -> None:
        last[:] = [summary]
        line.update(summary)

    with connect(
        args,
        batch_size=args.batch_size,
        max_concurrency=args.max_concurrency,
        rate_limit=args.rate_limit,
    ) as client:
        try:
            summary = client.bulk(
                args.workflow_id,
                args.inputs_file,
                args.out,
                retry_failed=args.retry_failed,
                overwrite=args.overwrite,
                dedupe=args.dedupe,
                max_operations=args.max_operations,
                progress=progress,
                user_id=args.user_id,
                app_id=args.app_id,
                version_id=args.version_id,
                output_config=output_config(args),
                sample_ms=args.sample_ms,
            )
        except KeyboardInterrupt:  # the first Ctrl-C, at a safe point; the next ends it at once
            finish(line, last, args.out)
            print("interrupted: run the same command again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        except TransportError as down:
            finish(line, last, args.out)
            print(
                f"error: stopped: {transport_cause(down, args)}; nothing was written for the "
                "inputs of the failed requests; rerun to resume",
                file=sys.stderr,
            )
            return EXIT_ERROR
        except InputError as refused:
            if type(refused) is InputError:
                raise  # a bad argument, reported as any other
            # The resume check raises a subclass (JobMismatch): --out holds another job's lines.
            print(f"error: {input_error(refused, MISMATCH_ADVICE)}", file=sys.stderr)
            return EXIT_USAGE
    if not summary.total:
        raise Usage(f"nothing to predict: {args.inputs_file} holds no inputs")
    finish(line, [summary], args.out)
    if summary.budget_reached:
        print(
            f"stopped at the budget of {args.max_operations:,} operations (--max-operations); "
            "rerun to go on: each run spends up to its own --max-operations",
            file=sys.stderr,
        )
        return EXIT_BUDGET
    if summary.failed:
        print(
            f"{summary.failed:,} inputs failed; rerun with --retry-failed to try them again",
            file=sys.stderr,
        )
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def finish(line: ProgressLine, last: list[BulkSummary], out: str) -> None:
    """End the progress line, then print the summary of ``last`` (if anything was written)."""
    if last:
        line.update(last[0])
    line.end()
    if last:
        print(summary_text(last[0], out), file=sys.stderr)
