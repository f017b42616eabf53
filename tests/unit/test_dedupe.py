"""Duplicates sent once: the key of an input, and a call's plan sending each distinct input
once while every input keeps its place."""

from __future__ import annotations

from clarifai_workflow_predict import Input
from clarifai_workflow_predict._dedupe import key, own_id
from clarifai_workflow_predict._request import plan, request_fields

URL = "https://example.com/a.jpg"


def test_the_key_is_the_data_and_settings_with_the_id_aside() -> None:
    same = [URL, Input.from_url(URL), Input.from_url(URL, id="mine")]
    assert len({key(item if isinstance(item, str) else item.proto) for item in same}) == 1
    others = [
        Input.from_url("https://example.com/b.jpg"),
        Input.from_url(URL, metadata={"k": 1}),
        Input.from_url("https://example.com/v.mp4", "video", sample_ms=500),
        Input.from_url("https://example.com/v.mp4", "video", sample_ms=1000),
        Input.from_text(URL),
    ]
    keys = {key(i.proto) for i in others} | {key(URL)}
    assert len(keys) == len(others) + 1  # different data or settings: never merged
    assert own_id(URL) == "" and own_id(Input.from_url(URL, id="mine").proto) == "mine"


def test_a_plan_sends_each_distinct_input_once_and_places_every_one() -> None:
    fields = request_fields("General", owner=None)
    inputs = [URL, "https://example.com/b.jpg", Input.from_url(URL, id="x"), URL]
    made = plan(fields, inputs, 32, dedupe=True)
    sent = [i.data.image.url for r in made.requests for i in r.inputs]
    assert sent == [URL, "https://example.com/b.jpg"]
    assert made.places == [0, 1, 0, 0] and made.own_ids == ["", "", "x", ""]
    assert made.count == 4
    many = plan(fields, [f"https://example.com/{i % 40}.jpg" for i in range(100)], 8, dedupe=True)
    assert sum(len(r.inputs) for r in many.requests) == 40 and len(many.requests) == 5
    assert plan(fields, inputs, 32).places is None  # off by default
