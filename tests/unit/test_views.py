"""Each view shows every kind of output a model returns: the text table and the HTML page, for
a ``ModelOutput`` with every field set; and the public ``views`` module's functions."""

from __future__ import annotations

import dataclasses
import json

from clarifai_workflow_predict import (
    BoundingBox,
    Cluster,
    Color,
    Concept,
    Embedding,
    Frame,
    Media,
    ModelOutput,
    NDArray,
    Part,
    Region,
    Status,
    TimeSegment,
    Track,
    WorkflowPrediction,
    WorkflowResult,
    views,
)
from clarifai_workflow_predict._kinds import VIEWS
from clarifai_workflow_predict.models import KINDS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

# Each kind of output, and a value whose words each view must show.
EVERY_KIND = {
    "concepts": ((Concept("c1", "conceptword", 0.5),), "conceptword"),
    "regions": (
        (Region("r1", 0.5, BoundingBox(0.1, 0.2, 0.3, 0.4), text="regionword"),),
        "regionword",
    ),
    "embeddings": ((Embedding((0.125, 0.25), 2),), "0.125"),
    "text": ("textword", "textword"),
    "frames": ((Frame(7, 3500, (Concept("f", "frameword", 0.5),)),), "frameword"),
    "colors": ((Color("#123456", "Colorword", 0.5),), "Colorword"),
    "clusters": ((Cluster("clusterword", 3, 0.5),), "clusterword"),
    "image": (Media("https://example.com/imageword.png", b""), "imageword"),
    "video": (Media("https://example.com/videoword.mp4", b""), "videoword"),
    "audio": (Media("https://example.com/audioword.wav", b""), "audioword"),
    "heatmaps": ((Media("https://example.com/heatmapword.png", b""),), "heatmapword"),
    "time_segments": (
        (TimeSegment("s", 0.0, 1.0, (Concept("t", "segmentword", 0.5),)),),
        "segmentword",
    ),
    "tracks": ((Track("trackword", 0.0, 1.0),), "trackword"),
    "metadata": ({"metadataword": 1}, "metadataword"),
    "value": ("valueword", "valueword"),
    "parts": ((Part("partword", 1),), "partword"),
    "ndarray": (NDArray((2,), "float32", b"\x00" * 8), "float32"),
}
OK = Status(10000, "SUCCESS", "Ok")


def one_prediction(**fields: object) -> WorkflowPrediction:
    output = ModelOutput("outputword", "modelidword", "versionword", "modelnameword", OK, **fields)
    result = WorkflowResult("res", "in", OK, (output,))
    return WorkflowPrediction("wf", OK, (result,))


def test_every_kind_has_a_converter_and_a_view_in_field_order() -> None:
    kinds = [kind.name for kind in KINDS]
    assert kinds == [view.name for view in VIEWS] == list(EVERY_KIND)
    fields = [f.name for f in dataclasses.fields(ModelOutput)]
    assert kinds == [name for name in fields if name in kinds]


def test_every_field_of_an_output_is_shown_by_each_view() -> None:
    values = {name: value for name, (value, _) in EVERY_KIND.items()}
    tokens = {"prompt_tokens": 11, "completion_tokens": 22, "cached_tokens": 33}
    prediction = one_prediction(**values, **tokens)
    text, page = views.table(prediction), views.html(prediction)
    for name, (_, word) in EVERY_KIND.items():
        assert word in text, f"the table does not show {name}"
        assert word in page, f"the page does not show {name}"
    for shown in ("modelidword", "11", "22", "33"):
        assert shown in text and shown in page
    for shown in ("outputword", "versionword", "modelnameword"):
        assert shown in page
    failed = dataclasses.replace(
        prediction.results[0].outputs[0],
        status=Status(21313, "MODEL_PREDICTION_FAILED", "statusword"),
    )
    page = views.html(WorkflowPrediction("wf", OK, (WorkflowResult("r", "i", OK, (failed,)),)))
    assert "statusword" in page and "statusword" in views.table(
        WorkflowPrediction("wf", OK, (WorkflowResult("r", "i", OK, (failed,)),))
    )


def test_json_text_is_one_document_with_vectors_on_one_line() -> None:
    prediction = one_prediction(embeddings=(Embedding((0.5, 0.25, 0.125), 3),))
    text = views.json_text([prediction.to_dict(), prediction.to_dict()])
    assert json.loads(text)[1]["results"][0]["outputs"][0]["embeddings"][0]["vector"] == [
        0.5,
        0.25,
        0.125,
    ]
    assert "[0.5, 0.25, 0.125]" in text
