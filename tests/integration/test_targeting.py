"""Inputs and targeting: multimodal prompts, video sampling, compute selection, workflow URLs
and ``favor_clarifai_workflows``. Each is checked in the exact request (a grpcio-testing
channel), in what the emulator received and answered (``LocalWorkflowServer``), and in the
errors raised before anything is sent, on both clients."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import grpc
import grpc_testing
import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    Input,
    InputError,
    InvalidRequestError,
    WorkflowClient,
    compute,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..cli.shell import finished
from ..clients import Harness
from ..conftest import PAT

METHOD = service_pb2.DESCRIPTOR.services_by_name["V2"].methods_by_name["PostWorkflowResults"]
IMAGE = "https://samples.clarifai.com/metro-north.jpg"
VIDEO = "https://samples.clarifai.com/beer.mp4"
URL = "https://clarifai.com/clarifai/main/workflows/Multimodal/versions/v7"


def targeted(client: Any) -> Any:
    """One call using every targeting feature; a coroutine on the async client."""
    return client.predict(
        URL,
        [
            Input.from_parts(["What is in this image?", IMAGE, b"\x89PNG raw"], id="prompt"),
            Input.from_url(VIDEO, "video", sample_ms=250),
        ],
        node_runner_selectors={
            "llm": "gpu-deployment",
            "describe": compute.deployment("shared", user_id="team"),
            "pool": compute.nodepool("a10", compute_cluster_id="cluster-1"),
        },
        favor_clarifai_workflows=True,
    )


def expected_request() -> service_pb2.PostWorkflowResultsRequest:
    r = resources_pb2
    prompt = r.Input(
        id="prompt",
        data=r.Data(
            parts=[
                r.Part(data=r.Data(text=r.Text(raw="What is in this image?"))),
                r.Part(data=r.Data(image=r.Image(url=IMAGE))),
                r.Part(data=r.Data(image=r.Image(base64=b"\x89PNG raw"))),
            ]
        ),
    )
    video = r.Input(
        data=r.Data(video=r.Video(url=VIDEO)), settings=r.InputSettings(sample_rate_ms=250)
    )
    return service_pb2.PostWorkflowResultsRequest(
        user_app_id=r.UserAppIDSet(user_id="clarifai", app_id="main"),
        workflow_id="Multimodal",
        version_id="v7",
        inputs=[prompt, video],
        node_runner_selectors={
            # A selector naming no owner gets the workflow owner's; a given one is kept.
            "llm": r.RunnerSelector(
                deployment=r.Deployment(id="gpu-deployment", user_id="clarifai")
            ),
            "describe": r.RunnerSelector(deployment=r.Deployment(id="shared", user_id="team")),
            "pool": r.RunnerSelector(
                nodepool=r.Nodepool(
                    id="a10", compute_cluster=r.ComputeCluster(id="cluster-1", user_id="clarifai")
                )
            ),
        },
        favor_clarifai_workflows=True,
    )


class _AioTestingStub:
    """A grpcio-testing channel behind the async stub shape ``AsyncWorkflowClient(stub=)``
    takes: each awaited call is the testing channel's call, run off the event loop."""

    def __init__(self, channel: Any) -> None:
        self._method = channel.unary_unary(
            "/clarifai.api.V2/PostWorkflowResults",
            request_serializer=service_pb2.PostWorkflowResultsRequest.SerializeToString,
            response_deserializer=service_pb2.PostWorkflowResultsResponse.FromString,
        )

    async def PostWorkflowResults(self, request: Any, **kwargs: Any) -> Any:  # noqa: N802
        return await asyncio.to_thread(self._method, request, **kwargs)


