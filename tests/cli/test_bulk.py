"""``bulk``: each option reaches ``client.bulk`` or the client; the summary, the stops and their
exit codes; Ctrl-C, once or twice, never a line twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict.cli import EXIT_INTERRUPTED
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT
from .conftest import Run
from .shell import lines, start, traceback_in_the_command, urls, where, wrote

VIDEO = "https://samples.clarifai.com/beer.mp4"


def bulk(run: Run, server: Any, inputs: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    """``bulk General INPUTS --out OUT`` against ``server``, in this process."""
    workflow = "General"
    if "--workflow" in extra:  # another workflow, named like an option to keep calls short
        at = extra.index("--workflow")
        workflow, extra = extra[at + 1], extra[:at] + extra[at + 2 :]
    argv = ["bulk", workflow, str(inputs), "--out", str(out), *where(server), "--no-progress"]
    return run(*argv, *extra)


def inputs_file(tmp_path: Path, values: list[str], name: str = "inputs.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(values) + "\n")
    return path


def test_one_line_per_input_from_text_and_csv(server: Any, run: Run, tmp_path: Path) -> None:
    text = tmp_path / "inputs.txt"
    text.write_text("# a comment\n" + "\n".join(urls(40)) + "\n\nhttps://fail.invalid/x.jpg\n")
    out = tmp_path / "out.jsonl"
    code, _, err = bulk(run, server, text, out, "--max-concepts", "5")
    assert code == 3 and "1 inputs failed; rerun with --retry-failed" in err
    records = lines(out)
    assert [r["index"] for r in records] == list(range(41))
    assert [r["source"] for r in records] == [*urls(40), "https://fail.invalid/x.jpg"]
    assert all(r["status"]["name"] == "SUCCESS" for r in records[:40])
    assert records[40]["status"]["code"] == status_code_pb2.INPUT_DOWNLOAD_FAILED
    assert records[0]["job"]["output_config"] == {"max_concepts": 5}
    assert server.requests[-1].output_config.max_concepts == 5
    # The summary: what this run wrote and used (General has 2 models: 2 operations an input).
    assert wrote(err) == 41 and "used 80 operations, 0 tokens (an estimate)" in err
    assert f"{out}: 41 lines (SUCCESS 40, INPUT_FAILED 1)" in err

    table = tmp_path / "inputs.csv"
    table.write_text("id,url\n" + "\n".join(f"row-{i},{u}" for i, u in enumerate(urls(10))) + "\n")
    out_csv = tmp_path / "csv.jsonl"
    assert bulk(run, server, table, out_csv)[0] == 0
    assert [r["id"] for r in lines(out_csv)] == [f"row-{i}" for i in range(10)]


@pytest.mark.parametrize("content", ["", "# only a comment\n\n"])
def test_no_inputs_is_a_usage_error_and_writes_no_file(
    server: Any, run: Run, tmp_path: Path, content: str
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(content)
    out = tmp_path / "out.jsonl"
    before = len(server.requests)
    code, _, err = bulk(run, server, empty, out)
    assert code == 2 and err == f"error: nothing to predict: {empty} holds no inputs\n"
    assert not out.exists() and len(server.requests) == before


def test_an_unknown_workflow_fails_and_leaves_no_file(
    server: Any, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    code, _, err = bulk(run, server, inputs_file(tmp_path, urls(5)), out, "--workflow", "Nope")
    assert code == 1 and err.startswith("error: NotFoundError: ") and err.count("\n") == 1
    assert not out.exists()


def test_resume_keeps_failures_and_retry_failed_runs_them_and_the_unrun(
    server: Any, run: Run, tmp_path: Path
) -> None:
    inputs = inputs_file(tmp_path, urls(64))
    out = tmp_path / "out.jsonl"
    server.fail_next(1, status_code=status_code_pb2.MODEL_PREDICTION_FAILED)  # 32 inputs fail
    assert bulk(run, server, inputs, out, "--max-concurrency", "1")[0] == 3
    assert sum(r["status"]["name"] != "SUCCESS" for r in lines(out)) == 32
    before = len(server.requests)
    code, _, err = bulk(run, server, inputs, out)  # a plain rerun keeps the failed lines
    assert code == 3 and len(server.requests) == before and "--retry-failed" in err
    with inputs.open("a") as f:
        f.write("\n".join(urls(10, 64)) + "\n")  # ten new inputs
    whole = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(whole[:60]))  # and four more lost, as if a run had stopped early
    before = len(server.requests)
    code, _, err = bulk(run, server, inputs, out, "--retry-failed")
    assert code == 0
    # The library's INFO record, shown as a note.
    assert "note: 14 inputs never ran" in err and wrote(err) == 32 + 14
    assert sum(len(r.inputs) for r in server.requests[before:]) == 46
    assert sorted(r["index"] for r in lines(out)) == list(range(74))
    assert all(r["status"]["name"] == "SUCCESS" for r in lines(out))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # The library's words, headed by the flag the mismatch's param names.
        ("other-inputs", "error: INPUTS: "),
        ("inserted-line", "error: INPUTS: "),
        ("workflow", 'error: WORKFLOW: {out} was written with workflow_id "General", but'),
        ("owner", 'error: --user-id: {out} was written with user_id none, but this run has "some'),
        ("version", "error: --version-id: {out} was written with version_id none, but this"),
        ("output-config", "error: --max-concepts/--min-value: {out} was written with output_c"),
        ("not-ours", "error: --out: {out} line 2 is not a result line written by bulk"),
        ("shorter-inputs", "error: INPUTS: "),
    ],
)
def test_resume_refuses_a_file_of_another_job_and_leaves_it_unchanged(
    server: Any, run: Run, tmp_path: Path, change: str, named: str
) -> None:
    inputs = inputs_file(tmp_path, urls(3))
    out = tmp_path / "out.jsonl"
    assert bulk(run, server, inputs, out)[0] == 0
    if change == "not-ours":
        out.write_bytes(out.read_bytes().replace(b"\n", b"\n{}\n", 1))
    before = out.read_bytes()
    source = {
        "other-inputs": inputs_file(tmp_path, urls(3, 100), "other.txt"),
        "inserted-line": inputs_file(
            tmp_path, [urls(1)[0], "https://example.com/inserted.jpg", *urls(3)[1:]], "shifted.txt"
        ),
        "shorter-inputs": inputs_file(tmp_path, urls(1), "short.txt"),
    }.get(change, inputs)
    args = {
        "workflow": ["--workflow", "Food"],
        "owner": ["--user-id", "someone", "--app-id", "main"],
        "version": ["--version-id", "v2"],
        "output-config": ["--min-value", "0.5"],
    }.get(change, [])
    code, _, err = bulk(run, server, source, out, *args)
    assert code == 2 and err.count("\n") == 1  # one plain line
    assert err.startswith(named.format(out=out)), err
    assert err.endswith("; use another --out, or --overwrite to start the file afresh\n")
    assert out.read_bytes() == before  # byte for byte
    if change != "not-ours":
        assert bulk(run, server, source, out, *args, "--overwrite")[0] == 0
        assert [r["source"] for r in lines(out)] == source.read_text().split()


def test_owner_version_output_and_sample_ms_reach_the_job_and_the_requests(
    server: Any, run: Run, tmp_path: Path
) -> None:
    inputs = inputs_file(tmp_path, [VIDEO, urls(1)[0]])
    out = tmp_path / "out.jsonl"
    settings = ["--user-id", "clarifai", "--app-id", "main", "--version-id", "v3"]
    settings += ["--min-value", "0.25", "--sample-ms", "600"]
    code, _, err = bulk(run, server, inputs, out, *settings)
    assert code == 0, err
    assert lines(out)[0]["job"] == {
        "workflow_id": "General",
        "user_id": "clarifai",
        "app_id": "main",
        "version_id": "v3",
        "output_config": {"min_value": 0.25},
        "sample_ms": 600,
    }
    sent = server.requests[-1]
    assert (sent.user_app_id.user_id, sent.user_app_id.app_id, sent.version_id) == (
        "clarifai",
        "main",
        "v3",
    )
    assert sent.output_config.min_value == 0.25
    assert [i.settings.sample_rate_ms for i in sent.inputs] == [600, 0]  # the video alone


def test_batch_size_sets_the_inputs_per_request(server: Any, run: Run, tmp_path: Path) -> None:
    before = len(server.requests)
    inputs = inputs_file(tmp_path, urls(10))
    assert bulk(run, server, inputs, tmp_path / "out.jsonl", "--batch-size", "4")[0] == 0
    assert sorted(len(r.inputs) for r in server.requests[before:]) == [2, 4, 4]


def test_max_concurrency_bounds_the_requests_in_flight(
    server: Any, run: Run, tmp_path: Path
) -> None:
    inputs = inputs_file(tmp_path, urls(8))
    server.latency = 0.25
    try:
        started = time.monotonic()
        code, _, _ = bulk(
            run,
            server,
            inputs,
            tmp_path / "out.jsonl",
            "--batch-size",
            "1",
            "--max-concurrency",
            "1",
        )
        took = time.monotonic() - started
    finally:
        server.latency = 0
    assert code == 0
    assert took >= 8 * 0.25  # one request at a time; four at once (the default) take 0.5 s


def test_rate_limit_paces_the_requests(run: Run, tmp_path: Path) -> None:
    # The emulator allows 20 requests per second (a burst of 20); paced at 10, the job is
    # never throttled. Unpaced ("adaptive", the default) it outgrows the limit within a second.
    inputs = inputs_file(tmp_path, urls(60))
    with LocalWorkflowServer(pat=PAT, rate_limit=20) as limited:
        argv = ["--batch-size", "1", "--rate-limit", "10"]
        code, _, err = bulk(run, limited, inputs, tmp_path / "out.jsonl", *argv)
        assert code == 0, err
        assert len(limited.requests) == 60 and limited.throttled == 0


def test_dedupe_sends_each_distinct_input_once(server: Any, run: Run, tmp_path: Path) -> None:
    inputs = inputs_file(tmp_path, urls(5) * 4)
    before = len(server.requests)
    code, _, err = bulk(run, server, inputs, tmp_path / "out.jsonl", "--dedupe")
    assert code == 0, err
    assert sum(len(r.inputs) for r in server.requests[before:]) == 5
    records = lines(tmp_path / "out.jsonl")
    assert [r["index"] for r in records] == list(range(20))
    assert [r["outputs"] for r in records[5:10]] == [r["outputs"] for r in records[:5]]
    assert "used 10 operations" in err  # a copy costs nothing


def test_max_operations_stops_at_the_budget_and_a_rerun_goes_on(
    server: Any, run: Run, tmp_path: Path
) -> None:
    inputs = inputs_file(tmp_path, urls(40))
    out = tmp_path / "out.jsonl"
    budget = ["--max-operations", "20", "--batch-size", "4"]  # 2 operations an input
    code, _, err = bulk(run, server, inputs, out, *budget)
    assert code == 4, err
    assert err.splitlines()[-1] == (
        "stopped at the budget of 20 operations (--max-operations); rerun to go on: each run "
        "spends up to its own --max-operations"
    )
    assert 0 < len(lines(out)) <= 10 and "used 20 operations" in err
    code, _, err = bulk(run, server, inputs, out)
    assert code == 0 and sorted(r["index"] for r in lines(out)) == list(range(40))


def test_timeout_bounds_each_attempt_and_a_failing_server_is_named(
    server: Any, run: Run, tmp_path: Path
) -> None:
    inputs = inputs_file(tmp_path, urls(8))
    small = ["--batch-size", "2", "--max-concurrency", "1"]
    server.latency = 2.0
    try:
        code, _, err = bulk(
            run, server, inputs, tmp_path / "slow.jsonl", *small, "--timeout", "0.3"
        )
    finally:
        server.latency = 0
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: stopped: requests took longer than --timeout 0.3 s")
    server.fail_next(3, grpc_code=grpc.StatusCode.INTERNAL)
    code, _, err = bulk(run, server, inputs, tmp_path / "broken.jsonl", *small)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: stopped: the server failed: gRPC INTERNAL: injected INTERNAL")
    assert not (tmp_path / "slow.jsonl").exists() and not (tmp_path / "broken.jsonl").exists()


def dead_target() -> str:
    """A loopback port nothing listens on."""
    with LocalWorkflowServer() as server:
        target = server.target
    return target


@pytest.mark.parametrize("where_to", ["unreachable", "tls-to-plaintext"])
def test_a_dead_target_stops_the_run_with_one_line_and_writes_nothing(
    server: Any, run: Run, tmp_path: Path, where_to: str
) -> None:
    inputs = inputs_file(tmp_path, urls(2000))
    out = tmp_path / "out.jsonl"
    argv = ["bulk", "General", str(inputs), "--out", str(out), "--pat", PAT, "--no-progress"]
    if where_to == "unreachable":
        argv += ["--target", dead_target(), "--insecure"]
    else:
        argv += ["--target", server.target]  # TLS, to the plaintext emulator
    code, _, err = run(*argv)
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: stopped: "), err
    assert ("check --target" if where_to == "unreachable" else "add --insecure") in err
    assert not out.exists()  # no failure line per input


@pytest.mark.parametrize("allowed", [False, True])
def test_allow_insecure_pat_lets_the_pat_go_in_plaintext(
    run: Run, tmp_path: Path, allowed: bool
) -> None:
    # 192.0.2.0/24 is for documentation: nothing answers there, so an allowed job stops late.
    inputs = inputs_file(tmp_path, urls(3))
    argv = ["bulk", "General", str(inputs), "--out", str(tmp_path / "out.jsonl"), "--pat", PAT]
    argv += ["--target", "192.0.2.1:1", "--insecure", "--timeout", "0.3", "--batch-size", "1"]
    code, _, err = run(*argv, *["--allow-insecure-pat"] * allowed)
    assert (code, "--allow-insecure-pat" in err) == ((1, False) if allowed else (2, True)), err


class Terminal:
    """A stderr that says it is a terminal, recording what is written to it."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("terminal", "flag", "shown"),
    [
        (True, None, True),
        (True, "--no-progress", False),
        (False, None, False),
        (False, "--progress", True),
    ],
)
def test_the_progress_line_shows_on_a_terminal_unless_told(
    server: Any, tmp_path: Path, monkeypatch: Any, terminal: bool, flag: str | None, shown: bool
) -> None:
    from clarifai_workflow_predict.cli import main

    stderr = Terminal()
    stderr.isatty = lambda: terminal  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", stderr)
    argv = ["bulk", "General", str(inputs_file(tmp_path, urls(6))), "--out", str(tmp_path / "o")]
    assert main([*argv, *where(server), "--batch-size", "2", *[flag] * (flag is not None)]) == 0
    drawn = [text for text in stderr.written if text.startswith("\r")]
    assert bool(drawn) == shown
    if shown:
        assert drawn[-1].startswith("\r6/6 inputs ") and "12 operations, 0 tokens" in drawn[-1]


