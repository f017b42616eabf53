"""Malformed responses from a real server convert correctly or raise a ClarifaiError; nothing else.

Fields are converted when read, so each test reads every field of what it gets, one attribute at
a time and in an order the fuzzer picks: each read gives a value or raises a ``ClarifaiError``.
"""

from __future__ import annotations

import math
import struct
from concurrent import futures
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import resources_pb2 as r
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clarifai_workflow_predict import (
    ClarifaiError,
    Input,
    TransportError,
    WorkflowClient,
    WorkflowPrediction,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..helpers import FakeServer, Response, read_every_field

TRIED = {"count": 0, "converted": 0}

codes = st.one_of(
    st.sampled_from(
        [status_code_pb2.SUCCESS, status_code_pb2.MIXED_STATUS, status_code_pb2.FAILURE, 0]
    ),
    st.integers(min_value=1, max_value=2**31 - 1),
)
floats32 = st.floats(width=32, allow_nan=False)
text = st.text(max_size=12)


def statuses() -> Any:
    return st.builds(
        lambda c, d, det: status_pb2.Status(code=c, description=d, details=det), codes, text, text
    )


concepts = st.builds(
    lambda i, n, v, a: r.Concept(id=i, name=n, value=v, app_id=a), text, text, floats32, text
)
boxes = st.builds(
    lambda a, b, c, d: r.BoundingBox(top_row=a, left_col=b, bottom_row=c, right_col=d),
    floats32,
    floats32,
    floats32,
    floats32,
)


@st.composite
def regions(draw: Any) -> r.Region:
    region = r.Region(id=draw(text), value=draw(floats32))
    if draw(st.booleans()):
        region.region_info.bounding_box.CopyFrom(draw(boxes))
    region.data.concepts.extend(draw(st.lists(concepts, max_size=3)))
    if draw(st.booleans()):
        region.data.text.raw = draw(text)
    return region


@st.composite
def outputs(draw: Any) -> r.Output:
    output = r.Output(id=draw(text))
    if draw(st.booleans()):
        output.status.CopyFrom(draw(statuses()))
    if draw(st.booleans()):
        output.model.CopyFrom(
            r.Model(id=draw(text), name=draw(text), model_version=r.ModelVersion(id=draw(text)))
        )
    if draw(st.booleans()):  # sometimes no data at all
        size = draw(st.sampled_from([0, 1, 5, 20, 20, 3000]))  # now and then a huge list
        name = draw(text)
        output.data.concepts.extend(
            r.Concept(id=f"c{i}", name=name, value=(i % 97) / 97) for i in range(size)
        )
        output.data.concepts.extend(draw(st.lists(concepts, max_size=3)))
        output.data.regions.extend(draw(st.lists(regions(), max_size=3)))
        for vector in draw(st.lists(st.lists(floats32, max_size=40), max_size=2)):
            output.data.embeddings.add(
                vector=vector, num_dimensions=draw(st.integers(0, 2**32 - 1))
            )
        for index in range(draw(st.integers(0, 2))):
            frame = output.data.frames.add()
            frame.frame_info.index = index
            frame.frame_info.time = draw(st.integers(0, 2**32 - 1))
            frame.data.concepts.extend(draw(st.lists(concepts, max_size=2)))
        if draw(st.booleans()):
            output.data.text.raw = draw(st.text(max_size=50))
    output.prompt_tokens = draw(st.integers(0, 2**32 - 1))
    return output


@st.composite
def responses(draw: Any) -> tuple[int, Response]:
    inputs = draw(st.integers(1, 6))
    count = max(0, inputs + draw(st.sampled_from([-2, -1, 1, 2] + [0] * 12)))
    response = Response(status=draw(statuses()))
    if draw(st.integers(0, 9)) < 7:  # mostly answers the client accepts, so conversion runs
        response.status.code = draw(
            st.sampled_from([status_code_pb2.SUCCESS, status_code_pb2.MIXED_STATUS])
        )
    for k in range(count):
        result = response.results.add(id=draw(text))
        if draw(st.booleans()):
            result.status.CopyFrom(draw(statuses()))
        result.input.id = draw(st.sampled_from([f"in-{k}"] * 12 + ["", "in-other"]))
        result.outputs.extend(draw(st.lists(outputs(), max_size=3)))
    return inputs, response


def same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def check_converted(result: Any, message: r.WorkflowResult) -> None:
    assert result.id == message.id and result.status.code == message.status.code
    assert result.status.name  # known name, or the number as text
    assert len(result.outputs) == len(message.outputs)
    for out, raw in zip(result.outputs, message.outputs, strict=True):
        assert out.model_id == raw.model.id and out.model_name == raw.model.name
        assert [(c.id, c.name) for c in out.concepts] == [(c.id, c.name) for c in raw.data.concepts]
        assert all(
            same_float(c.value, m.value)
            for c, m in zip(out.concepts, raw.data.concepts, strict=True)
        )
        for emb, m in zip(out.embeddings, raw.data.embeddings, strict=True):
            assert len(emb.vector) == len(m.vector) and emb.num_dimensions == m.num_dimensions
            assert all(same_float(a, b) for a, b in zip(emb.vector, m.vector, strict=True))
        for region, m in zip(out.regions, raw.data.regions, strict=True):
            assert (region.bounding_box is None) == (not m.region_info.HasField("bounding_box"))
            assert region.text == m.data.text.raw
        assert [f.time_ms for f in out.frames] == [f.frame_info.time for f in raw.data.frames]
        assert out.text == raw.data.text.raw and out.prompt_tokens == raw.prompt_tokens


class Scripted:
    response = Response()

    def __call__(self, request: Any, context: Any, call: int) -> Response:
        return self.response


@pytest.fixture(scope="module")
def scripted() -> Any:
    handler = Scripted()
    with (
        FakeServer(handler) as server,
        WorkflowClient(target=server.target, insecure=True, retry=None) as client,
    ):
        yield handler, client


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(responses(), st.randoms(use_true_random=False))
def test_malformed_responses_convert_or_raise_a_clarifai_error(
    scripted: Any, case: tuple[int, Response], rand: Any
) -> None:
    handler, client = scripted
    inputs, response = case
    handler.response = response
    TRIED["count"] += 1
    try:
        prediction = client.predict(
            "General",
            [Input.from_url(f"https://x.org/{k}.jpg", id=f"in-{k}") for k in range(inputs)],
        )
    except ClarifaiError as error:
        assert str(error)
        return
    # Returned: the answer of every input (FAILURE with results is how every input failed).
    code = response.status.code
    assert code in (status_code_pb2.SUCCESS, status_code_pb2.MIXED_STATUS) or (
        code == status_code_pb2.FAILURE and len(response.results)
    )
    assert len(prediction.results) == inputs == len(response.results)
    assert read_every_field(prediction, lambda names: rand.sample(names, len(names))) == []
    for k, (result, message) in enumerate(zip(prediction.results, response.results, strict=True)):
        assert result.input_id in (f"in-{k}", "")
        check_converted(result, message)
    prediction.to_dict()
    TRIED["converted"] += 1


# What the emulator answers for each bundled workflow (every kind of output), serialized once:
# the fuzzer damages these bytes.
_REAL: dict[str, bytes] = {}


def real_responses() -> dict[str, bytes]:
    if not _REAL:
        with (
            LocalWorkflowServer() as server,
            WorkflowClient(target=server.target, insecure=True) as client,
        ):
            for workflow_id, workflow in sorted(server.workflows.items()):
                kind = workflow.nodes[0].model.model_type_id
                media = "image"
                if kind.startswith(("text", "multimodal")):
                    media = "text"
                elif kind.startswith("audio"):
                    media = "audio"
                elif kind == "visual-tracker":
                    media = "video"
                good = (
                    Input.from_text("Ada Lovelace met Charles Babbage in London.")
                    if media == "text"
                    else Input.from_url(f"https://x.org/a.{media}", media)  # type: ignore[arg-type]
                )
                failing = Input.from_url(f"https://fail.invalid/b.{media}", media)  # type: ignore[arg-type]
                prediction = client.predict(workflow_id, [good, failing])
                _REAL[workflow_id] = prediction.raw[0].SerializeToString()
    return _REAL


@st.composite
def damaged(draw: Any) -> bytes:
    """A real response with some bytes changed, cut or doubled."""
    data = bytearray(_REAL[draw(st.sampled_from(sorted(_REAL)))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "cut", "double"]))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


