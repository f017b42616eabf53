"""The ``clarifai-workflow-predict`` command: ``predict``, ``bulk``, ``serve`` and ``demo``.

Options may come anywhere after the command. Exit codes: 0 success, 1 the call or command
failed (one line on stderr; ``--debug`` adds the traceback), 2 bad usage (bad option values, no
inputs, a path that cannot be read or written; checked before any request), 3 the prediction
returned but some inputs failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, Callable, Sequence

from . import __version__

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FAILED_INPUTS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

DEMO_PAT = "local-demo-pat"
# (workflow, what it shows, inputs): "name.png" is a sample image drawn by ``_samples``,
# ("text", ...) a text input, ("video", url) a video URL, ("parts", text, "name.png") a
# multimodal prompt, anything else an image URL.
DEMO_CALLS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    (
        "General",
        "concepts, then a 512-d embedding; the fail.invalid input fails alone",
        ("station.png", "street.png", "https://fail.invalid/missing.jpg"),
    ),
    ("Segmentation", "segments with masks and polygons; people with keypoints", ("street.png",)),
    (
        "NER",
        "named entities, marked in the text",
        (("text", "Ada Lovelace took the train from London to Paris with Babbage."),),
    ),
    ("Color", "the dominant colors", ("station.png",)),
    (
        "VideoTracking",
        "objects tracked through a video, and its segments",
        (("video", "https://samples.clarifai.com/beer.mp4"),),
    ),
    ("TextToSpeech", "speech for a text", (("text", "The next train leaves at nine."),)),
    ("ImageToImage", "a generated image", ("sign.png",)),
    ("Detection", "objects, each with a box", ("station.png", "street.png")),
    ("OCR", "lines of text, each with a box", ("sign.png",)),
    ("Clustering", "an embedding, then the clusters it falls in", ("street.png",)),
    ("Text", "sentiment and topics of a text", (("text", "A train pulls into a busy station."),)),
    ("LLM", "a text answer and the tokens it took", (("text", "Describe a busy station."),)),
    (
        "Multimodal",
        "a prompt of a question and an image, sent as one multimodal input",
        (("parts", "What is in this picture?", "station.png"),),
    ),
)
DEMO_REPORT = "demo-report.html"

# The library's wording of a few arguments, and what a command-line user types instead.
_FLAG_WORDS = (
    ("pass allow_insecure_pat=True", "add --allow-insecure-pat"),
    ("insecure=True", "--insecure"),
    ("pass pat=", "--pat"),
    ("pat is malformed", "the PAT is malformed"),
    ("app_id is missing", "--app-id is missing"),
    ("user_id is missing", "--user-id is missing"),
    ("a user_id and an app_id", "a --user-id and an --app-id"),
    ("user_id=", "--user-id "),
    ("app_id=", "--app-id "),
    ("version_id=", "--version-id "),
    ("workflow_id ", "WORKFLOW "),
    ("target ", "--target "),
    ("; pass Input.from_file(path, kind='image'|'video'|'audio'|'text')", ""),
)


WORKFLOW_HELP = (
    "a workflow id, or its URL (https://clarifai.com/USER/APP/workflows/ID[/versions/V]), "
    "which also sets the owner ids and version"
)


class Usage(Exception):
    """A mistake in the command line itself: exit 2 with the message."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    if isinstance(args, int):
        return args
    from .errors import ClarifaiError, InputError

    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except (Usage, InputError) as exc:
        _traceback(args)
        print(f"error: {_plain(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except ClarifaiError as exc:
        _traceback(args)
        hint = _hint(str(getattr(exc, "details", "")), args)
        print(f"error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # one line for people; the traceback only when asked
        _traceback(args)
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code when parsing ended the run (help, bad usage)."""
    parser, commands = _parsers()
    # The command is the first word that is not an option; everything after it belongs to the
    # command, whose options may come before, between or after its positional arguments.
    at = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), len(argv))
    try:
        top = parser.parse_args(argv[:at])
        if at == len(argv):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        command = commands.get(argv[at])
        if command is None:
            parser.error(f"unknown command {argv[at]!r} (choose from {', '.join(commands)})")
        args = command.parse_intermixed_args(argv[at + 1 :])
    except SystemExit as exc:  # argparse has printed the help or the usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.debug = args.debug or top.debug
    if args.debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    return args


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and DEBUG logs")
    parser = argparse.ArgumentParser(
        prog="clarifai-workflow-predict",
        description="Predict with Clarifai workflows, or run the local emulator.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    predict = sub.add_parser(
        "predict",
        parents=[common],
        help="run inputs through a workflow",
        description="Run inputs (URLs or files, and --text) through a workflow. The PAT, owner "
        "ids and target fall back to CLARIFAI_PAT, CLARIFAI_USER_ID, CLARIFAI_APP_ID and "
        "CLARIFAI_GRPC_BASE.",
    )
    predict.add_argument("workflow_id", metavar="WORKFLOW", type=_workflow_id, help=WORKFLOW_HELP)
    predict.add_argument("inputs", nargs="*", metavar="INPUT", help="an http(s) URL or a file path")
    predict.add_argument("--text", action="append", default=[], help="a text input (repeatable)")
    predict.add_argument(
        "--parts",
        action="store_true",
        help="send the --text values, then the INPUTs, as one multimodal input (a prompt with "
        "images)",
    )
    _connection_options(predict)
    predict.add_argument("--json", action="store_true", help="print the prediction as JSON")
    predict.add_argument(
        "--html", metavar="FILE", help="also write an HTML report of the prediction"
    )
    predict.set_defaults(run=_predict)

    bulk = sub.add_parser(
        "bulk",
        parents=[common],
        help="predict every input of a file into JSON lines, resumably",
        description="Predict every input in INPUTS (one URL or path per line, or a CSV with a "
        "'url' and an optional 'id' column) into --out, one JSON line per input. Rerunning "
        "resumes: it checks that the file belongs to the same job and inputs, then runs the "
        "inputs that have no line yet. Ctrl-C leaves a valid file to resume from.",
    )
    bulk.add_argument("workflow_id", metavar="WORKFLOW", type=_workflow_id, help=WORKFLOW_HELP)
    bulk.add_argument("inputs_file", metavar="INPUTS", help="a text file of URLs/paths, or a CSV")
    bulk.add_argument("--out", required=True, help="the JSON-lines file to write (and resume)")
    bulk.add_argument(
        "--retry-failed",
        action="store_true",
        help="also run again the inputs whose line shows a failure",
    )
    bulk.add_argument(
        "--overwrite", action="store_true", help="start --out afresh instead of resuming it"
    )
    bulk.add_argument(
        "--batch-size", type=_int_in(1, 32), default=32, help="inputs per request (1 to 32)"
    )
    bulk.add_argument(
        "--max-concurrency", type=_int_in(1, 1024), default=4, help="requests in flight"
    )
    bulk.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default="adaptive",
        metavar="R",
        help="at most R requests per second, adapting below it when throttled; 'adaptive' "
        "(default) paces only once the API throttles; 'none' never paces",
    )
    bulk.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    _connection_options(bulk)
    bulk.set_defaults(run=_bulk)

    serve = sub.add_parser(
        "serve", parents=[common], help="run the local emulator until interrupted"
    )
    serve.add_argument(
        "--port", type=_int_in(0, 65535), default=0, help="port on 127.0.0.1 (default: any free)"
    )
    serve.add_argument("--fixtures", metavar="DIR", help="a directory of *.textproto workflows")
    serve.add_argument("--pat", help="accept only this PAT")
    serve.add_argument(
        "--rate-limit",
        type=_positive,
        metavar="R",
        help="allow R requests per second per PAT; past that, answer CONN_THROTTLED",
    )
    serve.add_argument(
        "--cold-start",
        type=_positive,
        metavar="S",
        help="answer MODEL_DEPLOYING for the first S seconds, as a model scaled to zero",
    )
    serve.set_defaults(run=_serve)

    demo = sub.add_parser(
        "demo", parents=[common], help="predict sample inputs on the built-in emulator"
    )
    demo.add_argument("--json", action="store_true", help="print predictions as JSON")
    demo.add_argument(
        "--report", default=DEMO_REPORT, help=f"where to write the HTML report ({DEMO_REPORT})"
    )
    demo.set_defaults(run=_demo)
    return parser, {name: sub.choices[name] for name in ("predict", "bulk", "serve", "demo")}


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
        "--sample-ms",
        type=_int_in(1, 2**32 - 1),
        metavar="MS",
        help="for video inputs: the workflow sees a frame every MS milliseconds",
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=30.0, help="seconds per call (bulk: per request)"
    )
    parser.add_argument(
        "--max-concepts", type=_int_in(1, 10_000), help="at most this many concepts per model"
    )
    parser.add_argument(
        "--min-value", type=_fraction, help="only concepts scoring at least this (0 to 1)"
    )


# --- option values -------------------------------------------------------------------------


def _workflow_id(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("a workflow id cannot be empty")
    return value


def _more_than_zero(unit: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number above 0, its ``unit`` named in the messages."""
    of, named = (f" of {unit}", f" {unit}") if unit else ("", "")

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number{of}: {value!r}") from None
        if not 0 < number < float("inf"):
            raise argparse.ArgumentTypeError(f"must be more than 0{named}, got {value}")
        return number

    return parse


_seconds = _more_than_zero("seconds")
_positive = _more_than_zero()


def _rate_limit(value: str) -> str | float | None:
    if value.lower() in ("adaptive", "none"):
        return None if value.lower() == "none" else "adaptive"
    try:
        return _positive(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be requests per second (> 0), 'adaptive' or 'none', got {value!r}"
        ) from None


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value}")
    return number


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return number

    return parse


def _writable(path: str, flag: str) -> None:
    """``Usage`` unless ``path`` can be written as a file (checked before any request)."""
    where = os.path.abspath(path)
    if os.path.isdir(where):
        raise Usage(f"{flag} {path}: is a directory; give a file path")
    parent = os.path.dirname(where)
    if not os.path.isdir(parent):
        raise Usage(f"{flag} {path}: the directory {parent} does not exist")
    target = where if os.path.exists(where) else parent
    if not os.access(target, os.W_OK):
        raise Usage(f"{flag} {path}: permission denied")


# --- messages ------------------------------------------------------------------------------


def _plain(message: str) -> str:
    """A library message in command-line words: flags instead of Python keywords."""
    for python, flag in _FLAG_WORDS:
        message = message.replace(python, flag)
    return message


def _hint(details: str, args: argparse.Namespace) -> str:
    """A next step for a transport failure whose gRPC details say what went wrong."""
    if "WRONG_VERSION_NUMBER" in details or "handshake" in details.lower():
        if not getattr(args, "insecure", True):
            return "\nhint: the server may be plaintext (the local emulator is): add --insecure"
    if "Connection refused" in details or "DNS resolution failed" in details:
        return "\nhint: nothing answers there; check --target (or CLARIFAI_GRPC_BASE)"
    return ""


def _traceback(args: argparse.Namespace) -> None:
    if args.debug:
        traceback.print_exc()


# --- commands ------------------------------------------------------------------------------


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


def _output_config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if args.max_concepts is not None:
        config["max_concepts"] = args.max_concepts
    if args.min_value is not None:
        config["min_value"] = args.min_value
    return config


def _inputs(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    from .inputs import Input, from_source

    if not (args.inputs or args.text):
        raise Usage("nothing to predict: give at least one INPUT or --text")
    values: list[Any] = [from_source(raw, sample_ms=args.sample_ms) for raw in args.inputs]
    labels: list[str] = list(args.inputs)
    if args.sample_ms is not None and not any(v.kind == "video" for v in values):
        raise Usage("--sample-ms is for video inputs, and none of the inputs is a video")
    if args.parts:
        if args.sample_ms is not None:
            raise Usage("--sample-ms cannot apply to a part of a --parts input")
        prompt = Input.from_parts([*args.text, *values])
        return [prompt], [" + ".join([*(f"text {t!r}" for t in args.text), *labels])]
    for text in args.text:
        values.append(Input.from_text(text))
        labels.append(f"text {text!r}")
    return values, labels


def _workflow(args: argparse.Namespace) -> None:
    """Resolve a workflow URL given as WORKFLOW into the workflow, owner and version flags."""
    from ._request import workflow_target

    args.workflow_id, args.user_id, args.app_id, args.version_id = workflow_target(
        args.workflow_id, args.user_id, args.app_id, args.version_id
    )


def _predict(args: argparse.Namespace) -> int:
    if args.html:
        _writable(args.html, "--html")
    _workflow(args)
    values, labels = _inputs(args)
    with _client(args) as client:
        prediction = client.predict(
            args.workflow_id,
            values,
            version_id=args.version_id,
            output_config=_output_config(args) or None,
        )
    _print(prediction, labels, args.json)
    if args.html:
        from pathlib import Path

        Path(args.html).write_text(prediction.to_html(), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return _exit_for(prediction)


def _bulk(args: argparse.Namespace) -> int:
    from .errors import TransportError

    _writable(args.out, "--out")
    shown = sys.stderr.isatty() if args.progress is None else args.progress
    last: list[Any] = []
    bar = _Bar(sys.stderr, shown)

    def progress(summary: Any) -> None:
        last[:] = [summary]
        bar.update(summary)

    with _client(
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
                progress=progress,
                user_id=args.user_id,
                app_id=args.app_id,
                version_id=args.version_id,
                output_config=_output_config(args) or None,
                sample_ms=args.sample_ms,
            )
        except KeyboardInterrupt:
            if last:
                bar.update(last[0], final=True)
                print(_summary(last[0], args.out), file=sys.stderr)
            print("interrupted: run the same command again to resume", file=sys.stderr)
            return EXIT_INTERRUPTED
        except TransportError as down:
            if last:
                print(_summary(last[0], args.out), file=sys.stderr)
            advice = _hint(str(down.details), args).removeprefix("\nhint: ")
            print(
                f"error: stopped: {down}; nothing was written for those inputs; "
                f"{advice or f'check --target ({client.target})'}, then rerun to resume",
                file=sys.stderr,
            )
            return EXIT_ERROR
    bar.update(summary, final=True)
    print(_summary(summary, args.out), file=sys.stderr)
    if summary.failed:
        print(
            f"{summary.failed:,} inputs failed; rerun with --retry-failed to try them again",
            file=sys.stderr,
        )
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def _summary(summary: Any, out: str) -> str:
    left = summary.total - summary.done
    return (
        f"this run: wrote {summary.written:,} lines\n"
        f"{out}: {summary.done:,} lines ({_counts(summary.statuses)})"
        + (f"; {left:,} inputs not run yet" if left else "")
    )


def _counts(statuses: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in statuses.items()) or "none"


class _Bar:
    def __init__(self, stream: Any, enabled: bool) -> None:
        import time

        self.stream, self.enabled, self.started, self._width = stream, enabled, time.monotonic(), 0

    def update(self, summary: Any, final: bool = False) -> None:
        import time

        if not self.enabled:
            return
        done = summary.written
        rate = done / max(time.monotonic() - self.started, 1e-9)
        pace = summary.pace
        paced = f"  paced at {pace:,.1f} requests/s" if pace is not None and not final else ""
        line = f"\r{summary.done:,}/{summary.total:,} inputs  {rate:,.0f}/s{paced}"
        self.stream.write(line.ljust(self._width) + ("\n" if final else ""))
        self._width = len(line)
        self.stream.flush()


def _print(prediction: Any, labels: Sequence[str], as_json: bool) -> None:
    if as_json:
        from ._present import json_text

        print(json_text(prediction.to_dict()))
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

    from .testing import FixtureError, LocalWorkflowServer

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        server = LocalWorkflowServer(
            args.fixtures, pat=args.pat, port=args.port, rate_limit=args.rate_limit, record=False
        ).start()
    except FixtureError as exc:
        raise Usage(f"--fixtures: {exc}") from exc
    except OSError as exc:
        raise Usage(f"--port {args.port}: {exc}") from exc
    if args.cold_start:
        server.cold_start(args.cold_start)
    with server:
        print(f"clarifai-workflow-predict emulator listening on {server.target}", flush=True)
        print(f"workflows: {', '.join(sorted(server.workflows))}", flush=True)
        pat = " --pat <the PAT given to serve>" if args.pat else ""
        print(f"use it with: --target {server.target} --insecure{pat}", flush=True)
        if args.rate_limit:
            print(f"rate limit: {args.rate_limit:g} requests per second per PAT", flush=True)
        if args.cold_start:
            print(f"cold start: MODEL_DEPLOYING for {args.cold_start:g} s", flush=True)
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

    _writable(args.report, "--report")
    worst = EXIT_OK
    predictions = []
    with LocalWorkflowServer(pat=DEMO_PAT) as server:
        if not args.json:
            print(f"Local emulator on {server.target} (no network needed)\n")
        with WorkflowClient(DEMO_PAT, target=server.target, insecure=True) as client:
            for workflow_id, about, samples in DEMO_CALLS:
                values, labels = [], []
                for sample in samples:
                    if isinstance(sample, tuple) and sample[0] == "video":
                        values.append(Input.from_url(sample[1], kind="video"))
                        labels.append(f"video {sample[1]}")
                    elif isinstance(sample, tuple) and sample[0] == "parts":
                        _, question, image = sample
                        values.append(Input.from_parts([question, IMAGES[image]]))
                        labels.append(f"text {question!r} + {image} (sample image)")
                    elif isinstance(sample, tuple):
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
