"""The ``clarifai-workflow-predict`` command: ``predict``, ``bulk``, ``serve`` and ``demo``.

Exit codes: 0 success, 1 the call or command failed (one line on stderr; ``--debug`` adds the
traceback), 2 bad usage, 3 the prediction returned but some inputs failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Any, Sequence

from . import __version__

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FAILED_INPUTS = 0, 1, 2, 3

DEMO_PAT = "local-demo-pat"
# (workflow, what it shows, inputs): "name.png" is a sample image drawn by ``_samples``,
# ("text", ...) a text input, anything else a URL.
DEMO_CALLS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    (
        "General",
        "concepts, then a 512-d embedding; the fail.invalid input fails alone",
        ("station.png", "street.png", "https://fail.invalid/missing.jpg"),
    ),
    ("Detection", "objects, each with a box", ("station.png", "street.png")),
    ("OCR", "lines of text, each with a box", ("sign.png",)),
    ("Text", "sentiment and topics of a text", (("text", "A train pulls into a busy station."),)),
)
DEMO_REPORT = "demo-report.html"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # one line for people; the traceback only when asked
        if args.debug:
            traceback.print_exc()
        from .errors import ClarifaiError

        kind = (
            type(exc).__name__
            if isinstance(exc, ClarifaiError)
            else f"unexpected {type(exc).__name__}"
        )
        print(f"error: {kind}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs")
    parser = argparse.ArgumentParser(
        prog="clarifai-workflow-predict",
        description="Predict with Clarifai workflows, or run the local emulator.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    predict = commands.add_parser(
        "predict",
        parents=[common],
        help="run inputs through a workflow",
        description="Run inputs (URLs or files, and --text) through a workflow. The PAT, owner "
        "ids and target fall back to CLARIFAI_PAT, CLARIFAI_USER_ID, CLARIFAI_APP_ID and "
        "CLARIFAI_GRPC_BASE.",
    )
    predict.add_argument("workflow_id", metavar="WORKFLOW_ID")
    predict.add_argument("inputs", nargs="*", metavar="INPUT", help="an http(s) URL or a file path")
    predict.add_argument("--text", action="append", default=[], help="a text input (repeatable)")
    _connection_options(predict)
    predict.add_argument("--json", action="store_true", help="print the prediction as JSON")
    predict.add_argument(
        "--html", metavar="FILE", help="also write an HTML report of the prediction"
    )
    predict.set_defaults(run=_predict)

    bulk = commands.add_parser(
        "bulk",
        parents=[common],
        help="predict every input of a file into JSON lines, resumably",
        description="Predict every input in INPUTS (one URL or path per line, or a CSV with 'url' "
        "and optional 'id' columns) into --out, one JSON line per input. Rerunning skips inputs "
        "that already succeeded; Ctrl-C leaves a valid file to resume from.",
    )
    bulk.add_argument("workflow_id", metavar="WORKFLOW_ID")
    bulk.add_argument("inputs_file", metavar="INPUTS", help="a text file of URLs/paths, or a CSV")
    bulk.add_argument("--out", required=True, help="the JSON-lines file to write (and resume)")
    bulk.add_argument("--retry-failed", action="store_true", help="run only inputs that failed")
    bulk.add_argument("--batch-size", type=int, default=32, help="inputs per request (max 32)")
    bulk.add_argument("--max-concurrency", type=int, default=4, help="requests in flight")
    bulk.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    _connection_options(bulk)
    bulk.set_defaults(run=_bulk)

    serve = commands.add_parser(
        "serve", parents=[common], help="run the local emulator until interrupted"
    )
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    serve.add_argument("--fixtures", metavar="DIR", help="a directory of *.textproto workflows")
    serve.add_argument("--pat", help="accept only this PAT")
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo", parents=[common], help="predict sample inputs on the built-in emulator"
    )
    demo.add_argument("--json", action="store_true", help="print predictions as JSON")
    demo.add_argument(
        "--report", default=DEMO_REPORT, help=f"where to write the HTML report ({DEMO_REPORT})"
    )
    demo.set_defaults(run=_demo)
    return parser


def _connection_options(parser: argparse.ArgumentParser) -> None:
    """The options ``predict`` and ``bulk`` share: where, as whom, and what to return."""
    parser.add_argument("--user-id", help="the workflow owner's user id (e.g. clarifai)")
    parser.add_argument("--app-id", help="the workflow owner's app id (e.g. main)")
    parser.add_argument("--version-id", help="a workflow version id")
    parser.add_argument("--target", help="host:port of the API (default api.clarifai.com:443)")
    parser.add_argument("--insecure", action="store_true", help="plaintext, for local servers")
    parser.add_argument(
        "--allow-insecure-pat",
        action="store_true",
        help="with --insecure, allow sending the PAT in plaintext to a non-loopback host",
    )
    parser.add_argument(
        "--pat", help="a personal access token (prefer CLARIFAI_PAT: argv is visible)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per call (bulk: per request)"
    )
    parser.add_argument("--max-concepts", type=int, help="at most this many concepts per model")
    parser.add_argument("--min-value", type=float, help="only concepts scoring at least this")


def _client(args: argparse.Namespace, **options: Any) -> Any:
    from .client import WorkflowClient

    return WorkflowClient(
        args.pat,
        user_id=args.user_id,
        app_id=args.app_id,
        target=args.target,
        insecure=args.insecure,
        allow_insecure_pat=args.allow_insecure_pat,
        timeout=args.timeout,
        **options,
    )


def _output_config(args: argparse.Namespace) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    if args.max_concepts is not None:
        config["max_concepts"] = args.max_concepts
    if args.min_value is not None:
        config["min_value"] = args.min_value
    return config or None


def _debug_logging(args: argparse.Namespace) -> None:
    if args.debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


def _inputs(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    from pathlib import Path

    from .inputs import Input

    values: list[Any] = []
    labels: list[str] = []
    for raw in args.inputs:
        is_url = raw.lower().startswith(("http://", "https://"))
        values.append(raw if is_url else Input.from_file(Path(raw)))
        labels.append(raw)
    for text in args.text:
        values.append(Input.from_text(text))
        labels.append(f"text {text!r}")
    if not values:
        from .errors import InputError

        raise InputError("nothing to predict: give at least one INPUT or --text")
    return values, labels


def _predict(args: argparse.Namespace) -> int:
    _debug_logging(args)
    values, labels = _inputs(args)
    with _client(args) as client:
        prediction = client.predict(
            args.workflow_id, values, version_id=args.version_id, output_config=_output_config(args)
        )
    _print(prediction, labels, args.json)
    if args.html:
        from pathlib import Path

        Path(args.html).write_text(prediction.to_html(), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return _exit_for(prediction)


def _bulk(args: argparse.Namespace) -> int:
    from collections import deque

    from ._bulk import Job, Progress

    _debug_logging(args)
    job = Job(args.inputs_file, args.out, retry_failed=args.retry_failed)
    total = job.prepare()
    shown = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(total, sys.stderr, shown)
    pending: deque[tuple[int, str | None]] = deque()
    interrupted = False
    with _client(args, batch_size=args.batch_size, max_concurrency=args.max_concurrency) as client:
        results = client.predict_iter(
            args.workflow_id,
            job.values(pending),
            version_id=args.version_id,
            output_config=_output_config(args),
        )
        with open(args.out, "a", encoding="utf-8") as out:
            lines: list[str] = []
            try:
                for result in results:
                    index, input_id = pending.popleft()
                    lines.append(job.record(index, input_id, result))
                    if len(lines) >= args.batch_size or not pending:
                        out.write("".join(lines))  # one write per batch: lines land whole
                        out.flush()
                        lines.clear()
                        progress.update(job.written, job.failed)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                results.close()  # cancels the requests still in flight
                out.write("".join(lines))
    progress.update(job.written, job.failed, final=True)
    print(job.summary(), file=sys.stderr)
    if interrupted:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return EXIT_FAILED_INPUTS if job.failed else EXIT_OK


def _print(prediction: Any, labels: Sequence[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(prediction.to_dict(), indent=2))
    else:
        from ._render import table

        print(table(prediction, labels))


def _exit_for(prediction: Any) -> int:
    failed = sum(not r.ok for r in prediction.results)
    if failed:
        print(f"{failed} of {len(prediction.results)} inputs failed", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .testing import LocalWorkflowServer

    _debug_logging(args)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    server = LocalWorkflowServer(args.fixtures, pat=args.pat, port=args.port)
    with server:
        print(f"clarifai-workflow-predict emulator listening on {server.target}", flush=True)
        print(f"workflows: {', '.join(sorted(server.workflows))}", flush=True)
        if args.pat:
            print("only the PAT given with --pat is accepted", flush=True)
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("emulator stopped", flush=True)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._html import render
    from ._samples import IMAGES
    from .client import WorkflowClient
    from .inputs import Input
    from .testing import LocalWorkflowServer

    _debug_logging(args)
    worst = EXIT_OK
    predictions = []
    with LocalWorkflowServer(pat=DEMO_PAT) as server:
        if not args.json:
            print(f"Local emulator on {server.target} (no network needed)\n")
        with WorkflowClient(DEMO_PAT, target=server.target, insecure=True) as client:
            for workflow_id, about, samples in DEMO_CALLS:
                values, labels = [], []
                for sample in samples:
                    if isinstance(sample, tuple):
                        values.append(Input.from_text(sample[1]))
                        labels.append(f"text {sample[1]!r}")
                    elif sample in IMAGES:
                        values.append(Input.from_bytes(IMAGES[sample]))
                        labels.append(f"{sample} (sample image, {len(IMAGES[sample]):,} bytes)")
                    else:
                        values.append(sample)
                        labels.append(sample)
                prediction = client.predict(workflow_id, values, output_config={"max_concepts": 5})
                predictions.append(prediction)
                if not args.json:
                    print(f"== {workflow_id}: {about} ==")
                _print(prediction, labels, args.json)
                if not args.json:
                    print()
                failed = [r for r in prediction.results if not r.ok]
                # The fail.invalid sample is meant to fail; anything else failing is real.
                if any("fail.invalid" not in r.status.details for r in failed):
                    worst = EXIT_FAILED_INPUTS
    report = Path(args.report)
    report.write_text(render(predictions, "clarifai-workflow-predict demo"), encoding="utf-8")
    if not args.json:
        calls = len(DEMO_CALLS)
        print(f"{calls} workflows predicted through the real client and gRPC, on loopback.")
        print(f"Report: {report.resolve()}")
    return worst
