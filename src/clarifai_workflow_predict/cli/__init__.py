"""The ``clarifai-workflow-predict`` command: ``predict``, ``bulk``, ``serve`` and ``demo``.

A thin shell over the library's public API: each command is a module here with its options and
its ``run``; this module parses the command line, and turns what went wrong into one line on
stderr and an exit code. Options may come anywhere after the command.

Exit codes: 0 success; 1 the call or command failed (``--debug`` adds the traceback); 2 bad usage
(bad option values, no inputs, a path that cannot be read or written: checked before any
request); 3 some inputs failed; 4 ``bulk`` stopped at its ``--max-operations`` budget; 130
interrupted (Ctrl-C).
"""

# Only light modules load before ``main`` has its SIGINT handler in place: Ctrl-C at start-up
# then ends the command with 130, not with a traceback from inside an import.
from __future__ import annotations

import io
import os
import signal
import sys
from contextlib import contextmanager, redirect_stderr
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

if TYPE_CHECKING:
    import argparse

    from .. import InputError, TransportError, WorkflowClient

__all__ = ["main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FAILED_INPUTS = 3
EXIT_BUDGET = 4
EXIT_INTERRUPTED = 130

WORKFLOW_HELP = (
    "a workflow id, or its URL (https://clarifai.com/USER/APP/workflows/ID[/versions/V]), "
    "which also sets the owner ids and version"
)

#: The command line's name for each argument an ``InputError.param`` names; ``inputs[i]`` is
#: the (i+1)th INPUT (see ``flag_for``).
FLAGS: dict[str, str] = {
    "pat": "--pat",
    "user_id": "--user-id",
    "app_id": "--app-id",
    "version_id": "--version-id",
    "workflow_id": "WORKFLOW",
    "target": "--target",
    "insecure": "--insecure",
    "timeout": "--timeout",
    "output_config": "--max-concepts/--min-value",
    "sample_ms": "--sample-ms",
    "text": "--text",
    "inputs": "INPUTS",
    "out": "--out",
    "batch_size": "--batch-size",
    "max_concurrency": "--max-concurrency",
    "rate_limit": "--rate-limit",
    "max_operations": "--max-operations",
}
#: What to do next, in the command line's words, for an argument at fault.
ADVICE: dict[str, str] = {
    "insecure": "add --allow-insecure-pat if the network to that host is trusted",
}


class Usage(Exception):
    """A mistake in the command line itself: exit 2 with the message."""


def stop_at_once(signum: int, frame: Any) -> None:
    """The SIGINT handler of the command run as a process: end it now, with 130. Raising
    ``KeyboardInterrupt`` instead could land inside an import or gRPC's code and leave a
    traceback or a thread to wait for; nothing here needs cleaning up (``bulk`` writes each batch
    of lines in one write, so its file stays valid)."""
    os.write(2, b"\ninterrupted\n")
    os._exit(EXIT_INTERRUPTED)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Run as the process's own command (no ``argv``), it handles SIGINT from its first line:
    Ctrl-C ends it at once with 130 (``stop_at_once``), except that ``bulk`` and ``serve`` take
    the first Ctrl-C to stop cleanly (``client.bulk`` at a safe point, with a summary of what
    it wrote), and the next one ends them at once. Called from Python with ``argv``, it leaves
    SIGINT to the caller, and a ``KeyboardInterrupt`` ends the command with 130.
    """
    args: argparse.Namespace | None = None
    try:
        if argv is None:
            signal.signal(signal.SIGINT, stop_at_once)
        parsed = parse(list(sys.argv[1:] if argv is None else argv))
        if isinstance(parsed, int):
            return parsed
        args = parsed
        if not args.debug:
            # gRPC's C core logs failed handshakes (INFO) and ports in use (ERROR) on stderr;
            # the command says what failed in its own line.
            os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        with logs(args.debug):
            return int(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return report(exc, args)


# --- parsing ---------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code when parsing ended the run (help, bad usage)."""
    parser, commands = parsers()
    # The command is the first word that is not an option; everything after it belongs to the
    # command, whose options may come before, between or after its positional arguments.
    at = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), len(argv))
    said = io.StringIO()  # argparse's own words, which may quote a PAT given where none goes
    try:
        with redirect_stderr(said):
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
    finally:
        text = said.getvalue()
        for secret in _pats(argv):
            text = text.replace(secret, "***")
        sys.stderr.write(text)
    args.debug = args.debug or top.debug
    return args


