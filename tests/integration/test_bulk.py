"""predict_iter and the bulk command: order, bounded reading, failures in-band, resume."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    AuthenticationError,
    InputError,
    NotFoundError,
    WorkflowClient,
)
from clarifai_workflow_predict.cli import main
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT


def urls(count: int, start: int = 0) -> list[str]:
    return [f"https://example.com/bulk/{i}.jpg" for i in range(start, start + count)]


class Counted:
    """An iterable that records how far it has been read."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values
        self.read = 0

    def __iter__(self) -> Iterator[Any]:
        for value in self.values:
            self.read += 1
            yield value


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


@pytest.fixture(scope="module")
def reference(server: Any) -> dict[str, str]:
    with WorkflowClient(PAT, target=server.target, insecure=True) as client:
        return {
            u: r.id
            for u, r in zip(urls(300), client.predict("General", urls(300)).results, strict=True)
        }


def test_predict_iter_yields_in_order_and_reads_lazily(server: Any, reference: dict) -> None:
    source = Counted(urls(300))
    with WorkflowClient(
        PAT, target=server.target, insecure=True, batch_size=10, max_concurrency=3
    ) as client:
        results = client.predict_iter("General", source)
        assert source.read == 0  # nothing is read before the first result is asked for
        first = next(results)
        assert source.read <= 3 * 10 + 10  # at most the window, plus the chunk being read
        rest = list(results)
    assert [first.id, *(r.id for r in rest)] == [reference[u] for u in urls(300)]


def test_predict_iter_reports_bad_inputs_and_failed_requests_in_band(server: Any) -> None:
    values = [
        *urls(5),
        42,
        "not a url",
        "https://fail.invalid/x.jpg",
        Path("/no/such.png"),
        *urls(5, 5),
    ]
    with WorkflowClient(PAT, target=server.target, insecure=True, batch_size=4) as client:
        server.fail_next(
            1, status_code=status_code_pb2.MODEL_PREDICTION_FAILED
        )  # the first request
        results = list(client.predict_iter("General", iter(values)))
    names = [r.status.name for r in results]
    assert len(results) == len(values)
    assert names[:4] == ["MODEL_PREDICTION_FAILED"] * 4
    assert names[4] == "SUCCESS"
    assert names[5:9] == [
        "INPUT_INVALID_ARGUMENT",
        "INPUT_INVALID_ARGUMENT",
        "INPUT_FAILED",
        "INPUT_INVALID_ARGUMENT",
    ]
    assert "inputs[5]" in results[5].status.description and "not sent" in results[5].status.details
    assert names[9:] == ["SUCCESS"] * 5


def test_predict_iter_raises_for_auth_and_not_found_and_bad_arguments(server: Any) -> None:
    with WorkflowClient("wrong", target=server.target, insecure=True) as wrong:
        with pytest.raises(AuthenticationError):
            list(wrong.predict_iter("General", urls(100)))
    with WorkflowClient(PAT, target=server.target, insecure=True, batch_size=10) as client:
        done = []
        with pytest.raises(NotFoundError):
            for result in client.predict_iter("Nope", urls(50)):
                done.append(result)
        assert done == []
        for bad in (
            lambda: client.predict_iter("", urls(2)),
            lambda: client.predict_iter("General", 42),
        ):
            with pytest.raises(InputError):
                bad()  # at the call, before any input is read


def test_stopping_early_cancels_and_leaves_the_client_usable(server: Any) -> None:
    endless = (f"https://example.com/endless/{i}.jpg" for i in itertools.count())
    with WorkflowClient(
        PAT, target=server.target, insecure=True, batch_size=8, max_concurrency=2
    ) as client:
        taken = list(itertools.islice(client.predict_iter("General", endless), 20))
        assert len(taken) == 20
        assert client.predict("General", urls(1)).ok


def test_closing_the_client_mid_stream_ends_it_clearly(server: Any) -> None:
    client = WorkflowClient(
        PAT, target=server.target, insecure=True, batch_size=4, max_concurrency=2
    )
    seen = []
    with pytest.raises(RuntimeError, match="closed"):
        for result in client.predict_iter("General", urls(100)):
            seen.append(result)
            if len(seen) == 1:
                client.close()
    # What finished before the close came through; nothing else escaped but the clear error.
    assert 1 <= len(seen) <= 8 and all(r.ok or r.status.details for r in seen)


def test_async_predict_iter(server: Any, reference: dict) -> None:
    async def run() -> list[str]:
        async with AsyncWorkflowClient(
            PAT, target=server.target, insecure=True, batch_size=16, max_concurrency=4
        ) as client:
            source = Counted(urls(200))
            ids = []
            async for result in client.predict_iter("General", source):
                ids.append(result.id)
                assert source.read <= len(ids) + 4 * 16 + 16
            with pytest.raises(NotFoundError):
                async for _ in client.predict_iter("Nope", urls(10)):
                    pass
            return ids

    assert asyncio.run(run()) == [reference[u] for u in urls(200)]


# --- the bulk command ----------------------------------------------------------------------