@pytest.fixture(scope="module")
def real() -> dict[str, bytes]:
    return real_responses()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(damaged(), st.randoms(use_true_random=False))
def test_damaged_but_parseable_responses_read_field_by_field(
    real: dict[str, bytes], data: bytes, rand: Any
) -> None:
    from google.protobuf.message import DecodeError

    TRIED["count"] += 1
    try:
        message = Response.FromString(data)
    except DecodeError:
        return  # not parseable: the RPC layer reports it (test_garbage_bytes_...)
    prediction = WorkflowPrediction.from_proto(message)
    for error in read_every_field(prediction, lambda names: rand.sample(names, len(names))):
        assert isinstance(error, ClarifaiError) and "malformed response" in str(error)
    try:
        prediction.to_dict()
    except ClarifaiError as error:
        assert "malformed response" in str(error)
    TRIED["converted"] += 1


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_are_a_transport_error(data: bytes) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "clarifai.api.V2",
                {"PostWorkflowResults": grpc.unary_unary_rpc_method_handler(lambda req, ctx: data)},
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    TRIED["count"] += 1
    try:
        with WorkflowClient(target=f"127.0.0.1:{port}", insecure=True, retry=None) as client:
            try:
                prediction = client.predict("General", "https://x.org/a.jpg")
            except TransportError as error:
                assert error.grpc_code is grpc.StatusCode.INTERNAL and str(error)
            except ClarifaiError as error:  # the bytes happened to parse: a typed API answer
                assert str(error)
            else:
                assert len(prediction.results) == 1
    finally:
        server.stop(None)


def test_vector_decoding_reads_the_vector_and_nothing_after_it() -> None:
    from clarifai_workflow_predict import models

    vector = struct.pack("<3f", 1.0, 2.0, 3.0)
    embedding = r.Embedding.FromString(b"\x0a" + bytes([len(vector)]) + vector + b"\x10\x03")
    assert models._vector(embedding) == (1.0, 2.0, 3.0)


@pytest.fixture(scope="module", autouse=True)
def _count_tried(reliability: Any) -> Any:
    yield
    reliability.add(malformed_responses_tried=TRIED["count"])
    assert TRIED["converted"] >= 50  # the conversion path was exercised, not only errors