def _pats(argv: list[str]) -> list[str]:
    """The values given to ``--pat`` (as ``--pat X`` or ``--pat=X``) in ``argv``."""
    found = [value for flag, value in zip(argv[:-1], argv[1:], strict=True) if flag == "--pat"]
    return [v for v in found + [a[len("--pat=") :] for a in argv if a.startswith("--pat=")] if v]


def parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each command's."""
    import argparse

    from .. import __version__
    from . import bulk, demo, predict, serve

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="show tracebacks, DEBUG logs and gRPC's own log lines"
    )
    parser = argparse.ArgumentParser(
        prog="clarifai-workflow-predict",
        description="Predict with Clarifai workflows, or run the local emulator. Exit codes: "
        "0 success, 1 failure, 2 usage, 3 some inputs failed, 4 bulk stopped at its "
        "--max-operations budget, 130 interrupted.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (predict, bulk, serve, demo):
        module.add_parser(sub, common)
    return parser, dict(sub.choices)


def connection_options(parser: argparse.ArgumentParser, timeout_help: str) -> None:
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
        type=int_in(1, 2**32 - 1),
        metavar="MS",
        help="for video inputs: the workflow sees a frame every MS milliseconds",
    )
    parser.add_argument("--timeout", type=seconds, default=30.0, metavar="S", help=timeout_help)
    parser.add_argument(
        "--max-concepts", type=int_in(1, 10_000), help="at most this many concepts per model"
    )
    parser.add_argument(
        "--min-value", type=fraction, help="only concepts scoring at least this (0 to 1)"
    )


# --- option values ---------------------------------------------------------------------------


def workflow_id(value: str) -> str:
    """An argparse type: a workflow id or URL, not blank."""
    if not value.strip():
        raise _bad("a workflow id cannot be empty")
    return value


def text(value: str) -> str:
    """An argparse type: a text input, not empty."""
    if not value:
        raise _bad("a text input cannot be empty")
    return value


