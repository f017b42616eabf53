"""``client.bulk`` from Python, on both clients: the job the command runs, as a library call."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from clarifai_workflow_predict import (
    BulkSummary,
    DeadlineExceededError,
    InputError,
    NotFoundError,
    TransportError,
    Usage,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..clients import Harness
from ..conftest import FAST_RETRY, PAT


def urls(count: int, start: int = 0) -> list[str]:
    return [f"https://example.com/api/{i}.jpg" for i in range(start, start + count)]


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


def client(harness: Harness, server: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("retry", FAST_RETRY)
    return harness.client(PAT, target=server.target, insecure=True, **kwargs)


def bulk(harness: Harness, c: Any, *args: Any, **kwargs: Any) -> BulkSummary:
    return harness.run(c.real.bulk(*args, **kwargs))


def test_bulk_writes_a_line_per_input_from_a_list_or_a_file_and_summarizes(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    sources = [*urls(40), "https://fail.invalid/x.jpg"]
    seen: list[BulkSummary] = []
    with client(harness, server, batch_size=8) as c:
        summary = bulk(harness, c, "General", sources, tmp_path / "a.jsonl", progress=seen.append)
        listed = tmp_path / "inputs.txt"
        listed.write_text("\n".join(sources) + "\n")
        from_file = bulk(harness, c, "General", str(listed), tmp_path / "b.jsonl")
    assert summary == from_file or (summary.total, summary.written) == (41, 41)
    assert (summary.total, summary.written, summary.done, summary.failed) == (41, 41, 41, 1)
    assert summary.statuses == {"SUCCESS": 40, "INPUT_FAILED": 1}
    assert summary.usage.operations == 80 and summary.usage.by_model == {
        "general-image-recognition": 40,
        "general-image-embedding": 40,
    }
    assert not summary.budget_reached
    written = lines(tmp_path / "a.jsonl")
    assert [r["index"] for r in written] == list(range(41))
    assert [r["source"] for r in written] == sources
    assert written == lines(tmp_path / "b.jsonl")
    assert seen and [s.written for s in seen] == sorted(s.written for s in seen)
    assert seen[-1].written == 41


def test_a_rerun_resumes_and_a_mismatch_raises_input_error_leaving_the_file(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    with client(harness, server) as c:
        first = bulk(harness, c, "General", urls(10), out)
        again = bulk(harness, c, "General", urls(12), out)
        assert (first.written, again.written, again.done) == (10, 2, 12)
        before = out.read_bytes()
        for kwargs, param in (
            ({"version_id": "v2"}, "version_id"),
            ({"output_config": {"max_concepts": 3}}, "output_config"),
            ({"user_id": "someone", "app_id": "app"}, "user_id"),
        ):
            with pytest.raises(InputError) as caught:
                bulk(harness, c, "General", urls(12), out, **kwargs)
            assert caught.value.param == param and out.read_bytes() == before
        with pytest.raises(InputError) as caught:
            bulk(harness, c, "General", urls(12, start=1), out)
        assert caught.value.param == "inputs" and out.read_bytes() == before
        fresh = bulk(harness, c, "Food", urls(3), out, overwrite=True)
        assert fresh.done == 3 and [r["job"]["workflow_id"] for r in lines(out)] == ["Food"] * 3


def test_three_requests_in_a_row_failing_in_transport_stop_with_that_error(
    harness: Harness, tmp_path: Path
) -> None:
    with LocalWorkflowServer(pat=PAT) as server:
        server.fail_randomly(1.0, grpc_codes=(grpc.StatusCode.INTERNAL,))
        out = tmp_path / "out.jsonl"
        with client(harness, server, batch_size=4, max_concurrency=1) as c:
            with pytest.raises(TransportError) as caught:
                bulk(harness, c, "General", urls(40), out)
        assert caught.value.grpc_code is grpc.StatusCode.INTERNAL
        assert len(server.requests) == 3 and not out.exists()  # nothing written for them
        server.latency = 1.0
        server.fail_randomly(0.0)
        with client(harness, server, batch_size=4, max_concurrency=1, timeout=0.2) as c:
            with pytest.raises(DeadlineExceededError):
                bulk(harness, c, "General", urls(40), out)


def test_answered_lines_are_written_when_a_later_request_breaks_the_run(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    with client(harness, server, batch_size=4) as c:
        with pytest.raises(NotFoundError):
            bulk(harness, c, "Nope", urls(8), out)
        assert not out.exists()  # a job that writes no line leaves no file


def test_bad_arguments_raise_input_error_naming_them_before_anything_is_sent(
    harness: Harness, server: Any, tmp_path: Path
) -> None:
    calls = len(server.requests)
    with client(harness, server) as c:
        for args, kwargs, param in (
            (("General", iter(urls(2)), tmp_path / "o"), {}, "inputs"),
            (("General", str(tmp_path / "missing.txt"), tmp_path / "o"), {}, "inputs"),
            (("General", urls(2), tmp_path), {}, "out"),
            (("General", urls(2), tmp_path / "o"), {"progress": 3}, "progress"),
            (("General", urls(2), tmp_path / "o"), {"sample_ms": -1}, "sample_ms"),
            (("General", urls(2), tmp_path / "o"), {"retry_failed": "yes"}, "retry_failed"),
        ):
            with pytest.raises(InputError) as caught:
                bulk(harness, c, *args, **kwargs)
            assert caught.value.param == param
    assert len(server.requests) == calls


def test_ctrl_c_stops_the_sync_job_at_a_safe_point_and_a_rerun_completes_it(
    server: Any, tmp_path: Path
) -> None:
    from clarifai_workflow_predict import WorkflowClient

    out = tmp_path / "out.jsonl"
    server.latency = 0.05
    seen: list[BulkSummary] = []

    def interrupt_soon() -> None:
        deadline = time.monotonic() + 30
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    try:
        with WorkflowClient(PAT, target=server.target, insecure=True, batch_size=4) as c:
            threading.Thread(target=interrupt_soon, daemon=True).start()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                c.bulk("General", urls(400), out, progress=seen.append)
            assert time.monotonic() - started < 20
            kept = [r["index"] for r in lines(out)]
            assert kept == sorted(set(kept)) and 0 < len(kept) < 400
            summary = c.bulk("General", urls(400), out)
        assert summary.done == 400 and sorted(r["index"] for r in lines(out)) == list(range(400))
    finally:
        server.latency = 0.0


def test_summary_and_usage_types() -> None:
    assert BulkSummary(1, 1, 1, 0, {"SUCCESS": 1}).usage == Usage()
    total = Usage(1, 2, 3, 4, {"m": 1}) + Usage(2, 0, 0, 0, {"m": 2, "n": 1})
    assert total == Usage(3, 2, 3, 4, {"m": 3, "n": 1})
