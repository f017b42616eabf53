"""predict_iter and the bulk command: order, bounded reading, failures in-band, resume."""

from __future__ import annotations

import asyncio
import json
import os
import re
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
    # One request at a time, so the injected failure meets the first request, not a later one.
    with WorkflowClient(
        PAT, target=server.target, insecure=True, batch_size=4, max_concurrency=1
    ) as client:
        server.fail_next(1, status_code=status_code_pb2.MODEL_PREDICTION_FAILED)
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


def bulk(server: Any, inputs: Path, out: Path, *extra: str, workflow: str = "General") -> int:
    return main(
        [
            "bulk",
            workflow,
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


def wrote(err: str) -> int:
    """The count the closing summary gives for this run's lines."""
    match = re.search(r"this run: wrote ([\d,]+) lines", err)
    assert match, err
    return int(match[1].replace(",", ""))


def test_bulk_writes_one_line_per_input_from_text_and_csv(
    server: Any, tmp_path: Path, capsys: Any, reference: dict
) -> None:
    text = tmp_path / "inputs.txt"
    text.write_text("# a comment\n" + "\n".join(urls(40)) + "\n\nhttps://fail.invalid/x.jpg\n")
    out = tmp_path / "out.jsonl"
    assert bulk(server, text, out, "--max-concepts", "5") == 3  # one input failed
    records = lines(out)
    assert [r["index"] for r in records] == list(range(41))
    assert [r["source"] for r in records] == [*urls(40), "https://fail.invalid/x.jpg"]
    assert all(
        isinstance(r["id"], str) and len(r["id"]) == 32 for r in records[:40]
    )  # the API's ids
    assert all(r["status"]["name"] == "SUCCESS" for r in records[:40])
    assert records[40]["status"]["code"] == status_code_pb2.INPUT_DOWNLOAD_FAILED
    assert records[0]["outputs"][0]["model_id"] == "general-image-recognition"
    assert list(records[0]) == ["index", "id", "source", "job", "status", "outputs"]
    assert records[0]["job"] == {
        "workflow_id": "General",
        "user_id": "",
        "app_id": "",
        "version_id": "",
        "output_config": {"max_concepts": 5},
    }
    err = capsys.readouterr().err
    assert wrote(err) == 41 and "SUCCESS 40" in err

    table = tmp_path / "inputs.csv"
    table.write_text("id,url\n" + "\n".join(f"row-{i},{u}" for i, u in enumerate(urls(10))) + "\n")
    out_csv = tmp_path / "csv.jsonl"
    assert bulk(server, table, out_csv) == 0
    assert [r["id"] for r in lines(out_csv)] == [f"row-{i}" for i in range(10)]


def test_resume_keeps_failures_and_retry_failed_runs_them_and_the_unrun(
    server: Any, tmp_path: Path, capsys: Any
) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(64)) + "\n")
    out = tmp_path / "out.jsonl"
    server.fail_next(1, status_code=status_code_pb2.MODEL_PREDICTION_FAILED)  # 32 inputs fail
    assert bulk(server, inputs, out, "--max-concurrency", "1") == 3
    assert sum(r["status"]["name"] != "SUCCESS" for r in lines(out)) == 32
    before = len(server.requests)
    assert bulk(server, inputs, out) == 3  # a plain rerun keeps the failed lines
    assert len(server.requests) == before and "--retry-failed" in capsys.readouterr().err
    with inputs.open("a") as f:
        f.write("\n".join(urls(10, 64)) + "\n")  # ten new inputs
    whole = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(whole[:60]))  # and four more lost, as if a run had stopped early
    capsys.readouterr()
    before = len(server.requests)
    assert bulk(server, inputs, out, "--retry-failed") == 0
    err = capsys.readouterr().err
    assert "14 inputs never ran" in err and wrote(err) == 32 + 14
    assert sum(len(r.inputs) for r in server.requests[before:]) == 46
    assert sorted(r["index"] for r in lines(out)) == list(range(74))
    assert all(r["status"]["name"] == "SUCCESS" for r in lines(out))


def other_inputs(inputs: Path, tmp_path: Path) -> list[str]:
    """Inputs files that differ from ``inputs`` (urls(3)) at index 0 or 1."""
    other = tmp_path / "other.txt"
    other.write_text("\n".join(urls(3, 100)) + "\n")  # the first mix-up in the issue
    shifted = tmp_path / "shifted.txt"
    shifted.write_text("\n".join([urls(1)[0], "https://example.com/inserted.jpg", *urls(3)[1:]]))
    return [str(other), str(shifted)]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("other-inputs", "other.txt has 'https://example.com/bulk/100.jpg'"),
        ("inserted-line", "shifted.txt has 'https://example.com/inserted.jpg'"),
        ("workflow", 'workflow "General", but this run has "Food"'),
        ("owner", '--user-id none, but this run has "someone"'),
        ("version", '--version-id none, but this run has "v2"'),
        (
            "output-config",
            'output settings (--max-concepts, --min-value) none, but this run has {"min_value": 0.5}',
        ),
        ("not-ours", "line 2 is not a result line written by bulk"),
        ("shorter-inputs", "short.txt has only 1 inputs"),
    ],
)
def test_resume_refuses_a_file_of_another_job_and_leaves_it_unchanged(
    server: Any, tmp_path: Path, change: str, named: str
) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(3)) + "\n")
    out = tmp_path / "out.jsonl"
    done = run_bulk(server.target, inputs, out)
    assert done.returncode == 0, done.stderr
    if change == "not-ours":
        out.write_bytes(out.read_bytes().replace(b"\n", b"\n{}\n", 1))
    before = out.read_bytes()
    args: list[str] = []
    source = inputs
    if change in ("other-inputs", "inserted-line"):
        source = Path(other_inputs(inputs, tmp_path)[change == "inserted-line"])
    elif change == "shorter-inputs":
        source = tmp_path / "short.txt"
        source.write_text(urls(1)[0] + "\n")
    elif change == "workflow":
        args = ["--workflow", "Food"]
    else:
        args = {
            "owner": ["--user-id", "someone", "--app-id", "main"],
            "version": ["--version-id", "v2"],
            "output-config": ["--min-value", "0.5"],
        }.get(change, [])
    refused = run_bulk(server.target, source, out, *args)
    assert refused.returncode == 2, refused.stderr
    assert named in refused.stderr and "--overwrite" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one plain line
    assert out.read_bytes() == before  # byte for byte
    if change != "not-ours":
        fresh = run_bulk(server.target, source, out, *args, "--overwrite")
        assert fresh.returncode == 0, fresh.stderr
        assert [r["source"] for r in lines(out)] == source.read_text().split()


