"""Cost: operations and tokens counted, duplicates sent once, budgets that stop a job; through
both clients against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clarifai_workflow_predict import Input, Usage
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..clients import Harness
from ..conftest import FAST_RETRY, PAT

VIDEO = "https://samples.clarifai.com/beer.mp4"


def urls(count: int, start: int = 0) -> list[str]:
    return [f"https://example.com/cost/{i}.jpg" for i in range(start, start + count)]


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


def client(harness: Harness, server: Any, **kwargs: Any) -> Any:
    return harness.client(PAT, target=server.target, insecure=True, retry=FAST_RETRY, **kwargs)


def sent(server: Any, since: int) -> list[str]:
    """The image URLs (or ids of others) of every input sent since request ``since``."""
    return [
        i.data.image.url or i.data.video.url or i.id
        for request in server.requests[since:]
        for i in request.inputs
    ]


def test_usage_counts_each_output_that_succeeded_frames_for_video_and_tokens(
    harness: Harness, server: Any
) -> None:
    with client(harness, server) as c:
        images = c.predict("General", [*urls(3), "https://fail.invalid/x.jpg"])
        video = c.predict("General", Input.from_url(VIDEO, "video", sample_ms=500))
        llm = c.predict("LLM", [Input.from_text("Describe a station."), Input.from_text("Hi.")])
    assert images.usage.operations == 6  # 3 inputs x 2 nodes; the failed input costs nothing
    assert images.usage.by_model == {"general-image-recognition": 3, "general-image-embedding": 3}
    frames = len(video.results[0].outputs[0].frames)
    assert frames == 6 and video.usage.by_model["general-image-recognition"] == frames
    outputs = [r.outputs[0] for r in llm.results]
    assert llm.usage == Usage(
        2,
        sum(o.prompt_tokens for o in outputs),
        sum(o.completion_tokens for o in outputs),
        sum(o.cached_tokens for o in outputs),
        {"llm-chat": 2},
    )
    assert llm.usage.prompt_tokens > 0 and llm.to_dict()["usage"]["operations"] == 2


def test_the_table_json_and_html_show_what_a_prediction_used(server: Any) -> None:
    from clarifai_workflow_predict import WorkflowClient, views

    with WorkflowClient(PAT, target=server.target, insecure=True) as c:
        llm = c.predict("LLM", Input.from_text("Describe a station."))
    spent = llm.usage
    tokens = f"prompt {spent.prompt_tokens:,}, completion {spent.completion_tokens:,}"
    line = f"used: 1 operation (llm-chat 1); {tokens}"
    assert views.table(llm).splitlines()[-1].startswith(line)
    assert views.table(llm).endswith(", an estimate")
    assert f"Used: 1 operation (llm-chat 1); {tokens}" in views.html(llm)
    assert json.loads(views.json_text(llm.to_dict()))["usage"] == {
        "operations": 1,
        "prompt_tokens": spent.prompt_tokens,
        "completion_tokens": spent.completion_tokens,
        "cached_tokens": spent.cached_tokens,
        "by_model": {"llm-chat": 1},
    }


def test_dedupe_sends_each_distinct_input_once_and_every_input_keeps_its_place(
    harness: Harness, server: Any
) -> None:
    inputs = [*urls(30), *urls(30), Input.from_url(urls(1)[0], id="own"), *urls(5, start=100)]
    with client(harness, server) as c:
        before = len(server.requests)
        plain = c.predict("General", inputs)
        once = len(server.requests)
        deduped = c.predict("General", inputs, dedupe=True)
        sent_once = sent(server, once)
        stream_start = len(server.requests)
        streamed = list(c.predict_iter("General", inputs, dedupe=True))
    assert len(sent(server, before)[: len(inputs)]) == len(inputs)
    assert sorted(sent_once) == sorted(set(urls(30) + urls(5, start=100)))
    assert [r.input_id for r in deduped.results][60] == "own"
    for got, want in zip(deduped.results, plain.results, strict=True):
        assert got.outputs == want.outputs and got.status == want.status
    assert deduped.usage.operations == 2 * 35 and plain.usage.operations == 2 * len(inputs)
    assert [r.outputs for r in streamed] == [r.outputs for r in plain.results]
    assert len(sent(server, stream_start)) < len(inputs)  # duplicates in flight were not sent


def test_inputs_whose_settings_differ_are_not_merged(harness: Harness, server: Any) -> None:
    inputs = [
        Input.from_url(VIDEO, "video", sample_ms=500),
        Input.from_url(VIDEO, "video", sample_ms=1000),
        Input.from_url(urls(1)[0], metadata={"a": 1}),
        Input.from_url(urls(1)[0], metadata={"a": 2}),
    ]
    with client(harness, server) as c:
        since = len(server.requests)
        c.predict("General", inputs, dedupe=True)
    assert len(sent(server, since)) == 4


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_bulk_dedupe_writes_a_line_per_input_sending_each_distinct_once(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    sources = [*urls(20), *urls(20), *urls(10)]  # half of it duplicates
    with client(harness, server, batch_size=8) as c:
        since = len(server.requests)
        summary = harness.run(c.real.bulk("General", sources, tmp_path / "d.jsonl", dedupe=True))
        sent_inputs = sent(server, since)
        harness.run(c.real.bulk("General", sources, tmp_path / "p.jsonl"))
    assert sorted(sent_inputs) == sorted(urls(20))
    deduped, plain = lines(tmp_path / "d.jsonl"), lines(tmp_path / "p.jsonl")
    assert sorted(r["index"] for r in deduped) == list(range(50))
    by_index = {r["index"]: r for r in deduped}
    for want in plain:
        got = by_index[want["index"]]
        assert (got["source"], got["status"], got["outputs"]) == (
            want["source"],
            want["status"],
            want["outputs"],
        )
    assert summary.written == 50 and summary.usage.operations == 2 * 20


def test_bulk_dedupe_writes_a_long_run_of_duplicates_as_it_reads_them(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    # Each duplicate gets its line in its turn, a batch at a time: none waits for the end of
    # the inputs (or for a request to send), so a million duplicates hold no more than eight.
    sources = [*urls(8), *urls(8) * 50]
    written: list[int] = []
    with client(harness, server, batch_size=8) as c:
        summary = harness.run(
            c.real.bulk(
                "General",
                sources,
                tmp_path / "d.jsonl",
                dedupe=True,
                progress=lambda s: written.append(s.written),
            )
        )
    assert summary.written == len(sources) == written[-1]
    steps = [b - a for a, b in zip([0, *written[:-1]], written, strict=True)]
    assert max(steps) <= 8, steps


def test_a_budget_stops_at_or_under_it_and_a_rerun_with_more_finishes(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    with client(harness, server, batch_size=4, max_concurrency=3) as c:
        first = harness.run(c.real.bulk("General", urls(60), out, max_operations=25))
        assert first.budget_reached and first.usage.operations <= 25
        assert first.usage.operations >= 20  # stopped at the budget, not long before it
        kept = [r["index"] for r in lines(out)]
        assert len(kept) == first.written == first.usage.operations // 2
        second = harness.run(c.real.bulk("General", urls(60), out, max_operations=1000))
    assert not second.budget_reached and second.done == 60
    assert sorted(r["index"] for r in lines(out)) == list(range(60))  # none lost or doubled
