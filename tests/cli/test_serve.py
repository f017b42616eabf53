"""``serve``: the emulator as a process; each option changes how it answers; Ctrl-C exits 130."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from clarifai_grpc.grpc.api import service_pb2

from clarifai_workflow_predict import AuthenticationError, ModelDeployingError, WorkflowClient
from clarifai_workflow_predict.testing import BUNDLED_FIXTURES

from .shell import URL, start


class Serving:
    """A ``serve`` process, its banner read: ``target``, and the banner's ``lines``."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        first = self.readline()
        self.target = first.split()[-1]
        self.lines = [first] + [self.readline() for _ in range(2)]

    def readline(self) -> str:
        return self.process.stdout.readline()  # type: ignore[union-attr]

    def stop(self, how: int = signal.SIGINT) -> tuple[int, str]:
        """Signal it; its exit code and what it printed after the banner."""
        self.process.send_signal(how)
        rest, _ = self.process.communicate(timeout=30)
        return self.process.returncode, rest


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(*options)``: a running ``serve`` process, stopped after the test."""
    running: list[Serving] = []

    def serve(*options: str) -> Serving:
        running.append(Serving(start("serve", *options)))
        return running[-1]

    yield serve
    for each in running:
        if each.process.poll() is None:
            each.process.kill()
            each.process.communicate()


def test_serve_answers_until_ctrl_c_which_exits_130(serve: Any) -> None:
    served = serve()
    assert served.target.startswith("127.0.0.1:")
    assert served.lines[0].startswith("clarifai-workflow-predict emulator listening on ")
    assert "General" in served.lines[1]
    assert served.lines[2].strip() == f"use it with: --target {served.target} --insecure"
    predict = start("predict", "Text", "--text", "hello", "--target", served.target, "--insecure")
    out, err = predict.communicate(timeout=60)
    assert predict.returncode == 0 and "sentiment-analysis" in out, err
    code, rest = served.stop()
    assert code == 130 and "emulator stopped" in rest


def test_sigterm_stops_it_with_exit_0(serve: Any) -> None:
    code, rest = serve().stop(signal.SIGTERM)
    assert code == 0 and "emulator stopped" in rest


def test_pat_accepts_only_that_pat(serve: Any) -> None:
    served = serve("--pat", "the-pat")
    assert "--pat <the PAT given to serve>" in served.lines[2]
    with WorkflowClient("the-pat", target=served.target, insecure=True) as client:
        assert client.predict("General", URL).ok
    with WorkflowClient("another", target=served.target, insecure=True) as client:
        with pytest.raises(AuthenticationError):
            client.predict("General", URL)


def test_port_binds_that_port_and_a_port_in_use_is_a_usage_error(serve: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    served = serve("--port", str(free))
    assert served.target == f"127.0.0.1:{free}"
    taken = start("serve", "--port", str(free))
    _, err = taken.communicate(timeout=30)
    assert taken.returncode == 2 and err.startswith(f"error: --port {free}: ") and "in use" in err


def test_fixtures_serves_the_workflows_of_a_directory(serve: Any, tmp_path: Path) -> None:
    shutil.copy(Path(BUNDLED_FIXTURES) / "Text.textproto", tmp_path / "Text.textproto")
    served = serve("--fixtures", str(tmp_path))
    assert served.lines[1].strip() == "workflows: Text"
    missing = start("serve", "--fixtures", str(tmp_path / "nope"))
    _, err = missing.communicate(timeout=30)
    assert missing.returncode == 2 and err.startswith("error: --fixtures: ")


def test_rate_limit_throttles_past_r_requests_per_second(serve: Any) -> None:
    served = serve("--rate-limit", "1")
    assert "rate limit: 1 requests per second per PAT" in served.readline()
    request = service_pb2.PostWorkflowResultsRequest(workflow_id="General")
    with WorkflowClient(target=served.target, insecure=True, retry=None, rate_limit=None) as client:
        # A burst of one second's worth: of three calls in a row, at most one is let through
        # unless the calls themselves take over a second each.
        answers = [client.predict_request(request).status.description for _ in range(3)]
    assert "Making too many requests" in answers


def test_cold_start_answers_model_deploying_at_first(serve: Any) -> None:
    served = serve("--cold-start", "60")
    assert "cold start: MODEL_DEPLOYING for 60 s" in served.readline()
    with WorkflowClient(target=served.target, insecure=True, retry=None) as client:
        with pytest.raises(ModelDeployingError):
            client.predict("General", URL)
