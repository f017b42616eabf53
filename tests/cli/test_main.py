"""The command's frame (``cli/__init__.py``): parsing, exit codes, errors as one line naming the
flag at fault, what gRPC logs, a reader that goes away, Ctrl-C, and public imports only."""

from __future__ import annotations

import ast
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

import clarifai_workflow_predict
from clarifai_workflow_predict.cli import flag_for, ordinal
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT
from .conftest import Run
from .shell import URL, environment, finished, start, traceback_in_the_command, where

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "src" / "clarifai_workflow_predict" / "cli"


def dead_target() -> str:
    """A loopback port nothing listens on."""
    with LocalWorkflowServer() as server:
        target = server.target
    return target


def test_usage_errors_exit_2(run: Run) -> None:
    assert run("predict")[0] == 2
    assert run()[0] == 2
    code, _, err = run("bogus")
    assert code == 2 and "unknown command 'bogus'" in err
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("clarifai-workflow-predict ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "General", URL, "--timeout", "0"], "--timeout: must be more than 0 seconds"),
        (["predict", "General", URL, "--timeout", "soon"], "--timeout: not a number of seconds"),
        (["predict", "General", URL, "--max-concepts", "-3"], "must be from 1 to 10000, got -3"),
        (["predict", "General", URL, "--min-value", "2"], "--min-value: must be from 0 to 1"),
        (["predict", "General", URL, "--text", ""], "--text: a text input cannot be empty"),
        (["predict", "General", URL, "--no-such-option"], "unrecognized arguments"),
        (["predict", "", URL], "a workflow id cannot be empty"),
        (["bulk", "General", "in.txt"], "the following arguments are required: --out"),
        (["bulk", "General", "in.txt", "--out", "o", "--batch-size", "33"], "from 1 to 32"),
        (["bulk", "General", "in.txt", "--out", "o", "--max-concurrency", "0"], "from 1 to 1024"),
        (["bulk", "General", "in.txt", "--out", "o", "--rate-limit", "fast"], "'adaptive' or"),
        (["bulk", "General", "in.txt", "--out", "o", "--max-operations", "0"], "from 1 to"),
        (["serve", "--port", "99999"], "--port: must be from 0 to 65535"),
        (["serve", "--rate-limit", "-1"], "--rate-limit: must be more than 0"),
        (["serve", "--cold-start", "never"], "--cold-start: not a number"),
    ],
)
def test_bad_option_values_are_usage_errors(run: Run, argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == "" and message in err, err
    assert "max_concepts" not in err  # no protobuf wording


def test_options_may_come_anywhere_after_the_command(server: Any, run: Run) -> None:
    other = "https://samples.clarifai.com/dog2.jpeg"
    argv = ["--insecure", "--target", server.target, URL, "--pat", PAT, other]
    code, out, err = run("predict", "General", *argv, "--max-concepts", "2")
    assert code == 0, err
    assert f"[0] {URL}" in out and f"[1] {other}" in out
    assert server.requests[-1].output_config.max_concepts == 2


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["predict", "Nope", URL], 1, "error: NotFoundError: CONN_DOES_NOT_EXIST"),
        (["predict", "General", "/no/such/file.jpg"], 2, "cannot read input file"),
        (["predict", "General", "/"], 2, "cannot read input file '/': Is a directory"),
        (["predict", "General"], 2, "error: nothing to predict"),
        (["predict", "General", "ftp://example.com/a.jpg"], 2, "not an http(s) URL"),
        (["predict", "General", "htps://example.com/a.jpg"], 2, "not an http(s) URL"),
        (["predict", "General", URL, "--html", "/no/such/dir/r.html"], 2, "does not exist"),
        (["predict", "General", URL, "--html", "/tmp"], 2, "is a directory"),
    ],
)
def test_errors_are_one_plain_line_without_traceback(
    server: Any, run: Run, argv: list[str], code: int, message: str
) -> None:
    before = len(server.requests)
    got, out, err = run(*argv, *where(server))
    assert got == code and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in err and "unexpected" not in err
    if code == 2:
        assert len(server.requests) == before  # refused before any request


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        # The library's message, headed by the flag its InputError.param names, and the
        # command line's own advice where it has one.
        (
            ["--target", "10.1.2.3:50051", "--insecure"],
            ["error: --insecure: insecure=True would send the PAT", "add --allow-insecure-pat"],
        ),
        (["--target", "https://api.clarifai.com"], ["error: --target: target 'https://api"]),
        (
            ["--target", "127.0.0.1:1", "--insecure", "--user-id", "me"],
            ["error: --app-id: app_id is missing"],
        ),
        (["/no/such.png", "--target", "127.0.0.1:1", "--insecure"], ["error: the 2nd INPUT: "]),
    ],
)
def test_input_errors_name_the_flag_at_fault(run: Run, argv: list[str], named: list[str]) -> None:
    code, _, err = run("predict", "General", URL, "--pat", PAT, *argv)
    assert code == 2 and err.count("\n") == 1
    for words in named:
        assert words in err, err


