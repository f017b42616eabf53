"""The exception tree's own rules: every ``InputError`` names the argument at fault, errors
cross process boundaries intact, and gRPC failures map to typed errors in one place."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from clarifai_workflow_predict import (
    Input,
    InputError,
    RetryPolicy,
    WorkflowClient,
    compute,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "clarifai_workflow_predict"


def test_every_input_error_the_library_raises_names_its_param() -> None:
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "InputError"
                and not any(k.arg == "param" for k in node.keywords)
            ):
                missing.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert missing == []


@pytest.mark.parametrize(
    ("make", "param"),
    [
        (lambda: WorkflowClient(timeout=-1, target="127.0.0.1:1", insecure=True), "timeout"),
        (lambda: WorkflowClient(pat="a b", target="127.0.0.1:1", insecure=True), "pat"),
        (lambda: WorkflowClient(user_id="u", target="127.0.0.1:1", insecure=True), "app_id"),
        (lambda: WorkflowClient(target="x:1", insecure=True, pat="p"), "insecure"),
        (lambda: WorkflowClient(target="https://a.b", pat="p"), "target"),
        (lambda: Input.from_url("ftp://x"), "url"),
        (lambda: Input.from_text(""), "text"),
        (lambda: Input.from_url("https://a.b/v.mp4", "video", sample_ms=0), "sample_ms"),
        (lambda: Input.from_parts(["ok", ""]), "parts[1]"),
        (lambda: RetryPolicy(jitter=2), "jitter"),
        (lambda: compute.nodepool("n", compute_cluster_id=""), "compute_cluster_id"),
    ],
)
def test_input_errors_carry_the_argument_at_fault(make: object, param: str) -> None:
    with pytest.raises(InputError) as caught:
        make()  # type: ignore[operator]
    assert caught.value.param == param


def test_input_errors_name_the_input_of_a_call(tmp_path: Path) -> None:
    with WorkflowClient(target="127.0.0.1:1", insecure=True) as client:
        for inputs, param in (
            (["https://a.b/x.jpg", "not a url"], "inputs[1]"),
            ([b"x", tmp_path / "missing.png"], "inputs[1]"),
            ([], "inputs"),
        ):
            with pytest.raises(InputError) as caught:
                client.predict("General", inputs)
            assert caught.value.param == param
        with pytest.raises(InputError) as caught:
            client.predict("General", "https://a.b/x.jpg", output_config={"nope": 1})
        assert caught.value.param == "output_config"


def test_input_errors_pickle_with_their_param() -> None:
    error = InputError("timeout must be a number", param="timeout")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InputError and again.param == "timeout" and str(again) == str(error)
