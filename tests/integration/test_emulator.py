"""LocalWorkflowServer answers like the API, deterministically, through the real client."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AuthenticationError,
    Input,
    InvalidRequestError,
    NotFoundError,
    RetryPolicy,
    TransportError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import (
    BUNDLED_FIXTURES,
    FixtureError,
    LocalWorkflowServer,
    load_workflows,
)

from ..conftest import FAST_RETRY, PAT

URL = "https://samples.clarifai.com/metro-north.jpg"
URLS = [f"https://example.com/{i}.jpg" for i in range(10)]


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer() as running:
        yield running


@pytest.fixture
def client(server: LocalWorkflowServer) -> Any:
    with WorkflowClient(PAT, target=server.target, insecure=True, retry=FAST_RETRY) as c:
        yield c


def test_target_is_loopback_with_the_bound_port(server: LocalWorkflowServer) -> None:
    host, port = server.target.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) == server.port > 0


def test_requests_and_metadata_are_recorded(server: LocalWorkflowServer, client: Any) -> None:
    before = len(server.requests)
    client.predict("General", URL, metadata=[("x-trace", "t-1")])
    assert server.requests[before].workflow_id == "General"
    assert server.requests[before].inputs[0].data.image.url == URL
    assert server.metadata[before]["authorization"] == f"Key {PAT}"
    assert server.metadata[before]["x-trace"] == "t-1"


def test_outputs_follow_the_workflow_nodes(client: Any) -> None:
    result = client.predict("General", URL).results[0]
    assert [o.model_id for o in result.outputs] == [
        "general-image-recognition",
        "general-image-embedding",
    ]
    concepts = result.outputs[0].concepts
    assert len(concepts) == 20 and [c.value for c in concepts] == sorted(
        (c.value for c in concepts), reverse=True
    )
    embedding = result.outputs[1].embeddings[0]
    assert embedding.num_dimensions == 512 == len(embedding.vector)
    assert all(-1 <= v <= 1 for v in embedding.vector)


def test_every_bundled_workflow_answers(client: Any) -> None:
    detection = client.predict("Detection", URL).results[0].outputs[0]
    assert 1 <= len(detection.regions) <= 5
    for region in detection.regions:
        box = region.bounding_box
        assert 0 <= box.top_row < box.bottom_row <= 1 and 0 <= box.left_col < box.right_col <= 1
        assert len(region.concepts) == 3 and region.value == region.concepts[0].value
    ocr = client.predict("OCR", URL).results[0].outputs[0]
    assert ocr.regions and all(r.text and r.bounding_box for r in ocr.regions)
    text = client.predict("Text", Input.from_text("hello")).results[0]
    assert [o.model_id for o in text.outputs] == [
        "sentiment-analysis",
        "text-topics",
        "text-embedding",
    ]
    assert {c.name for c in text.outputs[0].concepts} == {"positive", "neutral", "negative"}
    food = client.predict("Food", URL).results[0]
    assert [o.model_name for o in food.outputs] == ["food-items-v1.0", "general"]


def raw(client: Any, workflow_id: str, data: resources_pb2.Data) -> Any:
    """The emulator's response for one input, as it came (no conversion)."""
    request = service_pb2.PostWorkflowResultsRequest(
        workflow_id=workflow_id, inputs=[resources_pb2.Input(data=data)]
    )
    return client.predict_request(request)


def test_face_sentiment_detects_then_crops_then_classifies_each_crop(client: Any) -> None:
    image = resources_pb2.Data(image=resources_pb2.Image(url=URL))
    detect, crop, sentiment = raw(client, "Face-Sentiment", image).results[0].outputs
    faces, crops = detect.data.regions, crop.data.regions
    assert faces and all([c.name for c in r.data.concepts] == ["BINARY_POSITIVE"] for r in faces)
    assert len(crops) == len(faces)
    for face, cut in zip(faces, crops, strict=True):
        box, wide = face.region_info.bounding_box, cut.region_info.bounding_box
        assert wide.top_row <= box.top_row and wide.bottom_row >= box.bottom_row  # a 1.1 margin
        assert wide.left_col <= box.left_col and wide.right_col >= box.right_col
        picture = cut.data.image
        assert picture.base64.startswith(b"\x89PNG") and picture.image_info.width > 0
        assert cut.id != face.id
    # The classifier answers per crop: the crop's id and box, with the sentiment concepts.
    assert [(r.id, r.region_info) for r in sentiment.data.regions] == [
        (c.id, c.region_info) for c in crops
    ]
    assert all(len(r.data.concepts) == 7 for r in sentiment.data.regions)
    assert not sentiment.data.concepts


