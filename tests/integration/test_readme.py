"""The README's examples run as written, pointed at a loopback server."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import clarifai_workflow_predict
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..helpers import FakeServer

README = Path(__file__).resolve().parents[2] / "README.md"


def python_block(heading: str, containing: str = "") -> str:
    """The first python block under ``heading`` (the first with ``containing`` in it)."""
    text = README.read_text()
    section = text[text.index(heading) :]
    blocks = (m.group(1) for m in re.finditer(r"```python\n(.*?)```", section, re.S))
    block = next((b for b in blocks if containing in b), None)
    assert block, f"no python block under {heading}"
    return block


def point(monkeypatch: Any, name: str, target: str) -> None:
    """Make the package's client ``name`` connect to ``target`` in plaintext."""
    real = getattr(clarifai_workflow_predict, name)

    def pointed(*args: Any, **kwargs: Any) -> Any:
        return real(*args, target=target, insecure=True, **kwargs)

    monkeypatch.setattr(clarifai_workflow_predict, name, pointed)


def test_quick_start_runs_against_a_loopback_server(monkeypatch: Any) -> None:
    code = python_block("## Quick start")
    with FakeServer() as server:
        point(monkeypatch, "WorkflowClient", server.target)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(README), "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines == [
        "general-image-recognition [('https://samples.clarifai.com/metro-north.jpg', 0.5)]",
        "general-image-recognition [('a train in a station', 0.5)]",
    ]
    request = server.requests[0]
    assert request.user_app_id.user_id == "clarifai" and request.workflow_id == "General"
    assert server.metadata[0]["authorization"] == "Key YOUR_PAT"


def test_emulator_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(python_block("## Testing your own code"), str(README), "exec"), namespace)
    namespace["test_my_service_handles_a_flaky_api"]()


def test_async_quick_start_runs_against_a_loopback_server(monkeypatch: Any) -> None:
    code = python_block("## Async quick start")
    with FakeServer() as server:
        point(monkeypatch, "AsyncWorkflowClient", server.target)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(README), "exec"), {})
    assert out.getvalue().splitlines() == [
        "['https://samples.clarifai.com/metro-north.jpg']",
        "['https://samples.clarifai.com/dog2.jpeg']",
    ]
    assert {m["authorization"] for m in server.metadata} == {"Key YOUR_PAT"}


def test_pytest_fixtures_example_runs_as_a_users_test(pytester: Any) -> None:
    pytester.makepyfile(python_block("### pytest fixtures"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_targeting_example_runs_against_the_emulator(capsys: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(python_block("## Targeting"), str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith(
        "Received 2 parts: text 'What is in this image?'; "
        "image https://samples.clarifai.com/metro-north.jpg. "
    )
    (request,) = namespace["server"].requests
    assert (request.workflow_id, request.user_app_id.user_id, request.user_app_id.app_id) == (
        "Multimodal",
        "clarifai",
        "main",
    )
    deployment = request.node_runner_selectors["llm"].deployment
    assert (deployment.id, deployment.user_id) == ("my-gpu-deployment", "clarifai")
    assert len(request.inputs[0].data.parts) == 2
    assert request.inputs[1].settings.sample_rate_ms == 500


def test_bulk_example_runs_against_the_emulator(
    monkeypatch: Any, tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "urls.txt").write_text(
        "".join(f"https://example.com/{i}.jpg\n" for i in range(40))
        + "https://fail.invalid/x.jpg\n"
    )
    monkeypatch.chdir(tmp_path)
    with LocalWorkflowServer() as server:
        point(monkeypatch, "WorkflowClient", server.target)
        code = python_block("## Bulk: millions of inputs", "client.bulk(")
        exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "41/41 inputs\r" in printed  # the progress callback, after each written batch
    assert printed.splitlines()[-1] == "wrote 41 lines, 1 failed, 80 operations"
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 41
    assert {r.user_app_id.user_id for r in server.requests} == {"clarifai"}


def test_cost_example_prints_what_the_readme_says(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes out.jsonl where it runs
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python_block("## Cost"), str(README), "exec"), {})
    section = README.read_text().split("## Cost", 1)[1]
    printed = re.search(r"prints,.*?```\n(.*?)```", section, re.S)
    assert printed and out.getvalue() == printed.group(1)
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4