def test_a_torn_last_line_is_dropped_on_resume(server: Any, run: Run, tmp_path: Path) -> None:
    inputs = inputs_file(tmp_path, urls(20))
    out = tmp_path / "out.jsonl"
    assert bulk(run, server, inputs, out)[0] == 0
    whole = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(whole[:5]) + whole[5][: len(whole[5]) // 2])  # killed mid-write
    code, _, err = bulk(run, server, inputs, out)
    assert code == 0 and "note: " in err and "dropped a torn last line" in err
    assert wrote(err) == 15 and sorted(r["index"] for r in lines(out)) == list(range(20))


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
    server: Any, run: Run, tmp_path: Path
) -> None:
    from clarifai_workflow_predict import _bulk

    inputs = inputs_file(tmp_path, urls(20))
    # Unpaced: the slow start of the default pacing would add half a second to each run.
    small = ("--batch-size", "4", "--max-concurrency", "2", "--rate-limit", "none")

    def interrupted(out: Path, at: int) -> tuple[int, str, Any]:
        tracer = traced_interrupt(_bulk.__file__, at)
        sys.settrace(tracer)
        try:
            code, _, err = bulk(run, server, inputs, out, *small)
        finally:
            sys.settrace(None)
        return code, err, tracer

    code, _, full = interrupted(tmp_path / "full.jsonl", 0)
    assert code == 0
    events = full.seen
    # Each distinct line of the loop at its first run, and every 13th line run besides.
    stages = sorted({events.index(n) + 1 for n in set(events)} | set(range(1, len(events), 13)))
    assert len(stages) > 40
    outcomes = set()
    for at in stages:
        out = tmp_path / f"out-{at}.jsonl"
        code, err, _ = interrupted(out, at)
        outcomes.add(code)
        assert code in (0, 130), err
        indexes = [r["index"] for r in lines(out)] if out.exists() else []
        assert len(indexes) == len(set(indexes)), f"a line written twice, interrupt at {at}"
        if "this run: wrote" in err:
            assert wrote(err) == len(indexes), f"summary off, interrupt at {at}: {err}"
        assert bulk(run, server, inputs, out, *small)[0] == 0  # and the resume completes it
        assert sorted(r["index"] for r in lines(out)) == list(range(20))
    assert 130 in outcomes