def test_language_understanding_embeds_then_clusters_with_a_projection(client: Any) -> None:
    text = resources_pb2.Data(text=resources_pb2.Text(raw="a test"))
    embed, cluster = raw(client, "Language-Understanding", text).results[0].outputs
    assert embed.data.embeddings[0].num_dimensions == 768
    assert cluster.data.clusters and all(len(c.projection) == 2 for c in cluster.data.clusters)


def test_asr_sentiment_transcribes_then_classifies_in_other_users_apps(client: Any) -> None:
    audio = resources_pb2.Data(audio=resources_pb2.Audio(url="https://example.com/speech.wav"))
    transcript, sentiment = raw(client, "asr-sentiment", audio).results[0].outputs
    text = transcript.data.text
    assert text.raw and text.raw == text.raw.upper() and text.text_info.encoding == "UnknownTextEnc"
    assert (transcript.model.user_id, transcript.model.app_id) == ("facebook", "asr")
    assert {c.name for c in sentiment.data.concepts} == {"LABEL_0", "LABEL_1", "LABEL_2"}
    assert {c.app_id for c in sentiment.data.concepts} == {"text-classification"}


def test_llm_runner_answers_in_data_parts_and_llm_in_text(client: Any) -> None:
    prompt = resources_pb2.Data(text=resources_pb2.Text(raw="Describe a busy station."))
    (runner,) = raw(client, "LLM-Runner", prompt).results[0].outputs
    assert [p.id for p in runner.data.parts] == ["return"]
    assert runner.data.parts[0].data.string_value.startswith("Answer: ")
    assert not runner.data.HasField("text") and runner.prompt_tokens == 0
    assert (runner.status.code, runner.status.description) == (status_code_pb2.SUCCESS, "")
    (older,) = raw(client, "LLM", prompt).results[0].outputs  # the older shape stays
    assert older.data.text.raw.startswith("Answer: ") and not older.data.parts
    assert older.prompt_tokens > 0 and older.data.text.text_info.encoding == "UnknownTextEnc"


def test_get_model_type_lists_the_input_fields_the_api_lists(server: LocalWorkflowServer) -> None:
    with grpc.insecure_channel(server.target) as channel:
        get = channel.unary_unary(
            "/clarifai.api.V2/GetModelType",
            request_serializer=service_pb2.GetModelTypeRequest.SerializeToString,
            response_deserializer=service_pb2.SingleModelTypeResponse.FromString,
        )
        fields = {
            kind: list(
                get(service_pb2.GetModelTypeRequest(model_type_id=kind)).model_type.input_fields
            )
            for kind in ("visual-classifier", "text-classifier", "audio-to-text", "text-to-text")
        }
    # One field each, so Clarifai's SDK can pick the input type (videos still work: see below).
    assert fields == {
        "visual-classifier": ["image"],
        "text-classifier": ["text"],
        "audio-to-text": ["audio"],
        "text-to-text": ["text"],
    }


def test_video_inputs_get_frames(client: Any) -> None:
    output = client.predict("General", Input.from_url("https://x.com/v.mp4", kind="video"))
    frames = output.results[0].outputs[0].frames
    assert [(f.index, f.time_ms) for f in frames] == [(0, 0), (1, 1000), (2, 2000)]
    assert all(f.concepts for f in frames)


def test_same_input_same_outputs_ids_included(server: LocalWorkflowServer, client: Any) -> None:
    first = client.predict("General", URLS[:3])
    second = client.predict("General", URLS[:3])
    assert first.results == second.results
    with LocalWorkflowServer() as other:
        with WorkflowClient(target=other.target, insecure=True) as elsewhere:
            assert elsewhere.predict("General", URLS[:3]).results == first.results
    a, b = first.results[0].outputs[0], first.results[1].outputs[0]
    assert a.id != b.id and [c.value for c in a.concepts] != [c.value for c in b.concepts]


def test_results_follow_input_order(client: Any) -> None:
    forward = client.predict("General", URLS)
    backward = client.predict("General", URLS[::-1])
    assert list(backward.results) == list(forward.results)[::-1]


def test_input_ids_are_echoed(client: Any) -> None:
    prediction = client.predict("General", [Input.from_url(URL, id="mine"), URL])
    assert prediction.results[0].input_id == "mine"
    assert prediction.results[1].input_id  # assigned, deterministically
    assert prediction.results[1].input_id == client.predict("General", URL).results[0].input_id


