"""The command line: predict, serve and demo, in-process and as real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clarifai_workflow_predict.cli import main
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT

URL = "https://samples.clarifai.com/metro-north.jpg"


@pytest.fixture(scope="module")
def server() -> Any:
    with LocalWorkflowServer(pat=PAT) as running:
        yield running


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def predict_args(
    server: LocalWorkflowServer, *extra: str, inputs: tuple[str, ...] = (URL,)
) -> list[str]:
    return [
        "predict",
        "General",
        *inputs,
        "--target",
        server.target,
        "--insecure",
        "--pat",
        PAT,
        *extra,
    ]


def test_predict_prints_a_table_per_input(server: Any, capsys: Any) -> None:
    other = "https://samples.clarifai.com/dog2.jpeg"
    code, out, err = run(capsys, *predict_args(server, "--max-concepts", "3", inputs=(URL, other)))
    assert code == 0 and err == ""
    assert out.startswith(f"[0] {URL}\n")
    assert "MODEL" in out and "PREDICTION" in out and "SCORE" in out
    assert "general-image-recognition" in out and "embedding, 512 dimensions" in out
    assert f"[1] {other}\n" in out
    block = out.split("\n\n")[0].splitlines()
    concept_rows = [
        line
        for line in block[2:]
        if not line.strip().startswith(("general-image-embedding", "embedding"))
    ]
    assert len(concept_rows) == 3
    assert server.requests[-1].output_config.max_concepts == 3
    # A text input is shown by its text (to Text: General takes images, as the API's does).
    where = ("--target", server.target, "--insecure", "--pat", PAT)
    code, out, err = run(capsys, "predict", "Text", "--text", "hi there", *where)
    assert code == 0 and out.startswith("[0] text 'hi there'\n")


def test_predict_json_is_the_prediction_dict(server: Any, capsys: Any) -> None:
    code, out, _ = run(capsys, *predict_args(server, "--json", "--min-value", "0.5"))
    data = json.loads(out)
    assert code == 0 and data["workflow_id"] == "General"
    assert all(c["value"] >= 0.5 for c in data["results"][0]["outputs"][0]["concepts"])


def test_predict_shows_regions_and_text(server: Any, capsys: Any) -> None:
    base = ["--target", server.target, "--insecure", "--pat", PAT]
    code, out, _ = run(capsys, "predict", "OCR", URL, *base)
    assert code == 0 and "region '" in out
    assert re.search(r"box top 0\.\d\d left 0\.\d\d bottom 0\.\d\d right 0\.\d\d", out)
    code, out, _ = run(capsys, "predict", "Detection", URL, *base)
    assert code == 0 and "region " in out


def test_predict_reads_files_and_falls_back_to_the_environment(
    server: Any, capsys: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    monkeypatch.setenv("CLARIFAI_PAT", PAT)
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", server.target)
    monkeypatch.setenv("CLARIFAI_USER_ID", "clarifai")
    monkeypatch.setenv("CLARIFAI_APP_ID", "main")
    code, out, _ = run(capsys, "predict", "General", str(image), "--insecure")
    assert code == 0 and f"[0] {image}" in out
    sent = server.requests[-1]
    assert sent.inputs[0].data.image.base64 == image.read_bytes()
    assert sent.user_app_id.user_id == "clarifai"


def test_failed_inputs_exit_3(server: Any, capsys: Any) -> None:
    code, out, err = run(capsys, *predict_args(server, inputs=(URL, "https://fail.invalid/a.jpg")))
    assert code == 3 and "failed: INPUT_FAILED" in out and "1 of 2 inputs failed" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["predict", "Nope", URL], 1, "error: NotFoundError: CONN_DOES_NOT_EXIST"),
        (["predict", "General", "/no/such/file.jpg"], 2, "error: cannot read input file"),
        (["predict", "General", "/"], 2, "error: cannot read input file '/': Is a directory"),
        (["predict", "General"], 2, "error: nothing to predict"),
        (["predict", "General", "ftp://example.com/a.jpg"], 2, "error: not an http(s) URL"),
        (["predict", "General", "htps://example.com/a.jpg"], 2, "error: not an http(s) URL"),
        (["predict", "General", URL, "--html", "/no/such/dir/r.html"], 2, "does not exist"),
        (["predict", "General", URL, "--html", "/tmp"], 2, "is a directory"),
    ],
)
def test_errors_are_one_plain_line_without_traceback(
    server: Any, capsys: Any, argv: list[str], code: int, message: str
) -> None:
    before = len(server.requests)
    got, out, err = run(capsys, *argv, "--target", server.target, "--insecure", "--pat", PAT)
    assert got == code and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert "unexpected" not in err
    if code == 2:
        assert len(server.requests) == before  # refused before any request


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--timeout", "0"], "argument --timeout: must be more than 0 seconds"),
        (["--timeout", "soon"], "argument --timeout: not a number of seconds"),
        (["--max-concepts", "-3"], "argument --max-concepts: must be from 1 to 10000, got -3"),
        (["--min-value", "2"], "argument --min-value: must be from 0 to 1"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_bad_option_values_are_usage_errors(
    server: Any, capsys: Any, extra: list[str], message: str
) -> None:
    code, out, err = run(capsys, *predict_args(server, *extra))
    assert code == 2 and out == "" and message in err
    assert "max_concepts" not in err  # no protobuf wording


def test_an_empty_workflow_id_is_a_usage_error(capsys: Any) -> None:
    code, _, err = run(capsys, "predict", "", URL, "--target", "127.0.0.1:1", "--insecure")
    assert code == 2 and "a workflow id cannot be empty" in err


def test_options_may_come_anywhere_after_the_command(server: Any, capsys: Any) -> None:
    code, out, err = run(
        capsys,
        "predict",
        "General",
        "--insecure",
        "--target",
        server.target,
        URL,
        "--pat",
        PAT,
        "https://samples.clarifai.com/dog2.jpeg",
        "--max-concepts",
        "2",
    )
    assert code == 0, err
    assert f"[0] {URL}" in out and "[1] https://samples.clarifai.com/dog2.jpeg" in out
    assert server.requests[-1].output_config.max_concepts == 2


@pytest.mark.parametrize(
    ("argv", "flag_words"),
    [
        (
            ["--target", "10.1.2.3:50051", "--insecure"],
            ["--insecure would send", "--allow-insecure-pat"],
        ),
        (
            ["--target", "https://api.clarifai.com"],
            ["--target 'https://api.clarifai.com' is a URL"],
        ),
        (["--target", "127.0.0.1:1", "--insecure", "--user-id", "me"], ["--app-id is missing"]),
    ],
)
def test_messages_name_flags_not_python_keywords(
    capsys: Any, argv: list[str], flag_words: list[str]
) -> None:
    code, _, err = run(capsys, "predict", "General", URL, "--pat", PAT, *argv)
    assert code == 2
    for words in flag_words:
        assert words in err
    assert not re.search(r"\w=True|\w=\b|Input\.|pathlib|user_id|app_id", err), err


def test_no_pat_for_a_remote_target_names_the_variable(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    code, _, err = run(capsys, "predict", "General", URL)
    assert code == 2 and "CLARIFAI_PAT" in err and "--pat" in err


def test_tls_to_a_plaintext_server_suggests_insecure(server: Any, capsys: Any) -> None:
    fast = ["--timeout", "10"]
    code, _, err = run(
        capsys, "predict", "General", URL, "--target", server.target, "--pat", PAT, *fast
    )
    assert code == 1 and "handshake" in err.lower() and "add --insecure" in err


def test_json_keeps_each_vector_on_one_line(server: Any, capsys: Any) -> None:
    code, out, _ = run(capsys, *predict_args(server, "--json"))
    assert code == 0
    vector_lines = [line for line in out.splitlines() if '"vector": [' in line]
    assert len(vector_lines) == 1 and vector_lines[0].rstrip().endswith("],")
    data = json.loads(out)
    assert len(data["results"][0]["outputs"][1]["embeddings"][0]["vector"]) == 512
    assert out.count("\n") < 400  # 512 numbers did not take a line each


def test_wrong_pat_is_an_auth_error_that_does_not_echo_it(server: Any, capsys: Any) -> None:
    code, _, err = run(
        capsys,
        "predict",
        "General",
        URL,
        "--target",
        server.target,
        "--insecure",
        "--pat",
        "wrong-secret-123",
    )
    assert code == 1 and "AuthenticationError" in err and "wrong-secret-123" not in err


def test_debug_shows_the_traceback(server: Any, capsys: Any) -> None:
    code, _, err = run(
        capsys,
        "predict",
        "Nope",
        URL,
        "--target",
        server.target,
        "--insecure",
        "--pat",
        PAT,
        "--debug",
    )
    assert code == 1 and "Traceback" in err and "NotFoundError" in err and PAT not in err


def test_usage_errors_exit_2(capsys: Any) -> None:
    assert main(["predict"]) == 2
    assert main([]) == 2
    assert main(["bogus"]) == 2 and "unknown command 'bogus'" in capsys.readouterr().err
    assert main(["serve", "--port", "99999"]) == 2 and "--port" in capsys.readouterr().err
    assert main(["serve", "--fixtures", "/no/such/dir"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--version"]) == 0


def test_predict_writes_an_html_report(server: Any, capsys: Any, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, out, err = run(capsys, *predict_args(server, "--html", str(page)))
    assert code == 0 and out.startswith("[0] ") and f"wrote {page}" in err
    assert (
        page.read_text().startswith("<!doctype html>")
        and "general-image-recognition" in page.read_text()
    )


def test_demo_runs_offline(capsys: Any, tmp_path: Path) -> None:
    report = tmp_path / "demo-report.html"
    code, out, err = run(capsys, "demo", "--report", str(report))
    from clarifai_workflow_predict.cli import DEMO_CALLS

    inputs = sum(len(samples) for _, _, samples in DEMO_CALLS)
    assert f"Report: {report}" in out and report.read_text().count("<article") == inputs
    assert code == 0, err
    for workflow, _, _ in DEMO_CALLS:
        assert f"== {workflow}:" in out
    assert "failed: INPUT_FAILED" in out  # the fail.invalid sample, by design
    assert "no network needed" in out


def _cli(*argv: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "GRPC_VERBOSITY": "ERROR"}
    return subprocess.Popen(
        [sys.executable, "-m", "clarifai_workflow_predict", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def test_serve_then_predict_as_processes() -> None:
    serve = _cli("serve", "--pat", PAT)
    try:
        first = serve.stdout.readline()  # type: ignore[union-attr]
        target = first.split()[-1]
        assert first.rstrip().endswith(target) and target.startswith("127.0.0.1:")
        serve.stdout.readline()  # type: ignore[union-attr]  # the workflows
        usage = serve.stdout.readline()  # type: ignore[union-attr]
        assert f"--target {target} --insecure --pat" in usage
        predict = _cli(
            "predict",
            "Text",
            "--text",
            "hello",
            "--target",
            target,
            "--insecure",
            "--pat",
            PAT,
            "--json",
        )
        out, err = predict.communicate(timeout=60)
        assert predict.returncode == 0, err
        assert json.loads(out)["results"][0]["outputs"][0]["model_id"] == "sentiment-analysis"
    finally:
        serve.send_signal(signal.SIGINT)
        rest, _ = serve.communicate(timeout=30)
    assert serve.returncode == 0 and "emulator stopped" in rest