def bulk_process(server: Any, inputs: Path, out: Path) -> subprocess.Popen[str]:
    argv = ["bulk", "General", str(inputs), "--out", str(out), *where(server), "--no-progress"]
    return start(*argv, "--batch-size", "8", "--max-concurrency", "2")


def wait_for_lines(out: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError("the bulk run did not get far enough")


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGINT] * 2, [signal.SIGKILL]])
def test_a_run_stopped_halfway_then_resumed_has_exactly_one_line_per_input(
    server: Any, tmp_path: Path, signals: list[int]
) -> None:
    inputs = inputs_file(tmp_path, urls(200))
    out = tmp_path / "out.jsonl"
    server.latency = 0.02
    try:
        process = bulk_process(server, inputs, out)
        wait_for_lines(out, 40, process)
        for each in signals:
            process.send_signal(each)
        _, err = process.communicate(timeout=60)
        written = out.read_bytes().count(b"\n")
        assert all(json.loads(line) for line in out.read_text().splitlines())  # valid as left
        if signals[0] == signal.SIGINT:
            assert process.returncode == 130 and "Traceback" not in err, err
        if signals == [signal.SIGINT]:  # stopped at a safe point: the summary, and the advice
            assert "resume" in err and wrote(err) == written  # exactly what landed
        assert 40 <= written < 200
        resumed = bulk_process(server, inputs, out)
        _, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
    finally:
        server.latency = 0
    indexes = [r["index"] for r in lines(out)]
    assert sorted(indexes) == list(range(200))  # every input exactly once
    assert all(r["status"]["name"] == "SUCCESS" for r in lines(out))