def test_flags_are_named_from_the_param() -> None:
    assert flag_for("user_id") == "--user-id" and flag_for("workflow_id") == "WORKFLOW"
    assert flag_for("inputs[0]") == "the 1st INPUT" and flag_for("inputs[3]") == "the 4th INPUT"
    assert flag_for("inputs") == "INPUTS" and flag_for("channel") is None and flag_for(None) is None
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 112)] == [
        *("1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"),
        *("111th", "112th"),
    ]


def test_no_pat_for_a_remote_target_names_the_variable(run: Run, monkeypatch: Any) -> None:
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    code, _, err = run("predict", "General", URL)
    assert code == 2 and "error: --pat: " in err and "CLARIFAI_PAT" in err


def test_a_target_with_a_port_that_is_no_number_is_a_usage_error(run: Run) -> None:
    code, _, err = run("predict", "General", URL, "--target", "127.0.0.1:abc", "--insecure")
    assert code == 2 and "error: --target: " in err, err


def fail_with(server: Any, what: str) -> list[str]:
    """Make the next call to ``server`` fail as ``what`` says; returns the options to add."""
    if what == "deadline":
        server.latency = 2.0
        return ["--timeout", "0.3"]
    if what == "server-failed":
        server.fail_next(1, grpc_code=grpc.StatusCode.INTERNAL)
    return []


@pytest.mark.parametrize(
    ("what", "cause"),
    [
        ("tls-to-plaintext", "the TLS handshake failed (gRPC UNAVAILABLE"),
        ("unreachable", "cannot reach the server (gRPC UNAVAILABLE"),
        ("deadline", "requests took longer than --timeout 0.3 s; raise --timeout"),
        ("server-failed", "the server failed: gRPC INTERNAL: injected INTERNAL"),
    ],
)
def test_a_failed_call_names_its_real_cause(server: Any, run: Run, what: str, cause: str) -> None:
    options = where(server)
    if what == "tls-to-plaintext":
        options.remove("--insecure")
    elif what == "unreachable":
        options[1] = dead_target()
    try:
        code, _, err = run("predict", "General", URL, *options, *fail_with(server, what))
    finally:
        server.latency = 0
    assert code == 1 and err.count("\n") == 1 and cause in err, err
    hints = {"add --insecure": "tls", "check --target": "unreachable", "raise --timeout": "dead"}
    for hint, case in hints.items():
        assert (hint in err) == what.startswith(case), err  # each hint only for its cause


def test_a_wrong_pat_is_an_auth_error_that_does_not_echo_it(server: Any, run: Run) -> None:
    options = where(server)
    options[-1] = "wrong-secret-123"
    code, _, err = run("predict", "General", URL, *options)
    assert code == 1 and "AuthenticationError" in err and "wrong-secret-123" not in err


@pytest.mark.parametrize("debug", [False, True])
def test_debug_shows_tracebacks_and_debug_logs(server: Any, run: Run, debug: bool) -> None:
    server.fail_next(1, grpc_code=grpc.StatusCode.UNAVAILABLE)  # retried, which logs at DEBUG
    code, _, retried = run("predict", "General", URL, *where(server), *["--debug"] * debug)
    assert code == 0 and ("DEBUG clarifai_workflow_predict._retry" in retried) == debug
    code, _, err = run("predict", "Nope", URL, *where(server), *["--debug"] * debug)
    assert code == 1 and "NotFoundError" in err and PAT not in err
    assert ("Traceback" in err) == debug


def test_grpc_core_logs_are_quiet_unless_debug(server: Any) -> None:
    # TLS to the plaintext emulator: gRPC's C core logs each failed handshake at INFO.
    tls = ["predict", "General", URL, "--target", server.target, "--pat", PAT, "--timeout", "5"]
    quiet = finished(*tls)
    assert quiet.returncode == 1 and quiet.stderr.count("\n") == 1, quiet.stderr
    loud = finished(*tls, "--debug")
    assert loud.returncode == 1 and "Handshake failed" in loud.stderr, loud.stderr


