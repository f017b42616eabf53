"""Protobuf to dataclasses: the real documented response, and every converted field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2
from google.protobuf import text_format

from clarifai_workflow_predict import (
    BoundingBox,
    Concept,
    Embedding,
    Frame,
    ModelOutput,
    PredictionError,
    Region,
    Status,
    WorkflowPrediction,
    WorkflowResult,
    _convert,
)

DATA = Path(__file__).resolve().parent.parent / "data"


def real_result() -> resources_pb2.WorkflowResult:
    text = (DATA / "workflow_result_metro_north.textproto").read_text()
    return text_format.Parse(text, resources_pb2.WorkflowResult(), allow_unknown_field=True)


def test_real_response_prints_as_documented() -> None:
    result = _convert.result(real_result())
    lines = []
    for output in result.outputs:
        lines.append(f"Predicted concepts for the model `{output.model_name}`")
        lines.extend(f"    {c.name} {c.value:.2f}" for c in output.concepts)
    expected = (DATA / "workflow_result_metro_north.printed.txt").read_text().splitlines()
    assert lines == expected


def test_real_response_fields() -> None:
    raw = real_result()
    result = _convert.result(raw)
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
    assert result.raw is raw and food.raw is raw.outputs[0]
    assert food.concepts[0].raw == raw.outputs[0].data.concepts[0]
    with pytest.raises(KeyError):
        result.output("no-such-model")
    as_dict = WorkflowPrediction("w", result.status, (result,)).to_dict()["results"][0]
    assert json.loads(json.dumps(as_dict))["outputs"][1]["concepts"][0]["name"] == "train"


def test_every_field_is_converted() -> None:
    box = resources_pb2.BoundingBox(top_row=0.1, left_col=0.2, bottom_row=0.5, right_col=0.75)
    region = resources_pb2.Region(
        id="reg-1",
        value=0.875,
        region_info=resources_pb2.RegionInfo(bounding_box=box),
        data=resources_pb2.Data(
            concepts=[resources_pb2.Concept(id="car", name="car", value=0.5)],
            text=resources_pb2.Text(raw="EXIT 12"),
        ),
    )
    frame = resources_pb2.Frame(
        frame_info=resources_pb2.FrameInfo(index=3, time=1500),
        data=resources_pb2.Data(
            concepts=[resources_pb2.Concept(id="dog", name="dog", value=0.25)], regions=[region]
        ),
    )
    output = resources_pb2.Output(
        id="out-1",
        status=status_pb2.Status(code=status_code_pb2.SUCCESS, description="Ok", req_id="rq"),
        model=resources_pb2.Model(
            id="m", name="Model M", model_version=resources_pb2.ModelVersion(id="mv")
        ),
        data=resources_pb2.Data(
            concepts=[resources_pb2.Concept(id="a", name="A", value=0.5, app_id="main")],
            regions=[region],
            embeddings=[resources_pb2.Embedding(vector=[0.5, -1.0, 2.0], num_dimensions=3)],
            text=resources_pb2.Text(raw="a caption"),
            frames=[frame],
        ),
        prompt_tokens=11,
        completion_tokens=7,
    )
    converted = _convert.result(
        resources_pb2.WorkflowResult(id="r", input=resources_pb2.Input(id="in"), outputs=[output])
    )
    out = converted.outputs[0]
    conv_region = Region(
        "reg-1",
        0.875,
        BoundingBox(pytest.approx(0.1), pytest.approx(0.2), 0.5, 0.75),
        (Concept("car", "car", 0.5, ""),),
        "EXIT 12",
    )
    assert out == ModelOutput(
        id="out-1",
        model_id="m",
        model_version_id="mv",
        model_name="Model M",
        status=Status(status_code_pb2.SUCCESS, "SUCCESS", "Ok", "", "rq"),
        concepts=(Concept("a", "A", 0.5, "main"),),
        regions=(conv_region,),
        embeddings=(Embedding((0.5, -1.0, 2.0), 3),),
        text="a caption",
        frames=(Frame(3, 1500, (Concept("dog", "dog", 0.25, ""),), (conv_region,)),),
        prompt_tokens=11,
        completion_tokens=7,
    )
    assert isinstance(out.embeddings[0].vector, tuple)
    assert converted.id == "r" and converted.input_id == "in"


def test_empty_and_unset_fields() -> None:
    converted = _convert.result(resources_pb2.WorkflowResult(outputs=[resources_pb2.Output()]))
    out = converted.outputs[0]
    assert (out.id, out.model_id, out.model_version_id, out.model_name, out.text) == (
        "",
        "",
        "",
        "",
        "",
    )
    assert out.concepts == out.regions == out.embeddings == out.frames == ()
    assert out.status.code == 0 and out.status.name == "ZERO"
    region = (
        _convert.result(
            resources_pb2.WorkflowResult(
                outputs=[
                    resources_pb2.Output(
                        data=resources_pb2.Data(regions=[resources_pb2.Region(id="x")])
                    )
                ]
            )
        )
        .outputs[0]
        .regions[0]
    )
    assert region.bounding_box is None and region.concepts == () and region.text == ""


def test_unknown_status_code_keeps_its_number() -> None:
    status = _convert.status(status_pb2.Status(code=987654, description="new"))
    assert status == Status(987654, "987654", "new")
    assert not status.ok


def test_models_are_frozen_slotted_and_raw_is_left_out_of_eq_and_repr() -> None:
    a = Concept("id", "name", 0.5, "app", raw=resources_pb2.Concept(id="one"))
    b = Concept("id", "name", 0.5, "app", raw=resources_pb2.Concept(id="two"))
    assert a == b and hash(a) == hash(b)
    assert "raw" not in repr(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"  # type: ignore[misc]
    for cls in (
        Status,
        Concept,
        BoundingBox,
        Region,
        Embedding,
        Frame,
        ModelOutput,
        WorkflowResult,
        WorkflowPrediction,
    ):
        assert dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_fast_constructor_matches_init() -> None:
    from clarifai_workflow_predict.models import factory

    made = factory(Concept)("id", "name", 0.5, "app", None)
    assert made == Concept("id", "name", 0.5, "app") and type(made) is Concept


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
    assert "raw" not in json.dumps(data)


def test_response_messages_round_trip_through_convert() -> None:
    response = service_pb2.PostWorkflowResultsResponse(results=[real_result(), real_result()])
    converted = _convert.results(response.results)
    assert converted[0] == converted[1] and len(converted) == 2
