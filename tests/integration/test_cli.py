"""The command line: predict, serve and demo, in-process and as real processes."""

from __future__ import annotations

import json
import os
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
    code, out, err = run(capsys, *predict_args(server, "--max-concepts", "3", "--text", "hi there"))
    assert code == 0 and err == ""
    assert out.startswith(f"[0] {URL}\n")
    assert "MODEL" in out and "PREDICTION" in out and "SCORE" in out
    assert "general-image-recognition" in out and "embedding, 512 dimensions" in out
    assert "[1] text 'hi there'" in out
    block = out.split("\n\n")[0].splitlines()
    concept_rows = [
        line
        for line in block[2:]
        if not line.strip().startswith(("general-image-embedding", "embedding"))
    ]
    assert len(concept_rows) == 3
    assert server.requests[-1].output_config.max_concepts == 3


def test_predict_json_is_the_prediction_dict(server: Any, capsys: Any) -> None:
    code, out, _ = run(capsys, *predict_args(server, "--json", "--min-value", "0.5"))
    data = json.loads(out)
    assert code == 0 and data["workflow_id"] == "General"
    assert all(c["value"] >= 0.5 for c in data["results"][0]["outputs"][0]["concepts"])


def test_predict_shows_regions_and_text(server: Any, capsys: Any) -> None:
    base = ["--target", server.target, "--insecure", "--pat", PAT]
    code, out, _ = run(capsys, "predict", "OCR", URL, *base)
    assert code == 0 and "region '" in out and "box [" in out
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
    ("argv", "message"),
    [
        (["predict", "Nope", URL], "NotFoundError: WORKFLOW_DOES_NOT_EXIST"),
        (["predict", "General", "/no/such/file.jpg"], "InputError: cannot read input file"),
        (["predict", "General"], "nothing to predict"),
    ],
)
def test_errors_are_one_line_without_traceback(
    server: Any, capsys: Any, argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv, "--target", server.target, "--insecure", "--pat", PAT)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


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
    with pytest.raises(SystemExit) as caught:
        main(["predict"])
    assert caught.value.code == 2
    assert main([]) == 2


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
    assert f"Report: {report}" in out and report.read_text().count("<article") == 7  # one per input
    assert code == 0, err
    for workflow in ("General", "Detection", "OCR", "Text"):
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