@pytest.mark.parametrize("when", ["before-the-first-line", "after-the-first-line"])
def test_a_reader_that_goes_away_changes_nothing(server: Any, when: str) -> None:
    predict = ["predict", "General", URL, *where(server), "--json"]
    codes = set()
    for _ in range(3):
        if when == "before-the-first-line":  # every write fails with EPIPE
            read, write = os.pipe()
            os.close(read)
            try:
                done = start(*predict, stdout=write)
            finally:
                os.close(write)
            _, err = done.communicate(timeout=60)
            code = done.returncode
        else:  # `| head -1`: the pipe may close before, during or after the writes
            shell = subprocess.run(
                ["bash", "-c", '"$@" | head -1 >/dev/null; exit "${PIPESTATUS[0]}"', "bash"]
                + [sys.executable, "-m", "clarifai_workflow_predict", *predict],
                capture_output=True,
                text=True,
                timeout=60,
                env=environment(),
            )
            code, err = shell.returncode, shell.stderr
        assert err == "", err
        codes.add(code)
    assert codes == {0}  # the prediction succeeded, whoever read it


def test_ctrl_c_at_any_moment_of_start_up_exits_130_without_a_traceback(server: Any) -> None:
    # A slow answer keeps the command running until the signal comes.
    server.latency = 5.0
    rng = random.Random(7)
    try:
        for delay in [0.05 * n for n in range(1, 9)] + [rng.uniform(0, 0.4) for _ in range(4)]:
            process = start("predict", "General", URL, *where(server))
            time.sleep(delay)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=30)
            assert not traceback_in_the_command(err), (delay, err)
            if "Traceback" not in err:  # one from Python's start-up ends it as Python does
                # Before Python's own handler is in place, SIGINT ends it (-2), silently too.
                assert process.returncode in (130, -signal.SIGINT), (delay, err)
    finally:
        server.latency = 0


@pytest.mark.parametrize("first", ["ours", "handed-on"])
def test_a_ctrl_c_that_reaches_the_command_ends_it_at_once(first: str) -> None:
    # "handed-on": a handler that takes the first Ctrl-C and hands on the next, as
    # client.bulk's does; either way the command's handler ends the process, raising nothing.
    script = f"""
import signal
from clarifai_workflow_predict.cli import stop_at_once
signal.signal(signal.SIGINT, stop_at_once)
if {first == "handed-on"!r}:
    previous, taken = signal.getsignal(signal.SIGINT), []
    signal.signal(signal.SIGINT, lambda *a: previous(*a) if taken else taken.append(1))
    signal.raise_signal(signal.SIGINT)
    print("the first was taken")
signal.raise_signal(signal.SIGINT)
print("still running")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 130 and done.stderr == "\ninterrupted\n"
    assert done.stdout == ("the first was taken\n" if first == "handed-on" else "")


def test_start_up_loads_nothing_heavy_before_the_handler() -> None:
    probe = (
        "import sys, clarifai_workflow_predict.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('grpc', 'google', 'clarifai_grpc', 'argparse', 'logging')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_command_uses_only_public_names() -> None:
    public = set(clarifai_workflow_predict.__all__) | {"views", "testing", "compute", "errors"}
    public |= {"inputs"}
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.ImportFrom) and node.level == 2
            ):  # from clarifai_workflow_predict
                if node.module is None:
                    names = {alias.name for alias in node.names}
                    assert names <= public, (path.name, names - public)
                else:
                    assert not node.module.startswith("_"), (path.name, node.module)
            modules = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            ) + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for module in modules:
                assert not re.search(r"(^|\.)_[a-z]", module), (path.name, module)


def test_the_entry_point_and_python_m_run_main() -> None:
    assert (
        'clarifai-workflow-predict = "clarifai_workflow_predict.cli:main"'
        in (ROOT / "pyproject.toml").read_text()
    )
    script = Path(sys.executable).with_name("clarifai-workflow-predict")
    for command in ([str(script)], [sys.executable, "-m", "clarifai_workflow_predict"]):
        done = subprocess.run([*command, "--version"], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.startswith("clarifai-workflow-predict ")


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--pat", "secret-in-the-wrong-place"],  # demo takes no PAT
        ["demo", "--json", "--pat=secret-in-the-wrong-place"],
    ],
)
def test_usage_errors_never_quote_a_pat(run: Run, argv: list[str]) -> None:
    code, _, err = run(*argv)
    assert code == 2 and "error:" in err and "secret-in-the-wrong-place" not in err, err
