"""Protobuf to dataclasses: the real documented response, and every kind of output a model returns.

Each kind is built from the clarifai-grpc messages, converted by ``WorkflowPrediction.from_proto``
and by ``predict`` (through a real loopback server), and checked field by field and as JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from clarifai_grpc.grpc.api import resources_pb2 as r
from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2
from google.protobuf import struct_pb2, text_format

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
    Point,
    PredictionError,
    Region,
    Span,
    Status,
    TimeSegment,
    Track,
    WorkflowClient,
    WorkflowPrediction,
    WorkflowResult,
    _lazy,
    models,
)

from ..conftest import PAT
from ..helpers import FakeServer, read_every_field

DATA = Path(__file__).resolve().parent.parent / "data" / "real_responses"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 20
OK = status_pb2.Status(code=status_code_pb2.SUCCESS, description="Ok")


def real_result() -> r.WorkflowResult:
    text = (DATA / "workflow_result_metro_north.textproto").read_text()
    return text_format.Parse(text, r.WorkflowResult(), allow_unknown_field=True)


def response_with(
    *results: r.WorkflowResult, **fields: Any
) -> service_pb2.PostWorkflowResultsResponse:
    return service_pb2.PostWorkflowResultsResponse(status=OK, results=results, **fields)


def one_output(data: r.Data, **fields: Any) -> service_pb2.PostWorkflowResultsResponse:
    output = r.Output(
        id="out-1",
        status=OK,
        model=r.Model(id="m", name="Model M", model_version=r.ModelVersion(id="mv")),
        data=data,
        **fields,
    )
    return response_with(
        r.WorkflowResult(id="res-1", status=OK, input=r.Input(id="in"), outputs=[output])
    )


def predicted(response: service_pb2.PostWorkflowResultsResponse) -> WorkflowPrediction:
    """What ``predict`` makes of ``response``, served by a real loopback server."""

    def handler(request: Any, context: Any, call: int) -> Any:
        return response

    with FakeServer(handler) as server:
        with WorkflowClient(PAT, target=server.target, insecure=True) as client:
            return client.predict("W", r.Input(id="in", data=r.Data(text=r.Text(raw="x"))))


# --- the documented response ----------------------------------------------------------------


def test_real_response_prints_as_documented() -> None:
    result = WorkflowPrediction.from_proto(response_with(real_result())).results[0]
    lines = []
    for output in result.outputs:
        lines.append(f"Predicted concepts for the model `{output.model_name}`")
        lines.extend(f"    {c.name} {c.value:.2f}" for c in output.concepts)
    expected = (DATA / "workflow_result_metro_north.printed.txt").read_text().splitlines()
    assert lines == expected


def test_real_response_fields() -> None:
    raw = real_result()
    result = WorkflowPrediction.from_proto(response_with(raw)).results[0]
    assert result.ok and result.status.name == "SUCCESS" and result.status.description == "Ok"
    assert result.input_id == "0a799c6f1dd94588afd392b8f8cae1a0"
    assert [o.model_id for o in result.outputs] == [
        "food-item-v1-recognition",
        "general-image-recognition",
    ]
    food = result.output("food-item-v1-recognition")
    assert food.id == "74620e2daafa4fa1a890f13e22ad4080"
    assert food.model_version_id == "dfebc169854e429086aceb8368662641"
    assert food.concepts[0] == Concept("ai_kTsPMX36", "wine", pytest.approx(0.9537787), "main")
    assert len(food.concepts) == 20 and food.regions == () and food.embeddings == ()
    assert result.raw == raw and food.raw == raw.outputs[0]
    with pytest.raises(KeyError):
        result.output("no-such-model")
    as_dict = WorkflowPrediction("w", result.status, (result,)).to_dict()["results"][0]
    assert json.loads(json.dumps(as_dict))["outputs"][1]["concepts"][0]["name"] == "train"


# --- every published response ---------------------------------------------------------------


def published(name: str) -> Any:
    """The published file ``name`` parsed into the message type its name says it holds."""
    kinds = (
        ("workflow_result_", r.WorkflowResult),
        ("workflow_post_results_", service_pb2.PostWorkflowResultsResponse),
        ("model_output_", r.Output),
        ("model_llm_runner_output_data_parts", r.Data),
        ("status_", status_pb2.Status),
        ("model_", service_pb2.MultiOutputResponse),
    )
    message = next(kind for prefix, kind in kinds if name.startswith(prefix))()
    lenient = name == "workflow_result_metro_north.textproto"
    return text_format.Parse((DATA / name).read_text(), message, allow_unknown_field=lenient)


def as_prediction(message: Any) -> WorkflowPrediction:
    """A prediction holding what ``message`` holds: its results, or its outputs or data as one
    result's outputs, or its status as the response's."""
    if isinstance(message, service_pb2.PostWorkflowResultsResponse):
        return WorkflowPrediction.from_proto(message)
    if isinstance(message, status_pb2.Status):
        return WorkflowPrediction.from_proto(
            service_pb2.PostWorkflowResultsResponse(status=message)
        )
    if isinstance(message, r.WorkflowResult):
        return WorkflowPrediction.from_proto(response_with(message))
    outputs = (
        list(message.outputs)
        if isinstance(message, service_pb2.MultiOutputResponse)
        else [message if isinstance(message, r.Output) else r.Output(data=message)]
    )
    return WorkflowPrediction.from_proto(response_with(r.WorkflowResult(outputs=outputs)))


PUBLISHED = sorted(path.name for path in DATA.glob("*.textproto"))


@pytest.mark.parametrize("name", PUBLISHED)
def test_every_published_response_converts_field_by_field_as_a_whole(name: str) -> None:
    message = published(name)
    lazily = as_prediction(message)
    assert read_every_field(lazily) == []
    converted = as_prediction(message)
    models.load(converted.results)
    assert lazily == converted
    assert json.loads(json.dumps(lazily.to_dict())) == lazily.to_dict()
    for result, raw in zip(lazily.results, lazily.raw[0].results, strict=True):
        assert [o.model_id for o in result.outputs] == [o.model.id for o in raw.outputs]
        for output, raw_output in zip(result.outputs, raw.outputs, strict=True):
            assert [c.name for c in output.concepts] == [c.name for c in raw_output.data.concepts]
            assert len(output.frames) == len(raw_output.data.frames)
            assert len(output.regions) == len(raw_output.data.regions)


def test_a_model_runner_llm_answers_in_its_return_part() -> None:
    data = published("model_llm_runner_output_data_parts.textproto")
    (output,) = as_prediction(data).results[0].outputs
    assert output.text == data.parts[0].data.string_value and "Photosynthesis" in output.text
    assert output.parts[0].id == "return" and output.parts[0].value == output.text


# --- every kind of output -------------------------------------------------------------------

BOX = r.BoundingBox(top_row=0.25, left_col=0.125, bottom_row=0.75, right_col=0.5)
CONVERTED_BOX = BoundingBox(0.25, 0.125, 0.75, 0.5)
CONCEPT = r.Concept(id="car", name="car", value=0.5, app_id="main")
CONVERTED_CONCEPT = Concept("car", "car", 0.5, "main")


def region(**info: Any) -> r.Region:
    return r.Region(
        id="reg", value=0.75, region_info=r.RegionInfo(**info), data=r.Data(concepts=[CONCEPT])
    )


def converted_region(**fields: Any) -> Region:
    return Region("reg", 0.75, None, (CONVERTED_CONCEPT,), **fields)


def as_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


# (name, the output's Data, the ModelOutput field, its expected value)
KINDS: list[tuple[str, Callable[[], r.Data], str, Any]] = [
    ("concepts", lambda: r.Data(concepts=[CONCEPT]), "concepts", (CONVERTED_CONCEPT,)),
    (
        "box regions with text",
        lambda: r.Data(
            regions=[
                r.Region(
                    id="reg",
                    value=0.75,
                    region_info=r.RegionInfo(bounding_box=BOX),
                    data=r.Data(concepts=[CONCEPT], text=r.Text(raw="EXIT 12")),
                )
            ]
        ),
        "regions",
        (Region("reg", 0.75, CONVERTED_BOX, (CONVERTED_CONCEPT,), "EXIT 12"),),
    ),
    (
        "masks",
        lambda: r.Data(
            regions=[
                region(
                    bounding_box=BOX,
                    mask=r.Mask(
                        image=r.Image(base64=PNG, image_info=r.ImageInfo(width=4, height=2))
                    ),
                )
            ]
        ),
        "regions",
        (Region("reg", 0.75, CONVERTED_BOX, (CONVERTED_CONCEPT,), mask=Media("", PNG, 4, 2)),),
    ),
    (
        "polygons",
        lambda: r.Data(
            regions=[
                region(
                    polygon=r.Polygon(
                        points=[r.Point(row=0.5, col=0.25), r.Point(row=0.75, col=0.5)]
                    )
                )
            ]
        ),
        "regions",
        (converted_region(polygon=(Point(0.5, 0.25), Point(0.75, 0.5))),),
    ),
    (
        "points",
        lambda: r.Data(regions=[region(point=r.Point(row=0.5, col=0.25, z=3.0))]),
        "regions",
        (converted_region(point=Point(0.5, 0.25)),),
    ),
    (
        "keypoints",
        lambda: r.Data(regions=[region(keypoint_locations=[r.Point(row=0.125, col=0.5)] * 2)]),
        "regions",
        (converted_region(keypoints=(Point(0.125, 0.5),) * 2),),
    ),
    (
        "spans (NER)",
        lambda: r.Data(regions=[region(span=r.Span(char_start=4, char_end=9, raw_text="Paris"))]),
        "regions",
        (converted_region(span=Span(4, 9, "Paris")),),
    ),
    (
        "tokens (NER)",
        lambda: r.Data(regions=[region(token=r.Token(char_start=0, char_end=3, raw_text="Ada"))]),
        "regions",
        (converted_region(span=Span(0, 3, "Ada")),),
    ),
    (
        "track ids",
        lambda: r.Data(
            regions=[
                r.Region(
                    id="reg", value=0.75, track_id="t-7", region_info=r.RegionInfo(bounding_box=BOX)
                )
            ]
        ),
        "regions",
        (Region("reg", 0.75, CONVERTED_BOX, track_id="t-7"),),
    ),
    (
        "embeddings",
        lambda: r.Data(embeddings=[r.Embedding(vector=[0.5, -1.0, 2.0], num_dimensions=3)]),
        "embeddings",
        (Embedding((0.5, -1.0, 2.0), 3),),
    ),
    ("text", lambda: r.Data(text=r.Text(raw="a caption")), "text", "a caption"),
    (
        "frames",
        lambda: r.Data(
            frames=[
                r.Frame(
                    frame_info=r.FrameInfo(index=3, time=1500),
                    data=r.Data(concepts=[CONCEPT], regions=[region(bounding_box=BOX)]),
                )
            ]
        ),
        "frames",
        (
            Frame(
                3,
                1500,
                (CONVERTED_CONCEPT,),
                (Region("reg", 0.75, CONVERTED_BOX, (CONVERTED_CONCEPT,)),),
            ),
        ),
    ),
    (
        "colors",
        lambda: r.Data(
            colors=[
                r.Color(raw_hex="#a1b2c3", w3c=r.W3C(hex="#a9a9a9", name="DarkGray"), value=0.25)
            ]
        ),
        "colors",
        (Color("#a1b2c3", "DarkGray", 0.25),),
    ),
    (
        "clusters",
        lambda: r.Data(clusters=[r.Cluster(id="c-1", count=12, score=0.5)]),
        "clusters",
        (Cluster("c-1", 12, 0.5),),
    ),
    (
        "a generated image",
        lambda: r.Data(image=r.Image(base64=PNG, image_info=r.ImageInfo(width=96, height=64))),
        "image",
        Media("", PNG, 96, 64),
    ),
    (
        "an image by URL",
        lambda: r.Data(image=r.Image(url="https://example.com/out.png")),
        "image",
        Media("https://example.com/out.png", b"", 0, 0),
    ),
    (
        "a video",
        lambda: r.Data(
            video=r.Video(
                url="https://example.com/v.mp4", video_info=r.VideoInfo(width=640, height=360)
            )
        ),
        "video",
        Media("https://example.com/v.mp4", b"", 640, 360),
    ),
    (
        "audio",
        lambda: r.Data(audio=r.Audio(base64=b"RIFF....WAVE")),
        "audio",
        Media("", b"RIFF....WAVE", 0, 0),
    ),
    (
        "heatmaps",
        lambda: r.Data(heatmaps=[r.Image(base64=PNG), r.Image(url="https://example.com/h.png")]),
        "heatmaps",
        (Media("", PNG, 0, 0), Media("https://example.com/h.png", b"", 0, 0)),
    ),
    (
        "time segments",
        lambda: r.Data(
            time_segments=[
                r.TimeSegment(
                    id="s-1",
                    time_info=r.TimeInfo(begin_time=0.5, end_time=2.0),
                    data=r.Data(concepts=[CONCEPT]),
                )
            ]
        ),
        "time_segments",
        (TimeSegment("s-1", 0.5, 2.0, (CONVERTED_CONCEPT,)),),
    ),
    (
        "tracks",
        lambda: r.Data(
            tracks=[
                r.Track(
                    id="t-1",
                    time_info=r.TimeInfo(begin_time=1.0, end_time=3.5),
                    data=r.Data(concepts=[CONCEPT], regions=[region(bounding_box=BOX)]),
                )
            ]
        ),
        "tracks",
        (
            Track(
                "t-1",
                1.0,
                3.5,
                (CONVERTED_CONCEPT,),
                (Region("reg", 0.75, CONVERTED_BOX, (CONVERTED_CONCEPT,)),),
            ),
        ),
    ),
    (
        "metadata",
        lambda: r.Data(
            metadata=as_struct(
                {"source": "cam-2", "tags": ["a", 1.5, None, True], "nested": {"k": "v"}}
            )
        ),
        "metadata",
        {"source": "cam-2", "tags": ["a", 1.5, None, True], "nested": {"k": "v"}},
    ),
    ("an int value", lambda: r.Data(int_value=42), "value", 42),
    ("a float value", lambda: r.Data(float_value=0.25), "value", 0.25),
    ("a bool value", lambda: r.Data(bool_value=True), "value", True),
    ("a string value", lambda: r.Data(string_value="yes"), "value", "yes"),
    ("a bytes value", lambda: r.Data(bytes_value=b"\x00\xff"), "value", b"\x00\xff"),
    (
        "a struct value",
        lambda: r.Data(struct_value=as_struct({"a": [1.0, 2.0]})),
        "value",
        {"a": [1.0, 2.0]},
    ),
    (
        "parts (named values)",
        lambda: r.Data(
            parts=[
                r.Part(id="answer", data=r.Data(string_value="42")),
                r.Part(id="caption", data=r.Data(text=r.Text(raw="a dog"))),
                r.Part(id="picture", data=r.Data(image=r.Image(base64=PNG))),
                r.Part(id="empty"),
            ]
        ),
        "parts",
        (
            Part("answer", "42"),
            Part("caption", "a dog"),
            Part("picture", Media("", PNG, 0, 0)),
            Part("empty", None),
        ),
    ),
    (
        "an ndarray",
        lambda: r.Data(
            ndarray=r.NDArray(buffer=struct.pack("<4f", 1, 2, 3, 4), shape=[2, 2], dtype="float32")
        ),
        "ndarray",
        NDArray((2, 2), "float32", struct.pack("<4f", 1, 2, 3, 4)),
    ),
]


@pytest.mark.parametrize(("name", "data", "field", "expected"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_converts_the_same_through_from_proto_and_predict(
    name: str, data: Callable[[], r.Data], field: str, expected: Any
) -> None:
    response = one_output(data())
    converted = WorkflowPrediction.from_proto(response)
    output = converted.results[0].outputs[0]
    assert getattr(output, field) == expected
    for other in ModelOutput.__dataclass_fields__:  # the kinds it did not return stay empty
        if other not in (
            field,
            "id",
            "model_id",
            "model_version_id",
            "model_name",
            "status",
            "raw",
        ):
            assert getattr(output, other) in ((), "", None, {}, 0), other
    as_dict = converted.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict  # JSON-ready
    dumped = as_dict["results"][0]["outputs"][0][field]
    if isinstance(expected, Media):
        assert base64.b64decode(dumped["data"]) == expected.data  # bytes as base64 text
    assert predicted(response).results == converted.results


def test_token_counts_cached_included() -> None:
    response = one_output(
        r.Data(text=r.Text(raw="hi")), prompt_tokens=11, completion_tokens=7, cached_tokens=5
    )
    output = WorkflowPrediction.from_proto(response).results[0].outputs[0]
    assert (output.prompt_tokens, output.completion_tokens, output.cached_tokens) == (11, 7, 5)


def test_ndarray_reads_as_nested_lists_without_numpy() -> None:
    array = NDArray((2, 3), "int32", struct.pack("<6i", 1, 2, 3, 4, 5, 6))
    assert array.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert NDArray((3,), "<f8", struct.pack("<3d", 0.5, 1, 2)).tolist() == [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="complex64"):
        NDArray((1,), "complex64", b"\0" * 8).tolist()


def test_workflow_state_id_comes_back() -> None:
    response = one_output(r.Data(text=r.Text(raw="x")))
    response.workflow_state.id = "state-7"
    assert WorkflowPrediction.from_proto(response).workflow_state_id == "state-7"
    assert predicted(response).workflow_state_id == "state-7"
    assert WorkflowPrediction.from_proto(one_output(r.Data())).workflow_state_id == ""


def test_empty_and_unset_fields() -> None:
    response = response_with(
        r.WorkflowResult(outputs=[r.Output(data=r.Data(regions=[r.Region(id="x")]))])
    )
    out = WorkflowPrediction.from_proto(response).results[0].outputs[0]
    assert (out.id, out.model_id, out.model_version_id, out.model_name, out.text) == ("",) * 5
    assert out.concepts == out.embeddings == out.frames == out.colors == out.tracks == ()
    assert out.image is out.video is out.audio is out.value is out.ndarray is None
    assert out.metadata == {} and out.parts == () and out.cached_tokens == 0
    assert out.status.code == 0 and out.status.name == "ZERO"
    (region,) = out.regions
    assert region.bounding_box is None and region.mask is None and region.point is None
    assert region.span is None and region.concepts == () and region.polygon == ()
    assert region.text == "" and region.track_id == ""
    other = WorkflowPrediction.from_proto(response).results[0].outputs[0]
    assert other.metadata is not out.metadata  # each output its own dict


def test_unknown_status_code_keeps_its_number() -> None:
    status = models.status(status_pb2.Status(code=987654, description="new"))
    assert status == Status(987654, "987654", "new")
    assert not status.ok


def test_models_are_frozen_and_slotted_and_raw_is_left_out_of_eq_and_repr() -> None:
    a = Region("id", 0.5, None, raw=r.Region(id="one"))
    b = Region("id", 0.5, None, raw=r.Region(id="two"))
    assert a == b and hash(a) == hash(b)
    assert "raw" not in repr(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.id = "other"  # type: ignore[misc]
    holders = (
        Status,
        Part,
        Region,
        Frame,
        TimeSegment,
        Track,
        ModelOutput,
        WorkflowResult,
        WorkflowPrediction,
    )
    leaves = (Concept, BoundingBox, Point, Span, Color, Cluster, Media, NDArray, Embedding)
    for cls in holders + leaves:
        assert dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        has_raw = "raw" in cls.__dataclass_fields__
        assert has_raw == (cls in holders), cls  # leaves: their parent's raw holds them


def test_fast_constructor_matches_init() -> None:
    made = _lazy.factory(Concept)("id", "name", 0.5, "app")
    assert made == Concept("id", "name", 0.5, "app") and type(made) is Concept
    region = _lazy.factory(Region)("r", 0.5, None, (), "", None, (), None, None, (), "t", None)
    assert region == Region("r", 0.5, None, track_id="t")


def _prediction() -> WorkflowPrediction:
    ok = Status(status_code_pb2.SUCCESS, "SUCCESS", "Ok")
    bad = Status(status_code_pb2.INPUT_DOWNLOAD_FAILED, "INPUT_DOWNLOAD_FAILED", "could not fetch")
    results = (
        WorkflowResult(
            "r0", "in0", ok, (ModelOutput("o", "m", "v", "n", ok, (Concept("c", "cat", 0.9),)),)
        ),
        WorkflowResult("r1", "in1", bad),
    )
    return WorkflowPrediction(
        "General", Status(status_code_pb2.MIXED_STATUS, "MIXED_STATUS"), results, ("req-1",)
    )


def test_prediction_sequence_protocol_and_raise_for_status() -> None:
    prediction = _prediction()
    assert len(prediction) == 2 and list(prediction) == list(prediction.results)
    assert prediction[1].input_id == "in1" and prediction[-1] is prediction.results[1]
    assert not prediction.ok
    with pytest.raises(PredictionError) as caught:
        prediction.raise_for_status()
    assert "inputs[1]" in str(caught.value) and "INPUT_DOWNLOAD_FAILED" in str(caught.value)
    assert caught.value.failed == ((1, prediction.results[1]),)


def test_to_dict_is_json_ready() -> None:
    data = _prediction().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["results"][0]["outputs"][0]["concepts"][0] == {
        "id": "c",
        "name": "cat",
        "value": 0.9,
        "app_id": "",
    }
    assert data["results"][1]["status"]["name"] == "INPUT_DOWNLOAD_FAILED"
    assert data["workflow_state_id"] == "" and "raw" not in json.dumps(data)


def test_a_32_input_prediction_holds_few_gc_tracked_objects() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from heap import tracked_objects
    from workload import response_bytes

    response = service_pb2.PostWorkflowResultsResponse.FromString(response_bytes(32))
    prediction = WorkflowPrediction.from_proto(response)
    # 32 inputs x (20 concepts; a 512-d embedding; 5 regions with a box and 3 concepts): the
    # leaves (about 1,400 concepts and boxes) dominate; before leaves dropped their own .raw it
    # was about 3,500.
    assert tracked_objects(prediction) < 2_400