def more_than_zero(unit: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number above 0, its ``unit`` named in the messages."""
    of, named = (f" of {unit}", f" {unit}") if unit else ("", "")

    def parse(value: str) -> float:
        number = _number(value, f"not a number{of}: {value!r}")
        if not 0 < number < float("inf"):
            raise _bad(f"must be more than 0{named}, got {value}")
        return number

    return parse


seconds = more_than_zero("seconds")
positive = more_than_zero()


def fraction(value: str) -> float:
    """An argparse type: a number from 0 to 1."""
    number = _number(value, f"not a number: {value!r}")
    if not 0 <= number <= 1:
        raise _bad(f"must be from 0 to 1, got {value}")
    return number


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise _bad(f"not a whole number: {value!r}") from None
        if not low <= number <= high:
            raise _bad(f"must be from {low} to {high}, got {value}")
        return number

    return parse


def _number(value: str, message: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise _bad(message) from None


def _bad(message: str) -> Exception:
    import argparse

    return argparse.ArgumentTypeError(message)


def writable(path: str, flag: str) -> None:
    """``Usage`` unless ``path`` can be written as a file (checked before any request)."""
    where = os.path.abspath(path)
    if os.path.isdir(where):
        raise Usage(f"{flag} {path}: is a directory; give a file path")
    parent = os.path.dirname(where)
    if not os.path.isdir(parent):
        raise Usage(f"{flag} {path}: the directory {parent} does not exist")
    if not os.access(where if os.path.exists(where) else parent, os.W_OK):
        raise Usage(f"{flag} {path}: permission denied")


# --- what the commands share -----------------------------------------------------------------


def connect(args: argparse.Namespace, **options: Any) -> WorkflowClient:
    """A client from the connection options. The owner ids go with each call instead, where a
    workflow URL may supply them."""
    from .. import WorkflowClient

    return WorkflowClient(
        args.pat,
        target=args.target,
        insecure=args.insecure,
        allow_insecure_pat=args.allow_insecure_pat,
        timeout=args.timeout,
        **options,
    )


def output_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--max-concepts`` and ``--min-value`` as an ``output_config``, or ``None``."""
    config = {
        name: value
        for name, value in (("max_concepts", args.max_concepts), ("min_value", args.min_value))
        if value is not None
    }
    return config or None


def emit(message: str = "") -> None:
    """Print ``message`` on stdout now. A reader that went away (``| head -1``) does not change
    the command's outcome or exit code: the rest of the output is dropped, and no traceback."""
    try:
        print(message, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # later writes, and the flush at exit, land here
        os.close(devnull)


@contextmanager
def logs(debug: bool) -> Iterator[None]:
    """The library's INFO records (a torn line dropped, inputs that never ran) as notes on
    stderr; with ``debug``, every logger's records down to DEBUG."""
    import logging

    logger = logging.getLogger() if debug else logging.getLogger("clarifai_workflow_predict")
    handler = logging.StreamHandler(sys.stderr)
    shape = "%(levelname)s %(name)s: %(message)s" if debug else "note: %(message)s"
    handler.setFormatter(logging.Formatter(shape))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# --- messages --------------------------------------------------------------------------------


def report(exc: Exception, args: argparse.Namespace | None) -> int:
    """One line on stderr for what stopped the command (the traceback first with ``--debug``);
    returns the exit code."""
    from .. import ClarifaiError, InputError, TransportError

    if args is not None and args.debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, Usage):
        message, code = str(exc), EXIT_USAGE
    elif isinstance(exc, InputError):
        message, code = input_error(exc), EXIT_USAGE
    elif isinstance(exc, TransportError):
        message, code = transport_cause(exc, args), EXIT_ERROR
    elif isinstance(exc, ClarifaiError):
        message, code = f"{type(exc).__name__}: {exc}", EXIT_ERROR
    elif isinstance(exc, OSError):  # a file that went away or filled the disk: no surprise
        message, code = str(exc), EXIT_ERROR
    else:
        message, code = f"unexpected {type(exc).__name__}: {exc}", EXIT_ERROR
    print(f"error: {message}", file=sys.stderr)
    return code


def flag_for(param: str | None) -> str | None:
    """The command line's name for an ``InputError.param``, or ``None`` if it has none."""
    if param is None:
        return None
    index = param.removeprefix("inputs[").removesuffix("]")
    if index != param and index.isdigit():
        return f"the {ordinal(int(index) + 1)} INPUT"
    return FLAGS.get(param)


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ... ``11th``, ``21st``."""
    if number % 100 in (11, 12, 13):
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def input_error(exc: InputError, advice: str = "") -> str:
    """An ``InputError`` in the library's words, headed by the flag at fault, then what to do
    next (``advice``, or the command line's own for that flag)."""
    flag = flag_for(exc.param)
    message = f"{flag}: {exc}" if flag else str(exc)
    advice = advice or ADVICE.get(exc.param or "", "")
    return f"{message}; {advice}" if advice else message


def transport_cause(exc: TransportError, args: argparse.Namespace | None) -> str:
    """What a failed RPC means for the person at the command line, from its gRPC code."""
    code, details = exc.grpc_code.name, exc.details
    timeout = getattr(args, "timeout", None)  # only predict and bulk have these options
    if code == "DEADLINE_EXCEEDED" and timeout is not None:
        return f"requests took longer than --timeout {timeout:g} s; raise --timeout"
    lowered = details.lower()
    if code == "UNAVAILABLE" and "handshake" in lowered and not getattr(args, "insecure", True):
        return f"the TLS handshake failed ({exc}); the server may be plaintext: add --insecure"
    if code == "UNAVAILABLE" and any(words in lowered for words in _UNREACHABLE):
        return f"cannot reach the server ({exc}); check --target (or CLARIFAI_GRPC_BASE)"
    return f"the server failed: {exc}"


# gRPC's words when a connection cannot even be made (as against a server that failed a call).
_UNREACHABLE = ("failed to connect", "connection refused", "dns resolution failed", "resolving")
