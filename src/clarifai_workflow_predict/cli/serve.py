"""``serve``: the local emulator on 127.0.0.1, until Ctrl-C (exit 130) or SIGTERM (exit 0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import EXIT_INTERRUPTED, EXIT_OK, Usage, emit, int_in, positive

if TYPE_CHECKING:
    import argparse


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``serve`` command and its options."""
    parser = commands.add_parser(
        "serve",
        parents=[common],
        help="run the local emulator until interrupted",
        description="Run the local emulator on 127.0.0.1 until Ctrl-C (exit 130) or SIGTERM "
        "(exit 0).",
    )
    parser.add_argument(
        "--port", type=int_in(0, 65535), default=0, help="port on 127.0.0.1 (default: any free)"
    )
    parser.add_argument("--fixtures", metavar="DIR", help="a directory of *.textproto workflows")
    parser.add_argument("--pat", help="accept only this PAT")
    parser.add_argument(
        "--rate-limit",
        type=positive,
        metavar="R",
        help="allow R requests per second per PAT; past that, answer CONN_THROTTLED",
    )
    parser.add_argument(
        "--cold-start",
        type=positive,
        metavar="S",
        help="answer MODEL_DEPLOYING for the first S seconds, as a model scaled to zero",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; the banner says how to point a client at it."""
    import signal
    import threading

    from ..testing import FixtureError, LocalWorkflowServer

    try:
        server = LocalWorkflowServer(
            args.fixtures, pat=args.pat, port=args.port, rate_limit=args.rate_limit, record=False
        ).start()
    except FixtureError as exc:
        raise Usage(f"--fixtures: {exc}") from exc
    except OSError as exc:
        raise Usage(f"--port {args.port}: {exc}") from exc
    stopped = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    got: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        got.append(signum)
        stopped.set()

    with server:
        if args.cold_start:
            server.cold_start(args.cold_start)
        # The first Ctrl-C (or SIGTERM) stops the emulator cleanly; the handlers before take
        # over again for the stop, so a second Ctrl-C then ends the command at once.
        previous = [signal.signal(each, stop) for each in signals]
        try:
            emit(f"clarifai-workflow-predict emulator listening on {server.target}")
            emit(f"workflows: {', '.join(sorted(server.workflows))}")
            pat = " --pat <the PAT given to serve>" if args.pat else ""
            emit(f"use it with: --target {server.target} --insecure{pat}")
            if args.rate_limit:
                emit(f"rate limit: {args.rate_limit:g} requests per second per PAT")
            if args.cold_start:
                emit(f"cold start: MODEL_DEPLOYING for {args.cold_start:g} s")
            while not stopped.wait(0.5):
                pass
        finally:
            for each, handler in zip(signals, previous, strict=True):
                signal.signal(each, handler)
    emit("emulator stopped")
    return EXIT_INTERRUPTED if signal.SIGINT in got else EXIT_OK
