"""``demo``: sample inputs through every kind of bundled workflow, on the emulator in this
process, through the real client and gRPC; then an HTML report of it all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import EXIT_FAILED_INPUTS, EXIT_OK, emit, writable

if TYPE_CHECKING:
    import argparse

DEMO_PAT = "local-demo-pat"
DEMO_REPORT = "demo-report.html"
# The input whose failure the demo shows on purpose: the emulator fails any URL on this host.
FAILING_INPUT = "https://fail.invalid/missing.jpg"
# (workflow, what it shows, samples): "name.png" is one of ``testing.IMAGES``, ("text", ...) a
# text input, ("video", url) a video URL, ("parts", text, "name.png") a multimodal prompt,
# anything else an image URL.
DEMO_CALLS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    (
        "General",
        "concepts, then a 512-d embedding; the fail.invalid input fails alone",
        ("station.png", "street.png", FAILING_INPUT),
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


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``demo`` command and its options."""
    parser = commands.add_parser(
        "demo", parents=[common], help="predict sample inputs on the built-in emulator"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document instead of the tables: a list of the predictions, each "
        "as prediction.to_dict() gives it",
    )
    parser.add_argument(
        "--report", default=DEMO_REPORT, help=f"where to write the HTML report ({DEMO_REPORT})"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Predict every sample, show each prediction, write the report; exit 3 if an input failed
    that was not meant to."""
    from pathlib import Path

    from .. import WorkflowClient, views
    from ..testing import LocalWorkflowServer

    writable(args.report, "--report")
    worst = EXIT_OK
    predictions = []
    with (
        LocalWorkflowServer(pat=DEMO_PAT) as server,
        WorkflowClient(DEMO_PAT, target=server.target, insecure=True) as client,
    ):
        if not args.json:
            emit(f"Local emulator on {server.target} (no network needed)\n")
        for workflow_id, about, samples in DEMO_CALLS:
            made = [sample(spec) for spec in samples]
            labels = [label for _, label in made]
            values = [value for value, _ in made]
            prediction = client.predict(workflow_id, values, output_config={"max_concepts": 5})
            predictions.append(prediction)
            if not args.json:
                emit(f"== {workflow_id}: {about} ==\n{views.table(prediction, labels)}\n")
            failed = [label for label, r in zip(labels, prediction, strict=True) if not r.ok]
            if set(failed) - {FAILING_INPUT}:  # that one is meant to fail; any other is real
                worst = EXIT_FAILED_INPUTS
    if args.json:
        emit(views.json_text([prediction.to_dict() for prediction in predictions]))
    report = Path(args.report)
    report.write_text(views.html(predictions, "clarifai-workflow-predict demo"), encoding="utf-8")
    if not args.json:
        calls = len(DEMO_CALLS)
        emit(f"{calls} workflows predicted through the real client and gRPC, on loopback.")
        emit(f"Report: {report.resolve()}")
    return worst


def sample(spec: Any) -> tuple[Any, str]:
    """The input for one of ``DEMO_CALLS``' samples, and its label in the table."""
    from .. import Input
    from ..testing import IMAGES

    if isinstance(spec, str):
        if spec in IMAGES:
            image = IMAGES[spec]
            return Input.from_bytes(image), f"{spec} (sample image, {len(image):,} bytes)"
        return spec, spec
    kind, value, *image = spec
    if kind == "video":
        return Input.from_url(value, kind="video"), f"video {value}"
    if kind == "parts":
        label = f"text {value!r} + {image[0]} (sample image)"
        return Input.from_parts([value, IMAGES[image[0]]]), label
    return Input.from_text(value), f"text {value!r}"