def ending(err: str) -> str:
    """How an interrupted bulk run ended, from what it said."""
    at_once = err.endswith("\ninterrupted\n")
    if "this run: wrote" in err or "run the same command again to resume" in err:
        return "stopped at a safe point" + (", then at once by the next Ctrl-C" if at_once else "")
    if at_once:
        return "ended at once"
    return "other: " + err[-200:] if err else "ended silently"


@pytest.mark.soak
def test_soak_back_to_back_ctrl_c_on_a_busy_machine_never_hangs_or_writes_a_line_twice(
    tmp_path: Path,
) -> None:
    """``kill -INT $pid $pid $pid`` after a random delay, on a run of 3,000 URLs against
    ``serve``, beside two busy loops; five interrupted runs resume each file.
    ``CLI_SOAK_RUNS`` sets the number of runs."""
    runs = int(os.environ.get("CLI_SOAK_RUNS", "60"))
    inputs = inputs_file(tmp_path, urls(3000))
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    serving = start("serve")
    rng = random.Random(2024)
    codes: Counter[int] = Counter()
    endings: Counter[str] = Counter()
    hangs = duplicates = torn = early = 0
    unexpected: list[str] = []
    slowest = 0.0
    try:
        target = serving.stdout.readline().split()[-1]  # type: ignore[union-attr]
        for run in range(runs):
            out = tmp_path / f"out-{run // 5}.jsonl"
            argv = ["bulk", "General", str(inputs), "--out", str(out), "--target", target]
            process = start(*argv, "--insecure", "--no-progress")
            time.sleep(rng.uniform(0, 2.5))
            subprocess.run(["kill", "-INT", *[str(process.pid)] * 3], check=False)
            signalled = time.monotonic()
            try:
                _, err = process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                hangs += 1
                process.kill()
                _, err = process.communicate()
            slowest = max(slowest, time.monotonic() - signalled)
            written = out.read_bytes().split(b"\n") if out.exists() else [b""]
            torn += written[-1] != b""
            indexes = [json.loads(line)["index"] for line in written[:-1]]
            duplicates += len(indexes) - len(set(indexes))
            if "Traceback" in err and not traceback_in_the_command(err):
                early += 1  # in Python's own start-up, before the command's handler
                continue
            codes[process.returncode] += 1
            endings[ending(err)] += 1
            if "Traceback" in err or process.returncode not in (
                0,
                EXIT_INTERRUPTED,
                -signal.SIGINT,
            ):
                unexpected.append(f"exit {process.returncode}: {err}")
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()
        serving.send_signal(signal.SIGINT)
        serving.communicate(timeout=30)
    print(
        f"{runs} runs: exit codes {dict(codes)}; {dict(endings)}; {hangs} hangs; "
        f"{duplicates} duplicate lines; "
        f"{torn} torn lines; {len(unexpected)} unexpected endings, {early} tracebacks from Python's "
        f"start-up before it; the slowest ended {slowest:.2f} s after the signals"
    )
    assert hangs == duplicates == torn == 0 and not unexpected, unexpected