def on_the_wire(kind: str, call: Callable[[Any], Any]) -> service_pb2.PostWorkflowResultsRequest:
    """The request ``call(client)`` sends, taken from a grpcio-testing channel."""
    channel = grpc_testing.channel(
        service_pb2.DESCRIPTOR.services_by_name.values(), grpc_testing.strict_real_time()
    )
    if kind == "sync":
        client: Any = WorkflowClient(PAT, channel=channel)
        run: Callable[[], Any] = lambda: call(client)  # noqa: E731
    else:
        client = AsyncWorkflowClient(PAT, stub=_AioTestingStub(channel))
        run = lambda: asyncio.run(call(client))  # noqa: E731
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run)
        metadata, request, rpc = channel.take_unary_unary(METHOD)
        rpc.terminate(
            service_pb2.PostWorkflowResultsResponse(
                status=status_pb2.Status(code=status_code_pb2.SUCCESS),
                results=[
                    resources_pb2.WorkflowResult(
                        input=i, status=status_pb2.Status(code=status_code_pb2.SUCCESS)
                    )
                    for i in request.inputs
                ],
            ),
            (),
            grpc.StatusCode.OK,
            "",
        )
        assert future.result(timeout=10).ok
    assert dict(metadata)["authorization"] == f"Key {PAT}"
    return request


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_every_targeting_feature_is_in_the_exact_request(kind: str) -> None:
    assert on_the_wire(kind, targeted) == expected_request()


@pytest.fixture(scope="module")
def emulator() -> Any:
    with LocalWorkflowServer() as server:
        yield server


def test_the_emulator_receives_and_answers_each_feature(harness: Harness, emulator: Any) -> None:
    with harness.client(target=emulator.target, insecure=True) as client:
        before = len(emulator.requests)
        prompt, video = client.predict(
            URL.replace("Multimodal/versions/v7", "Multimodal"),
            [
                Input.from_parts(["What is in this image?", IMAGE]),
                Input.from_url(VIDEO, "video", sample_ms=750),
            ],
            node_runner_selectors={"llm": "gpu-deployment"},
            favor_clarifai_workflows=True,
        ).results
        general = client.predict("General", Input.from_url(VIDEO, "video", sample_ms=750))
        streamed = list(
            client.predict_iter(
                "https://clarifai.com/clarifai/main/workflows/General",
                [Input.from_url(VIDEO, "video", sample_ms=1000)],
            )
        )
    request = emulator.requests[before]
    assert (request.workflow_id, request.user_app_id.user_id, request.user_app_id.app_id) == (
        "Multimodal",
        "clarifai",
        "main",
    )
    assert request.node_runner_selectors["llm"].deployment.id == "gpu-deployment"
    assert request.favor_clarifai_workflows
    # The multimodal model got both parts, in order.
    assert prompt.outputs[0].text.startswith(
        f"Received 2 parts: text 'What is in this image?'; image {IMAGE}. "
    )
    assert video.outputs[0].text.startswith(f"Received 1 part: video {VIDEO}. ")
    # A frame every sample_ms over the emulator's 3 s videos.
    assert [f.time_ms for f in general.results[0].outputs[0].frames] == [0, 750, 1500, 2250]
    assert [f.time_ms for f in streamed[0].outputs[0].frames] == [0, 1000, 2000]
    assert emulator.requests[-1].user_app_id.user_id == "clarifai"


def test_the_emulator_refuses_a_node_the_workflow_does_not_have(
    harness: Harness, emulator: Any
) -> None:
    with harness.client(target=emulator.target, insecure=True) as client:
        with pytest.raises(InvalidRequestError, match="'nope'.*its nodes: llm"):
            client.predict("Multimodal", IMAGE, node_runner_selectors={"nope": "gpu"})
        empty = resources_pb2.RunnerSelector(nodepool=resources_pb2.Nodepool(id="a10"))
        with pytest.raises(InvalidRequestError, match="no deployment or nodepool"):
            client.predict("Multimodal", IMAGE, node_runner_selectors={"llm": empty})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.predict("General", Input.from_parts([])), "got no parts"),
        (
            lambda c: c.predict("General", Input.from_parts([Input.from_parts(["a"])])),
            r"parts\[0\]: a multimodal input; parts cannot nest",
        ),
        (lambda c: c.predict("General", Input.from_parts(["a", 7])), r"parts\[1\]: .* got int"),
        (lambda c: c.predict("General", Input.from_parts(["htps://a.jpg"])), r"parts\[0\]"),
        (lambda c: c.predict("General", Input.from_url(IMAGE, sample_ms=5)), "for video"),
        (lambda c: c.predict("General", Input.from_url(VIDEO, "video", sample_ms=0)), "> 0"),
        (lambda c: c.predict("General", IMAGE, node_runner_selectors={"llm": ""}), "deployment"),
        (lambda c: c.predict("General", IMAGE, node_runner_selectors={"llm": 3}), "RunnerSelector"),
        (lambda c: compute.nodepool("a10", compute_cluster_id=""), "compute_cluster_id"),
        (
            lambda c: c.predict("https://clarifai.com/clarifai/main/models/general", IMAGE),
            "a model URL, not a workflow's",
        ),
        (
            lambda c: c.predict("https://clarifai.com/clarifai/main/workflows/", IMAGE),
            "not a workflow URL",
        ),
        (
            lambda c: c.predict(URL, IMAGE, user_id="someone"),
            "user_id='someone' contradicts the workflow URL",
        ),
        (lambda c: c.predict(URL, IMAGE, version_id="v8"), "version_id='v8' contradicts"),
        (
            lambda c: c.predict_iter("https://clarifai.com/a/b/workflows", [IMAGE]),
            "not a workflow URL",
        ),
        (
            lambda c: c.predict("General", IMAGE, favor_clarifai_workflows=1),
            "favor_clarifai_workflows",
        ),
    ],
)
def test_mistakes_raise_input_error_before_anything_is_sent(
    harness: Harness, emulator: Any, call: Callable[[Any], Any], message: str
) -> None:
    before = len(emulator.requests)
    with harness.client(target=emulator.target, insecure=True) as client:
        with pytest.raises(InputError, match=message):
            harness.run(call(client.real))
    assert len(emulator.requests) == before


