"""The emulator answers like the API: the shapes of Clarifai's published responses, the statuses at
the levels its status-code table gives (``tests/data/real_responses/status_codes.md``), and Clarifai's
own SDK running against ``serve`` as the README says."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from google.protobuf import text_format
from google.protobuf.message import Message

from clarifai_workflow_predict import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT

ROOT = Path(__file__).resolve().parents[2]
# Clarifai's published responses (their README gives each one's source).
PUBLISHED = ROOT / "tests" / "data" / "real_responses"
# The one published response with fields since removed from ``Model`` (parsing drops them); the
# others parse strictly.
LENIENT = {"workflow_result_metro_north.textproto"}
METRO = "https://samples.clarifai.com/metro-north.jpg"
MISSING = "https://fail.invalid/missing.jpg"

# The model's descriptive metadata: what published outputs say about a model for people and the
# portal, which no prediction depends on. The emulator leaves it out of its outputs; every other
# field a published response sets, the emulator's answer for the same workflow sets too.
DESCRIPTIVE = (
    "model.display_name",  # a label for people ("food-items-v1-visual-classifier")
    "model.task",  # a label for the portal ("text-classification")
    "model.workflow_recommended",  # a portal flag
    "model.output_info",  # the model's settings and field map ("Show output_info with: GET ...")
    "model.model_version.license",  # "Apache-2.0"
    "model.model_version.metadata",  # a struct: empty, or where the training logs are
)


def published(name: str, message: Message) -> Any:
    """The published response ``name``, parsed into ``message``."""
    text = (PUBLISHED / name).read_text()
    return text_format.Parse(text, message, allow_unknown_field=name in LENIENT)


def field_paths(message: Message, prefix: str = "") -> set[str]:
    """Every field path ``message`` sets, repeated fields collapsed: ``outputs.model.id``."""
    found: set[str] = set()
    for field, value in message.ListFields():
        path = prefix + field.name
        found.add(path)
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        for item in (value,) if isinstance(value, Message) else value:
            found |= field_paths(item, path + ".")
    return found


def descriptive(path: str) -> str | None:
    """The ``DESCRIPTIVE`` entry ``path`` falls under, if any."""
    within = path.split("outputs.", 1)[-1]
    return next((d for d in DESCRIPTIVE if within == d or within.startswith(d + ".")), None)


def missing(reference: Message, answer: Message) -> list[str]:
    """The paths ``reference`` sets and ``answer`` does not, descriptive metadata aside."""
    paths = field_paths(answer)
    return sorted(p for p in field_paths(reference) - paths if descriptive(p) is None)


def request(workflow_id: str, *datas: resources_pb2.Data) -> Any:
    return service_pb2.PostWorkflowResultsRequest(
        workflow_id=workflow_id, inputs=[resources_pb2.Input(data=d) for d in datas]
    )


def image(url: str) -> resources_pb2.Data:
    return resources_pb2.Data(image=resources_pb2.Image(url=url))


def audio(url: str) -> resources_pb2.Data:
    return resources_pb2.Data(audio=resources_pb2.Audio(url=url))


def text(raw: str) -> resources_pb2.Data:
    return resources_pb2.Data(text=resources_pb2.Text(raw=raw))


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


@pytest.fixture
def client(server: LocalWorkflowServer) -> Any:
    with WorkflowClient(PAT, target=server.target, insecure=True) as c:
        yield c


# --- the published shapes -------------------------------------------------------------------

# Each published workflow result, the bundled workflow shaped after it, and the input it shows.
RESULTS = [
    ("workflow_result_metro_north.textproto", "Food", image(METRO)),
    (
        "workflow_result_face_sentiment_detect_crop_classify.textproto",
        "Face-Sentiment",
        image("https://samples.clarifai.com/celebrity.jpeg"),
    ),
    (
        "workflow_result_language_understanding_embed_cluster.textproto",
        "Language-Understanding",
        text("This is a test text for testing"),
    ),
    (
        "workflow_result_asr_sentiment_audio_2023.textproto",
        "asr-sentiment",
        audio("https://samples.clarifai.com/negative_sentence_1.wav"),
    ),
    (
        "workflow_result_asr_sentiment_audio_2022.textproto",
        "asr-sentiment",
        audio("https://samples.clarifai.com/negative_sentence_1.wav"),
    ),
]


@pytest.mark.parametrize(("name", "workflow_id", "data"), RESULTS, ids=[r[0] for r in RESULTS])
def test_each_published_workflow_result_field_is_set_by_the_emulator(
    client: Any, name: str, workflow_id: str, data: resources_pb2.Data
) -> None:
    reference = published(name, resources_pb2.WorkflowResult())
    (answer,) = client.predict_request(request(workflow_id, data)).results
    types = [o.model.model_type_id for o in answer.outputs]
    assert types == [o.model.model_type_id for o in reference.outputs]  # the same nodes
    assert missing(reference, answer) == []


def test_the_published_whole_response_fields_are_set_by_the_emulator(client: Any) -> None:
    # The only whole workflow response published (REST, 2017): moderation then general concepts,
    # shaped like the bundled image workflow General (concepts, then an embedding).
    reference = published(
        "workflow_post_results_general_moderation_rest_2017.textproto",
        service_pb2.PostWorkflowResultsResponse(),
    )
    answer = client.predict_request(request("General", image(METRO)))
    assert missing(reference, answer) == []
    assert {"workflow.app_id", "workflow.created_at"} <= field_paths(answer)


def test_the_llm_runner_answers_like_the_published_runner_output(client: Any) -> None:
    reference = published("model_llm_runner_output_data_parts.textproto", resources_pb2.Data())
    response = client.predict_request(request("LLM-Runner", text("What is photosynthesis?")))
    data = response.results[0].outputs[0].data
    assert field_paths(data) == field_paths(reference)  # the "return" part, and no text.raw
    assert [p.id for p in data.parts] == [p.id for p in reference.parts] == ["return"]


def test_every_descriptive_exception_is_needed() -> None:
    # The allow-list stays as short as the published responses make it.
    used = {
        descriptive(path)
        for name, _, _ in RESULTS
        for path in field_paths(published(name, resources_pb2.WorkflowResult()))
    }
    assert used - {None} == set(DESCRIPTIVE)


def test_outputs_and_timestamps_are_deterministic_per_input(client: Any) -> None:
    first = client.predict_request(request("Face-Sentiment", image(METRO)))
    again = client.predict_request(request("Face-Sentiment", image(METRO)))
    first.status.ClearField("req_id")
    again.status.ClearField("req_id")
    assert first == again
    times = [o.created_at.ToNanoseconds() for o in first.results[0].outputs]
    assert times == sorted(times) and len(set(times)) == len(times)  # each node after the last


# --- statuses, at the levels and with the codes status_codes.md gives -----------------------


def statuses(message: Any) -> tuple[int, str]:
    return message.status.code, message.status.description


def test_every_input_failed_is_failure(client: Any) -> None:
    response = client.predict_request(request("General", image(MISSING), image(MISSING + "2")))
    assert statuses(response) == (10020, "Failure")  # FAILURE
    assert [r.status.code for r in response.results] == [30002, 30002]


def test_some_inputs_failed_is_mixed_status(client: Any) -> None:
    response = client.predict_request(request("General", image(METRO), image(MISSING)))
    assert statuses(response) == (10010, "Mixed Success")  # MIXED_STATUS
    assert [r.status.code for r in response.results] == [10000, 30002]


def test_a_failed_download_is_on_the_result_and_on_one_output_per_shown_node(
    tmp_path: Path,
) -> None:
    (tmp_path / "Hidden.textproto").write_text(
        "# proto-message: clarifai.api.Workflow\n"
        'id: "Hidden"\n'
        'nodes { id: "embed" suppress_output: true model { id: "e" model_type_id: "visual-embedder" } }\n'
        'nodes { id: "tags" model { id: "c" model_type_id: "visual-classifier" '
        'output_info { data { concepts { id: "x" name: "x" } } } } }\n'
    )
    with (
        LocalWorkflowServer(tmp_path) as local,
        WorkflowClient(target=local.target, insecure=True) as client,
    ):
        (result,) = client.predict_request(request("Hidden", image(MISSING))).results
    # INPUT_DOWNLOAD_FAILED, worded as in Clarifai's client tests: the HTTP error, then the URL.
    assert result.status.code == 30002
    assert result.status.details == f"404 Client Error: Not Found for url: {MISSING}"
    (output,) = result.outputs  # the suppressed node shows no output, failed or not
    assert output.status == result.status and output.model.id == "c"
    assert output.model.model_version.status.code == 21100  # MODEL_TRAINED
    assert output.created_at.seconds and not output.HasField("data")


@pytest.mark.parametrize(
    ("data", "code", "description"),
    [
        (resources_pb2.Data(), 30104, "Input invalid argument"),  # INPUT_INVALID_ARGUMENT
        (image("ftp://example.com/a.jpg"), 30106, "Input image URL invalid"),  # INPUT_INVALID_URL
    ],
    ids=["no-data", "not-http"],
)
def test_an_unusable_input_fails_alone_on_its_result_and_outputs(
    client: Any, data: resources_pb2.Data, code: int, description: str
) -> None:
    response = client.predict_request(request("General", image(METRO), data))
    assert statuses(response) == (10010, "Mixed Success")
    good, bad = response.results
    assert statuses(good) == (10000, "Ok") and statuses(bad) == (code, description)
    assert [statuses(o) for o in bad.outputs] == [(code, description)] * 2
    alone = client.predict_request(request("General", data))
    assert statuses(alone) == (10020, "Failure")


def test_an_input_kind_the_first_model_does_not_take_refuses_the_request(client: Any) -> None:
    # An image sent to a text workflow (Clarifai's Node SDK tests): the whole request, at the top.
    response = client.predict_request(request("Text", text("fine"), image(METRO)))
    assert statuses(response) == (30101, "Input format unsupported")  # INPUT_UNSUPPORTED_FORMAT
    assert not response.results and "inputs[1] is image" in response.status.details
    with pytest.raises(InvalidRequestError, match="INPUT_UNSUPPORTED_FORMAT"):
        client.predict("Text", METRO)
    assert statuses(client.predict_request(request("General", text("hi"))))[0] == 30101
    # A video goes to an image model: the API samples its frames.
    video = resources_pb2.Data(video=resources_pb2.Video(url="https://example.com/v.mp4"))
    assert statuses(client.predict_request(request("General", video))) == (10000, "Ok")


def test_an_unknown_workflow_is_conn_does_not_exist(client: Any) -> None:
    response = client.predict_request(request("No-Such-Workflow", image(METRO)))
    assert statuses(response) == (11101, "Resource does not exist")  # CONN_DOES_NOT_EXIST
    with pytest.raises(NotFoundError):
        client.predict("No-Such-Workflow", METRO)


def test_a_bad_pat_is_conn_key_invalid(server: LocalWorkflowServer) -> None:
    with WorkflowClient("another-pat", target=server.target, insecure=True) as wrong:
        response = wrong.predict_request(request("General", image(METRO)))
        assert statuses(response) == (
            11008,  # CONN_KEY_INVALID
            "Invalid API key or Invalid API key/application pair",
        )
        with pytest.raises(AuthenticationError):
            wrong.predict("General", METRO)


# --- Clarifai's SDK against `serve`, as the README says ----------------------------------------


def readme_sdk_example() -> str:
    """The README's Python example for Clarifai's SDK, in the emulator's section."""
    section = (ROOT / "README.md").read_text().split("## Testing your own code", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    (example,) = [b for b in blocks if "clarifai.client.workflow" in b]
    return example


@pytest.mark.sdk
def test_clarifai_sdk_predicts_by_url_without_input_type() -> None:
    pytest.importorskip(
        "clarifai.client.workflow",
        reason="Clarifai's SDK is not installed (pip install clarifai)",
    )
    example = readme_sdk_example()
    serve = subprocess.Popen(
        [sys.executable, "-m", "clarifai_workflow_predict", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = serve.stdout.readline().rsplit(":", 1)[1].strip()  # type: ignore[union-attr]
        # The README's port is whatever was free here; the SDK reads CLARIFAI_API_BASE on import.
        env = {**os.environ, "CLARIFAI_API_BASE": f"http://127.0.0.1:{port}"}
        done = subprocess.run(
            [sys.executable, "-c", example.replace("8470", port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "general-image-recognition Ok",
        "general-image-embedding Ok",
    ]
