"""``_bulk``'s job without a server: reading inputs, the resume checks against a file, the
line it writes per result, duplicates, the budget, and the stop after transport failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import resources_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

from clarifai_workflow_predict import InputError, TransportError
from clarifai_workflow_predict._bulk import Job, JobMismatch, read_inputs, settings
from clarifai_workflow_predict._request import KEPT_BACK
from clarifai_workflow_predict._stream import _rejected
from clarifai_workflow_predict.models import failed_results, results

SETTINGS = settings("General", "u", "a", None, None, None)


def answer(index: int, status: int = status_code_pb2.SUCCESS) -> Any:
    """A converted result for input ``index``, with one successful output."""
    message = resources_pb2.WorkflowResult(
        id=f"r{index}",
        status=status_pb2.Status(code=status, description="d"),
        input=resources_pb2.Input(id=f"api-{index}"),
    )
    output = message.outputs.add(id="o", model=resources_pb2.Model(id="m"))
    output.status.code = status_code_pb2.SUCCESS
    return results([message])[0]


def run(job: Job, make: Any = answer, in_flight: int = 1) -> list[dict[str, Any]]:
    """Drive ``job`` as a client does, answering every input it sends with ``make``, up to
    ``in_flight`` of them sent before the oldest is answered; a duplicate it keeps back gets
    the failed result the stream gives it."""
    job.prepare()
    flying: list[tuple[int, bool]] = []

    def answered(index: int, kept: bool) -> Any:
        return _rejected(KEPT_BACK) if kept else make(index)

    for value in job.values():
        flying.append((job.pending[-1][0], value is KEPT_BACK))
        if len(flying) == in_flight:
            job.add(answered(*flying.pop(0)))
    for index, kept in flying:
        job.add(answered(index, kept))
    job.finish()
    job.close()
    return [json.loads(line) for line in job.out.read_text().splitlines()]


def test_inputs_come_from_a_text_file_a_csv_or_a_list(tmp_path: Path) -> None:
    text = tmp_path / "in.txt"
    text.write_text("# comment\nhttps://a.b/1.jpg\n\n  https://a.b/2.jpg  \n")
    assert list(read_inputs(text)) == [
        (0, None, "https://a.b/1.jpg"),
        (1, None, "https://a.b/2.jpg"),
    ]
    table = tmp_path / "in.csv"
    table.write_text("id,url\nx,https://a.b/1.jpg\n,https://a.b/2.jpg\n")
    assert list(read_inputs(table)) == [
        (0, "x", "https://a.b/1.jpg"),
        (1, None, "https://a.b/2.jpg"),
    ]
    assert list(read_inputs(["u1", "u2"])) == [(0, None, "u1"), (1, None, "u2")]
    (tmp_path / "bad.csv").write_text("name\nx\n")
    (tmp_path / "bytes.txt").write_bytes(b"\xff\xfe\x00")
    for bad in (tmp_path / "bad.csv", tmp_path / "bytes.txt", tmp_path / "missing.txt"):
        with pytest.raises(InputError) as caught:
            list(read_inputs(bad))
        assert caught.value.param == "inputs"


def test_a_line_per_input_in_the_documented_shape(tmp_path: Path) -> None:
    sources = [f"https://a.b/{i}.jpg" for i in range(5)]
    written = run(Job(sources, tmp_path / "out.jsonl", SETTINGS, batch_size=2))
    assert [list(line) for line in written] == [
        ["index", "id", "source", "job", "status", "outputs"]
    ] * 5
    assert [line["source"] for line in written] == sources
    assert written[3]["id"] == "api-3" and written[0]["job"] == SETTINGS


def test_a_resume_runs_what_is_missing_and_refuses_another_job(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sources = [f"https://a.b/{i}.jpg" for i in range(6)]
    run(Job(sources[:4], out, SETTINGS, batch_size=2))
    job = Job(sources, out, SETTINGS, batch_size=2)
    assert job.prepare() == 2 and job.total == 6
    before = out.read_bytes()
    for other, param in (
        (settings("Food", "u", "a", None, None, None), "workflow_id"),
        (settings("General", "u", "a", "v2", None, None), "version_id"),
        (settings("General", "u", "a", None, {"max_concepts": 2}, None), "output_config"),
    ):
        with pytest.raises(JobMismatch) as caught:
            Job(sources, out, other, batch_size=2).prepare()
        assert caught.value.param == param and out.read_bytes() == before
    with pytest.raises(JobMismatch) as caught:
        Job(["https://other/0.jpg", *sources[1:]], out, SETTINGS, batch_size=2).prepare()
    assert caught.value.param == "inputs" and out.read_bytes() == before
    with pytest.raises(JobMismatch):
        Job(sources[:2], out, SETTINGS, batch_size=2).prepare()  # fewer inputs than lines


def test_a_torn_last_line_is_dropped_and_repeated_lines_kept_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    sources = [f"https://a.b/{i}.jpg" for i in range(4)]
    run(Job(sources, out, SETTINGS, batch_size=4))
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join([*lines[:2], lines[1], lines[2][:20]]))  # repeated, then torn
    job = Job(sources, out, SETTINGS, batch_size=4)
    assert job.prepare() == 2
    assert [json.loads(line)["index"] for line in out.read_bytes().splitlines()] == [0, 1]


def test_duplicates_are_sent_once_and_written_under_their_own_place(tmp_path: Path) -> None:
    sources = ["https://a.b/x.jpg", "https://a.b/y.jpg", "https://a.b/x.jpg", "https://a.b/x.jpg"]
    job = Job(sources, tmp_path / "out.jsonl", SETTINGS, batch_size=1, dedupe=True)
    sent = []

    def make(index: int) -> Any:
        sent.append(index)
        return answer(index)

    written = run(job, make)
    assert sent == [0, 1]
    assert [(w["index"], w["source"]) for w in written] == list(enumerate(sources))
    assert written[2]["outputs"] == written[0]["outputs"] and written[3]["id"] == "api-0"
    assert job.summary().usage.operations == 2


def test_a_budget_stops_before_it_would_be_passed(tmp_path: Path) -> None:
    sources = [f"https://a.b/{i}.jpg" for i in range(10)]
    job = Job(sources, tmp_path / "a.jsonl", SETTINGS, batch_size=2, max_operations=7)
    job.per_input = 2  # the estimate is reserved while in flight, settled from the answer (1)
    assert len(run(job)) == 6 and job.summary().usage.operations == 6
    assert job.summary().budget_reached
    job = Job(sources, tmp_path / "b.jsonl", SETTINGS, batch_size=2, max_operations=7)
    job.per_input = 2
    assert len(run(job, in_flight=3)) == 4  # in flight, each input holds 2 of the 7


def test_three_requests_in_a_row_failing_in_transport_raise_their_error(tmp_path: Path) -> None:
    errors = [TransportError(grpc.StatusCode.UNAVAILABLE, f"down {k}") for k in range(3)]
    status = status_pb2.Status(code=status_code_pb2.FAILURE)

    def make(index: int) -> Any:
        return failed_results([""], status, errors[index // 2])[0]

    job = Job(
        [f"https://a.b/{i}.jpg" for i in range(8)], tmp_path / "o.jsonl", SETTINGS, batch_size=2
    )
    with pytest.raises(TransportError) as caught:
        run(job, make)
    assert caught.value is errors[2] and not (tmp_path / "o.jsonl").exists()
