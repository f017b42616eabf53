"""``predict WORKFLOW INPUT... [--text T]``: one prediction, shown as a table or JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from . import (
    EXIT_FAILED_INPUTS,
    EXIT_OK,
    WORKFLOW_HELP,
    Usage,
    connect,
    connection_options,
    emit,
    output_config,
    text,
    workflow_id,
    writable,
)

if TYPE_CHECKING:
    import argparse


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``predict`` command and its options."""
    parser = commands.add_parser(
        "predict",
        parents=[common],
        help="run inputs through a workflow",
        description="Run inputs (URLs or files, and --text) through a workflow. The PAT, owner "
        "ids and target fall back to CLARIFAI_PAT, CLARIFAI_USER_ID, CLARIFAI_APP_ID and "
        "CLARIFAI_GRPC_BASE.",
    )
    parser.add_argument("workflow_id", metavar="WORKFLOW", type=workflow_id, help=WORKFLOW_HELP)
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="an http(s) URL or a file path")
    parser.add_argument(
        "--text", action="append", default=[], type=text, help="a text input (repeatable)"
    )
    parser.add_argument(
        "--parts",
        action="store_true",
        help="send the --text values, then the INPUTs, as one multimodal input (a prompt with "
        "images)",
    )
    connection_options(
        parser, "seconds for the whole call, retries and every request included (default 30)"
    )
    parser.add_argument("--json", action="store_true", help="print the prediction as JSON")
    parser.add_argument(
        "--html", metavar="FILE", help="also write an HTML report of the prediction"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict, print, and exit 3 if some inputs failed."""
    from pathlib import Path

    from .. import views

    if args.html:
        writable(args.html, "--html")
    values, labels = inputs(args)
    with connect(args) as client:
        prediction = client.predict(
            args.workflow_id,
            values,
            user_id=args.user_id,
            app_id=args.app_id,
            version_id=args.version_id,
            output_config=output_config(args),
        )
    emit(views.json_text(prediction.to_dict()) if args.json else views.table(prediction, labels))
    if args.html:
        Path(args.html).write_text(views.html(prediction), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    failed = sum(not result.ok for result in prediction.results)
    if failed:
        print(f"{failed} of {len(prediction.results)} inputs failed", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def inputs(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """The inputs to send, and a label for each (how the table heads it)."""
    from .. import Input, InputError
    from ..inputs import from_source

    if not (args.inputs or args.text):
        raise Usage("nothing to predict: give at least one INPUT or --text")
    values: list[Any] = []
    for index, source in enumerate(args.inputs):
        try:
            values.append(from_source(source, sample_ms=args.sample_ms))
        except InputError as exc:  # named as the INPUT it came from, not the argument inside
            raise InputError(str(exc), param=f"inputs[{index}]") from exc
    labels: list[str] = list(args.inputs)
    if args.sample_ms is not None and not any(value.kind == "video" for value in values):
        raise Usage("--sample-ms is for video inputs, and none of the inputs is a video")
    texts = [f"text {value!r}" for value in args.text]
    if args.parts:
        if args.sample_ms is not None:
            raise Usage("--sample-ms cannot apply to a part of a --parts input")
        return [Input.from_parts([*args.text, *values])], [" + ".join([*texts, *labels])]
    return [*values, *map(Input.from_text, args.text)], [*labels, *texts]
