"""Generated input values make a valid request or raise InputError; nothing else escapes."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clarifai_workflow_predict import Input, InputError
from clarifai_workflow_predict._request import MAX_REQUEST_BYTES, request_fields
from clarifai_workflow_predict._request import plan as plan_fields
from clarifai_workflow_predict.inputs import MAX_IMAGE_BYTES

urls = st.from_regex(
    r"https?://[a-z0-9.-]{1,20}(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]{0,12}){0,3}", fullmatch=True
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    urls,
    st.binary(max_size=64),
    st.builds(pathlib.Path, st.text(max_size=20)),
    st.builds(
        lambda stem, suffix: pathlib.Path(stem + suffix),
        st.text(max_size=12),
        st.sampled_from([".jpg", ".png", ".mp4", ".wav", ".txt", ".json", ""]),
    ),
    st.builds(bytearray, st.binary(max_size=16)),
    st.builds(lambda u: Input.from_url(u), urls),
    st.builds(lambda t: Input.from_text(t), st.text(min_size=1, max_size=30)),
    st.just(
        resources_pb2.Input(
            data=resources_pb2.Data(image=resources_pb2.Image(url="https://x.org/a.jpg"))
        )
    ),
    st.builds(object),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=40) | st.tuples(inner, inner), max_leaves=80
)

TRIED = {"count": 0}


def plan(workflow_id: str, inputs: Any, *, owner: Any, batch_size: int, **options: Any) -> Any:
    return plan_fields(request_fields(workflow_id, owner=owner, **options), inputs, batch_size)


def valid_or_input_error(value: Any) -> None:
    TRIED["count"] += 1
    try:
        made = plan("General", value, owner=None, batch_size=32)
    except InputError as error:
        assert str(error)  # says what was wrong
        return
    sent = [i for request in made.requests for i in request.inputs]
    assert sent and made.bounds[0][0] == 0 and made.bounds[-1][1] == len(sent) == made.count
    for request, (start, stop) in zip(made.requests, made.bounds, strict=True):
        assert 0 < stop - start <= 32 and list(request.inputs) == sent[start:stop]
        again = service_pb2.PostWorkflowResultsRequest.FromString(request.SerializeToString())
        assert again == request and again.workflow_id == "General"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_generated_inputs_make_a_request_or_raise_input_error(value: Any) -> None:
    valid_or_input_error(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(urls, min_size=1, max_size=100))
def test_url_lists_always_make_requests_in_order(value: list[str]) -> None:
    made = plan("General", value, owner=None, batch_size=7)
    assert [i.data.image.url for r in made.requests for i in r.inputs] == value
    assert all(len(r.inputs) <= 7 for r in made.requests)


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.builds(object)
    | st.binary(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "max_concepts",
                "min_value",
                "language",
                "sample_ms",
                "select_concepts",
                "bogus",
                "hyper_params",
            ]
        ),
        json_like,
        max_size=4,
    ),
    json_like,
)
def test_generated_output_configs_and_metadata(config: dict[str, Any], metadata: Any) -> None:
    for call in (
        lambda: plan("W", "https://a.org/x.jpg", owner=None, batch_size=32, output_config=config),
        lambda: Input.from_text("hi", metadata=metadata),
    ):
        TRIED["count"] += 1
        try:
            call()
        except InputError as error:
            assert str(error)


def test_files_of_every_kind_and_bad_paths(tmp_path: pathlib.Path) -> None:
    for name, kind in (
        ("a.jpg", "image"),
        ("b.mp4", "video"),
        ("c.wav", "audio"),
        ("d.txt", "text"),
    ):
        (tmp_path / name).write_bytes(b"hello")
        made = plan("W", tmp_path / name, owner=None, batch_size=32)
        assert made.requests[0].inputs[0].data.HasField(kind)
    (tmp_path / "e.txt").write_bytes(b"\xff\xfe not utf-8 \xc3")
    for bad in (
        tmp_path / "e.txt",
        tmp_path,
        tmp_path / "missing.png",
        pathlib.Path(""),
        pathlib.Path("a\x00b.jpg"),
    ):
        with pytest.raises(InputError):
            plan("W", bad, owner=None, batch_size=32)
    valid_or_input_error(os.fsencode(str(tmp_path / "a.jpg")))  # bytes are image data, not paths


def test_size_limits_fail_early() -> None:
    too_big = b"\0" * (MAX_IMAGE_BYTES + 1)
    with pytest.raises(InputError, match="over the API's limit"):
        plan("W", too_big, owner=None, batch_size=32)
    with pytest.raises(InputError, match="over the API's limit"):
        Input.from_bytes(too_big)
    raw_big = resources_pb2.Input(
        data=resources_pb2.Data(image=resources_pb2.Image(base64=too_big))
    )
    with pytest.raises(InputError, match=r"inputs\[0\]"):
        plan("W", [raw_big], owner=None, batch_size=32)
    huge_video = Input.from_bytes(b"\0" * (MAX_REQUEST_BYTES + 1), kind="video")
    with pytest.raises(InputError, match="one request may be at most"):
        plan("W", [huge_video], owner=None, batch_size=32)
    TRIED["count"] += 4


def test_requests_are_split_to_stay_under_the_request_limit() -> None:
    image = Input.from_bytes(b"\1" * (MAX_IMAGE_BYTES - 1024))  # just under 20 MiB each
    made = plan("W", [image] * 14, owner=None, batch_size=32)  # ~280 MiB in all
    assert len(made.requests) == 3 and sum(len(r.inputs) for r in made.requests) == 14
    for request in made.requests:
        assert request.ByteSize() <= MAX_REQUEST_BYTES


@pytest.fixture(scope="module", autouse=True)
def _count_tried(reliability: Any) -> Any:
    yield
    reliability.add(bad_inputs_tried=TRIED["count"])