def traced_interrupt(filename: str, at: int) -> Any:
    """A trace function that raises a real SIGINT at the ``at``-th line run in ``filename``
    (every line if ``at`` is 0, recording them in ``.seen``)."""
    seen: list[int] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            seen.append(frame.f_lineno)
            if len(seen) == at:
                signal.raise_signal(signal.SIGINT)
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == filename else None

    tracer.seen = seen  # type: ignore[attr-defined]
    return tracer


def test_an_interrupt_at_every_stage_of_the_write_loop_writes_no_line_twice(
    server: Any, tmp_path: Path, capsys: Any
) -> None:
    from clarifai_workflow_predict import _bulk

    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(20)) + "\n")
    small = ("--batch-size", "4", "--max-concurrency", "2")

    def run(out: Path, at: int) -> tuple[int, str, Any]:
        tracer = traced_interrupt(_bulk.__file__, at)
        sys.settrace(tracer)
        try:
            code = bulk(server, inputs, out, *small)
        finally:
            sys.settrace(None)
        return code, capsys.readouterr().err, tracer

    code, _, full = run(tmp_path / "full.jsonl", 0)
    assert code == 0
    events = full.seen
    # Each distinct line of the loop at its first run, and every 13th line run besides.
    stages = sorted({events.index(n) + 1 for n in set(events)} | set(range(1, len(events), 13)))
    assert len(stages) > 40
    outcomes = set()
    for at in stages:
        out = tmp_path / f"out-{at}.jsonl"
        code, err, _ = run(out, at)
        outcomes.add(code)
        assert code in (0, 130), err
        indexes = [r["index"] for r in lines(out)] if out.exists() else []
        assert len(indexes) == len(set(indexes)), f"a line written twice, interrupt at {at}"
        if "this run: wrote" in err:
            assert wrote(err) == len(indexes), f"summary off, interrupt at {at}: {err}"
        assert bulk(server, inputs, out, *small) == 0  # and the resume completes the file
        assert sorted(r["index"] for r in lines(out)) == list(range(20))
        capsys.readouterr()
    assert 130 in outcomes


def run_bulk(target: str, inputs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    workflow = "General"
    if "--workflow" in extra:
        at = extra.index("--workflow")
        workflow, extra = extra[at + 1], extra[:at] + extra[at + 2 :]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "clarifai_workflow_predict",
            "bulk",
            workflow,
            str(inputs),
            "--out",
            str(out),
            "--target",
            target,
            "--insecure",
            "--pat",
            PAT,
            "--no-progress",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )


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


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGINT, signal.SIGKILL])
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
        written = out.read_bytes().count(b"\n")
        if how == signal.SIGINT:
            assert process.returncode == 130 and "resume" in err
            assert all(json.loads(line) for line in out.read_text().splitlines())  # valid as left
            assert wrote(err) == written  # the summary counts exactly what landed
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
    capsys.readouterr()
    assert bulk(server, inputs, out) == 0
    err = capsys.readouterr().err
    assert "dropped a torn last line" in err and wrote(err) == 15
    assert sorted(r["index"] for r in lines(out)) == list(range(20))


def dead_target() -> str:
    """A loopback port nothing listens on."""
    with LocalWorkflowServer() as server:
        target = server.target
    return target


@pytest.mark.parametrize("where", ["unreachable", "tls-to-plaintext"])
def test_a_dead_target_stops_the_run_with_one_line_and_writes_nothing(
    server: Any, tmp_path: Path, where: str
) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("\n".join(urls(2000)) + "\n")
    out = tmp_path / "out.jsonl"
    command = [
        sys.executable,
        "-m",
        "clarifai_workflow_predict",
        "bulk",
        "General",
        str(inputs),
        "--out",
        str(out),
        "--pat",
        PAT,
        "--no-progress",
    ]
    if where == "unreachable":
        command += ["--target", dead_target(), "--insecure"]
    else:
        command += ["--target", server.target]  # TLS, to the plaintext emulator
    started = time.monotonic()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: stopped:")
    hint = "check --target" if where == "unreachable" else "add --insecure"
    assert hint in done.stderr
    assert out.read_bytes() == b""  # no failure line per input
    assert time.monotonic() - started < 60


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
