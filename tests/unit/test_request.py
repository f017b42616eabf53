"""``_request``'s pure rules before anything is sent: the owner ids, workflow URLs, and the
request fields of a call."""

from __future__ import annotations

import pytest
from clarifai_grpc.grpc.api import resources_pb2

from clarifai_workflow_predict import InputError, _request, compute
from clarifai_workflow_predict._request import request_fields, user_app_id, workflow_target

URL = "https://clarifai.com/clarifai/main/workflows/General"


def test_owner_ids_come_in_pairs() -> None:
    assert user_app_id(None, None) is None and user_app_id("", "") is None
    assert user_app_id("u", "a") == resources_pb2.UserAppIDSet(user_id="u", app_id="a")
    for user_id, app_id, missing in (("u", None, "app_id"), (None, "a", "user_id")):
        with pytest.raises(InputError) as caught:
            user_app_id(user_id, app_id)
        assert caught.value.param == missing


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("General", None, None, None), ("General", None, None, None)),
        ((URL, None, None, None), ("General", "clarifai", "main", None)),
        ((URL + "/versions/v9", None, None, None), ("General", "clarifai", "main", "v9")),
        ((URL, "clarifai", "main", None), ("General", "clarifai", "main", None)),
        (
            (URL.replace("General", "My%20Flow"), None, None, None),
            ("My Flow", "clarifai", "main", None),
        ),
    ],
)
def test_a_workflow_url_sets_the_owner_and_version(given: tuple, expected: tuple) -> None:
    assert workflow_target(*given) == expected


@pytest.mark.parametrize(
    ("given", "param", "words"),
    [
        ((URL, "someone", None, None), "user_id", "contradicts"),
        ((URL, None, "other", None), "app_id", "contradicts"),
        ((URL + "/versions/v9", None, None, "v1"), "version_id", "contradicts"),
        (
            ("https://clarifai.com/clarifai/main/models/general", None, None, None),
            "workflow_id",
            "a model URL",
        ),
        (
            ("https://clarifai.com/clarifai/main", None, None, None),
            "workflow_id",
            "not a workflow URL",
        ),
    ],
)
def test_a_contradicting_or_foreign_url_is_an_input_error(
    given: tuple, param: str, words: str
) -> None:
    with pytest.raises(InputError, match=words) as caught:
        workflow_target(*given)
    assert caught.value.param == param


def test_request_fields_are_validated_and_selectors_get_the_owner() -> None:
    owner = resources_pb2.UserAppIDSet(user_id="u", app_id="a")
    fields = request_fields(
        "General",
        owner=owner,
        version_id="v",
        output_config={"max_concepts": 3},
        node_runner_selectors={"llm": "dep", "other": compute.deployment("d2", user_id="x")},
        workflow_state_id="s",
        favor_clarifai_workflows=True,
    )
    assert fields["output_config"].max_concepts == 3 and fields["workflow_state"].id == "s"
    selectors = fields["node_runner_selectors"]
    assert selectors["llm"].deployment.user_id == "u"  # filled from the owner
    assert selectors["other"].deployment.user_id == "x"  # the caller's own, kept
    for bad, param in (
        ({"version_id": 1}, "version_id"),
        ({"output_config": {"nope": 1}}, "output_config"),
        ({"output_config": 3}, "output_config"),
        ({"node_runner_selectors": {"": "d"}}, "node_runner_selectors"),
        ({"node_runner_selectors": {"n": 3}}, "node_runner_selectors"),
        ({"workflow_state_id": 5}, "workflow_state_id"),
        ({"favor_clarifai_workflows": "yes"}, "favor_clarifai_workflows"),
    ):
        with pytest.raises(InputError) as caught:
            request_fields("General", owner=None, **bad)  # type: ignore[arg-type]
        assert caught.value.param == param
    with pytest.raises(InputError) as caught:
        request_fields("", owner=None)
    assert caught.value.param == "workflow_id"


def test_a_long_run_of_values_that_are_not_inputs_is_read_in_bounded_chunks() -> None:
    values = ["https://a.b/0.jpg", *[42] * 100, "https://a.b/1.jpg"]
    chunks = list(_request.stream(iter(values), 4))
    assert [item for chunk in chunks for item in chunk if isinstance(item, str)] == [
        "https://a.b/0.jpg",
        "https://a.b/1.jpg",
    ]
    assert sum(len(chunk) for chunk in chunks) == 102
    assert all(sum(isinstance(i, InputError) for i in chunk) <= 4 for chunk in chunks)