def test_output_config_is_honoured(client: Any) -> None:
    concepts = (
        client.predict("General", URL, output_config={"max_concepts": 3, "min_value": 0.0})
        .results[0]
        .outputs[0]
        .concepts
    )
    assert len(concepts) == 3
    high = client.predict("General", URL, output_config={"min_value": 0.9}).results[0]
    assert all(c.value >= 0.9 for c in high.outputs[0].concepts)


def test_fail_invalid_inputs_fail_alone_under_mixed_status(client: Any) -> None:
    prediction = client.predict("General", [URL, "https://fail.invalid/a.jpg", URLS[1]])
    assert prediction.status.code == status_code_pb2.MIXED_STATUS
    assert [r.ok for r in prediction.results] == [True, False, True]
    failed = prediction.results[1]
    assert failed.status.code == status_code_pb2.INPUT_DOWNLOAD_FAILED
    # As the API: the failure is on each node's output too, which names its model and has no data.
    assert [(o.model_id, o.status, o.concepts, o.embeddings) for o in failed.outputs] == [
        ("general-image-recognition", failed.status, (), ()),
        ("general-image-embedding", failed.status, (), ()),
    ]


def test_unknown_workflow(client: Any) -> None:
    # The API's answer (Clarifai's Node SDK tests), not WORKFLOW_DOES_NOT_EXIST.
    with pytest.raises(NotFoundError, match="CONN_DOES_NOT_EXIST") as caught:
        client.predict("No-Such-Workflow", URL)
    assert caught.value.description == "Resource does not exist"
    assert "General" in caught.value.details


def test_more_than_32_inputs_in_one_request_fail(client: Any) -> None:
    request = service_pb2.PostWorkflowResultsRequest(
        workflow_id="General",
        inputs=[
            resources_pb2.Input(data=resources_pb2.Data(image=resources_pb2.Image(url=u)))
            for u in [URL] * 33
        ],
    )
    response = client.predict_request(request)
    assert response.status.code == status_code_pb2.PREDICT_INVALID_REQUEST
    assert not response.results
    assert len(client.predict("General", [URL] * 33)) == 33  # the client splits them


def test_pat_is_checked_when_set() -> None:
    with LocalWorkflowServer(pat=PAT) as server:
        with WorkflowClient(PAT, target=server.target, insecure=True) as good:
            assert good.predict("General", URL).ok
        with WorkflowClient("another-pat", target=server.target, insecure=True) as wrong:
            with pytest.raises(AuthenticationError, match="CONN_KEY_INVALID"):
                wrong.predict("General", URL)
        with WorkflowClient(target=server.target, insecure=True) as missing:
            with pytest.raises(AuthenticationError):
                missing.predict("General", URL)


def test_record_false_answers_alike_and_keeps_no_requests() -> None:
    # `serve` runs so: a long-running emulator must not hold every request it was sent.
    with LocalWorkflowServer(record=False) as quiet, LocalWorkflowServer() as recording:
        with (
            WorkflowClient(target=quiet.target, insecure=True) as a,
            WorkflowClient(target=recording.target, insecure=True) as b,
        ):
            urls = [f"https://example.com/{i}.jpg" for i in range(40)]
            got, expected = a.predict("General", urls), b.predict("General", urls)
        assert [r.outputs for r in got.results] == [r.outputs for r in expected.results]
        assert quiet.requests == [] and quiet.metadata == [] and len(recording.requests) == 2
        assert "calls" not in repr(quiet) and "2 calls" in repr(recording)


def test_fail_next_with_grpc_codes_and_statuses(server: LocalWorkflowServer, client: Any) -> None:
    before = len(server.requests)
    server.fail_next(2, grpc_code=grpc.StatusCode.UNAVAILABLE)
    assert client.predict("General", URL).ok
    assert len(server.requests) - before == 3
    server.fail_next(1, status_code=status_code_pb2.CONN_THROTTLED)
    assert client.predict("General", URL).ok
    server.fail_next(1, status_code=status_code_pb2.PREDICT_INVALID_REQUEST)
    with pytest.raises(InvalidRequestError):
        client.predict("General", URL)
    server.fail_next(5)
    with pytest.raises(TransportError):
        client.predict("General", URL)
    server.fail_next(1)  # leave nothing queued for other tests
    with WorkflowClient(target=server.target, insecure=True, retry=None) as once:
        with pytest.raises(TransportError):
            once.predict("General", URL)
    with pytest.raises(ValueError):
        server.fail_next(1, grpc_code=grpc.StatusCode.INTERNAL, status_code=1)