def test_a_url_agreeing_with_the_explicit_ids_is_accepted(harness: Harness, emulator: Any) -> None:
    with harness.client(target=emulator.target, insecure=True, user_id="me", app_id="x") as c:
        c.predict(URL.removesuffix("/versions/v7"), IMAGE, user_id="clarifai", app_id="main")
    request = emulator.requests[-1]
    assert (request.user_app_id.user_id, request.user_app_id.app_id) == ("clarifai", "main")


# --- the command line ----------------------------------------------------------------------


def test_cli_predict_takes_a_url_parts_and_sample_ms(emulator: Any) -> None:
    where = ("--target", emulator.target, "--insecure")
    before = len(emulator.requests)
    done = finished("predict", URL.removesuffix("/versions/v7"), "--parts", IMAGE, "--text",
               "What is here?", "--json", *where)  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)["results"][0]["outputs"][0]["text"]
    assert answer.startswith(f"Received 2 parts: text 'What is here?'; image {IMAGE}. ")
    request = emulator.requests[before]
    assert (request.workflow_id, request.user_app_id.user_id) == ("Multimodal", "clarifai")
    sampled = finished("predict", "General", VIDEO, "--sample-ms", "1500", "--json", *where)
    assert sampled.returncode == 0, sampled.stderr
    assert emulator.requests[-1].inputs[0].settings.sample_rate_ms == 1500
    for bad, message in (
        (("General", IMAGE, "--sample-ms", "100"), "none of the inputs is a video"),
        ((URL, IMAGE, "--version-id", "v1"), "--version-id: version_id='v1' contradicts"),
        (("https://clarifai.com/clarifai/main/models/m", IMAGE), "a model URL"),
        (("Multimodal", "--parts", VIDEO, "--sample-ms", "100"), "part of a --parts input"),
    ):
        refused = finished("predict", *bad, *where)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    assert len(emulator.requests) == before + 2


def test_cli_bulk_takes_a_url_and_sample_ms_and_resumes_only_the_same_job(
    emulator: Any, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text(f"{VIDEO}\n{IMAGE}\n")
    out = tmp_path / "out.jsonl"
    where = ("--target", emulator.target, "--insecure", "--no-progress")
    general = "https://clarifai.com/clarifai/main/workflows/General"
    done = finished("bulk", general, str(inputs), "--out", str(out), "--sample-ms", "600", *where)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["job"]["sample_ms"] for line in lines] == [600, 600]
    assert lines[0]["job"]["user_id"] == "clarifai" and lines[0]["job"]["workflow_id"] == "General"
    frames = lines[0]["outputs"][0]["frames"]
    assert [f["time_ms"] for f in frames] == [0, 600, 1200, 1800, 2400]
    other = finished("bulk", general, str(inputs), "--out", str(out), "--sample-ms", "700", *where)
    assert (
        other.returncode == 2
        and "--sample-ms: " in other.stderr
        and "sample_ms 600" in other.stderr
    ), other.stderr