def bulk(server: Any, inputs: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "bulk",
            "General",
            str(inputs),
            "--out",
            str(out),
            "--target",
            server.target,
            "--insecure",
            "--pat",
            PAT,
            "--no-progress",
            *extra,
        ]
    )


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_bulk_writes_one_line_per_input_from_text_and_csv(
    server: Any, tmp_path: Path, capsys: Any, reference: dict
) -> None:
    text = tmp_path / "inputs.txt"
    text.write_text("# a comment\n" + "\n".join(urls(40)) + "\n\nhttps://fail.invalid/x.jpg\n")
    out = tmp_path / "out.jsonl"
    assert bulk(server, text, out) == 3  # one input failed
    records = lines(out)
    assert [r["index"] for r in records] == list(range(41))
    assert all(
        isinstance(r["id"], str) and len(r["id"]) == 32 for r in records[:40]
    )  # the API's ids
    assert all(r["status"]["name"] == "SUCCESS" for r in records[:40])
    assert records[40]["status"]["code"] == status_code_pb2.INPUT_DOWNLOAD_FAILED
    assert records[0]["outputs"][0]["model_id"] == "general-image-recognition"
    assert "SUCCESS 40" in capsys.readouterr().err

    table = tmp_path / "inputs.csv"
    table.write_text("id,url\n" + "\n".join(f"row-{i},{u}" for i, u in enumerate(urls(10))) + "\n")
    out_csv = tmp_path / "csv.jsonl"
    assert bulk(server, table, out_csv) == 0
    assert [r["id"] for r in lines(out_csv)] == [f"row-{i}" for i in range(10)]


def test_bulk_resume_and_retry_failed(server: Any, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(64)) + "\n")
    out = tmp_path / "out.jsonl"
    server.fail_next(1, status_code=status_code_pb2.MODEL_PREDICTION_FAILED)  # 32 inputs fail
    assert bulk(server, inputs, out, "--max-concurrency", "1") == 3
    assert sum(r["status"]["name"] != "SUCCESS" for r in lines(out)) == 32
    with inputs.open("a") as f:
        f.write("\n".join(urls(10, 64)) + "\n")  # ten new inputs, never run
    before = len(server.requests)
    assert bulk(server, inputs, out, "--retry-failed") == 0
    sent = sum(len(r.inputs) for r in server.requests[before:])
    assert sent == 32  # only the failed ones
    assert sorted(r["index"] for r in lines(out)) == list(range(64))
    assert bulk(server, inputs, out) == 0  # the new ones, and nothing twice
    assert sorted(r["index"] for r in lines(out)) == list(range(74))
    assert all(r["status"]["name"] == "SUCCESS" for r in lines(out))


def run_bulk_process(target: str, inputs: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clarifai_workflow_predict",
            "bulk",
            "General",
            str(inputs),
            "--out",
            str(out),
            "--target",
            target,
            "--insecure",
            "--pat",
            PAT,
            "--batch-size",
            "8",
            "--max-concurrency",
            "2",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )


def wait_for_lines(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError("the bulk run did not get far enough")


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_a_run_killed_halfway_then_resumed_has_exactly_one_line_per_input(
    server: Any, tmp_path: Path, how: int
) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(200)) + "\n")
    out = tmp_path / "out.jsonl"
    server.latency = 0.02
    try:
        process = run_bulk_process(server.target, inputs, out)
        wait_for_lines(out, 40, process)
        process.send_signal(how)
        _, err = process.communicate(timeout=60)
        if how == signal.SIGINT:
            assert process.returncode == 130 and "resume" in err
            assert all(json.loads(line) for line in out.read_text().splitlines())  # valid as left
        written = out.read_bytes().count(b"\n")
        assert 40 <= written < 200
        resumed = run_bulk_process(server.target, inputs, out)
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
    finally:
        server.latency = 0
    indexes = [r["index"] for r in lines(out)]
    assert sorted(indexes) == list(range(200))  # every input exactly once
    assert all(r["status"]["name"] == "SUCCESS" for r in lines(out))


def test_a_torn_last_line_is_dropped_on_resume(server: Any, tmp_path: Path, capsys: Any) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(20)) + "\n")
    out = tmp_path / "out.jsonl"
    assert bulk(server, inputs, out) == 0
    whole = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(whole[:5]) + whole[5][: len(whole[5]) // 2])  # killed mid-write
    assert bulk(server, inputs, out) == 0
    assert "skipping a line that is not a whole result" in capsys.readouterr().err
    assert sorted(r["index"] for r in lines(out)) == list(range(20))


def test_bulk_memory_stays_flat_as_inputs_grow() -> None:
    script = Path(__file__).resolve().parents[2] / "bench" / "bulk_memory.py"
    done = subprocess.run(
        [sys.executable, str(script), "1000", "6000"], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    peaks = [
        float(line.split("peak RSS ")[1].split(" MiB")[0].replace(",", ""))
        for line in done.stdout.splitlines()
    ]
    assert len(peaks) == 2 and all("exit 0" in line for line in done.stdout.splitlines())
    assert peaks[1] < peaks[0] + 25  # six times the inputs, about the same memory