def test_latency_is_added_to_each_call(server: LocalWorkflowServer, client: Any) -> None:
    server.latency = 0.2
    try:
        started = time.monotonic()
        client.predict("General", URL)
        assert time.monotonic() - started >= 0.2
    finally:
        server.latency = 0


def test_stop_and_start_again_on_the_same_port() -> None:
    server = LocalWorkflowServer().start()
    target = server.target
    client = WorkflowClient(target=target, insecure=True, retry=RetryPolicy(max_attempts=1))
    assert client.predict("General", URL).ok
    server.stop()
    with pytest.raises(TransportError):
        client.predict("General", URL)
    server.start()
    try:
        assert server.target == target
        assert WorkflowClient(target=target, insecure=True).predict("General", URL).ok
        # The old client reconnects too: its retries outlast the short reconnect backoff.
        with WorkflowClient(target=target, insecure=True, retry=FAST_RETRY) as again:
            assert again.predict("General", URL).ok
    finally:
        client.close()
        server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        server.target  # noqa: B018


def test_stop_wakes_calls_sleeping_out_their_latency() -> None:
    server = LocalWorkflowServer().start()
    server.latency = 30
    client = WorkflowClient(target=server.target, insecure=True, retry=None, timeout=60)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.predict("General", URL)
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    thread.join(10)
    client.close()
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert errors and isinstance(errors[0], TransportError)


def test_bundled_fixtures_parse_and_name_their_files() -> None:
    workflows = load_workflows()
    assert set(workflows) == {
        "General",
        "Food",
        "Detection",
        "OCR",
        "Text",
        "Segmentation",
        "Color",
        "NER",
        "ImageToImage",
        "TextToSpeech",
        "VideoTracking",
        "Clustering",
        "LLM",
        "Multimodal",
        "Face-Sentiment",
        "Language-Understanding",
        "asr-sentiment",
        "LLM-Runner",
    }
    for path in BUNDLED_FIXTURES.glob("*.textproto"):
        assert path.read_text().startswith("# proto-file:")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("W", 'id: "W"\n', "missing the header"),
        (
            "W",
            '# proto-message: clarifai.api.Workflow\nid: "W" no_such_field: 1\n',
            "no_such_field",
        ),
        (
            "W",
            '# proto-message: clarifai.api.Workflow\nid: "Other"\n',
            "differs from the file name",
        ),
        ("W", '# proto-message: clarifai.api.Workflow\nid: "W"\n', "has no nodes"),
        (
            "W",
            '# proto-message: clarifai.api.Workflow\nid: "W"\nnodes { id: "n" model { id: "m" model_type_id: "llm" } }\n',
            "unknown model_type_id",
        ),
        (
            "W",
            '# proto-message: clarifai.api.Workflow\nid: "W"\nnodes { id: "n" model { id: "m" model_type_id: "visual-classifier" } }\n',
            "needs output_info.data.concepts",
        ),
        (
            "W",
            '# proto-message: clarifai.api.Workflow\nid: "W"\nnodes { id: "n" node_inputs { node_id: "later" } model { id: "m" model_type_id: "visual-embedder" } }\n',
            "node_inputs must name one node listed before it",
        ),
    ],
)
def test_fixtures_are_parsed_strictly(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / f"{name}.textproto").write_text(text)
    with pytest.raises(FixtureError, match=message):
        LocalWorkflowServer(tmp_path)


def test_custom_fixtures_directory_and_suppressed_nodes(tmp_path: Path) -> None:
    (tmp_path / "Mine.textproto").write_text(
        "# proto-message: clarifai.api.Workflow\n"
        'id: "Mine"\n'
        'nodes { id: "hidden" suppress_output: true model { id: "e" model_type_id: "visual-embedder" } }\n'
        'nodes { id: "shown" model { id: "c" model_type_id: "visual-classifier" '
        'output_info { data { concepts { id: "x" name: "x" } } } } }\n'
    )
    with (
        LocalWorkflowServer(tmp_path) as server,
        WorkflowClient(target=server.target, insecure=True) as client,
    ):
        result = client.predict("Mine", URL).results[0]
        with pytest.raises(NotFoundError):
            client.predict("General", URL)
    assert [o.model_id for o in result.outputs] == ["c"]
