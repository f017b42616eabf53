"""``predict``: each option reaches the request or the output, and the output reads well."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ..conftest import PAT
from .conftest import Run
from .shell import URL, where

DOG = "https://samples.clarifai.com/dog2.jpeg"
VIDEO = "https://samples.clarifai.com/beer.mp4"
WORKFLOW_URL = "https://clarifai.com/clarifai/main/workflows/General"


def test_a_table_per_input_with_max_concepts(server: Any, run: Run) -> None:
    code, out, err = run("predict", "General", URL, DOG, *where(server), "--max-concepts", "3")
    assert code == 0 and err == ""
    assert out.startswith(f"[0] {URL}\n") and f"[1] {DOG}\n" in out
    assert "MODEL" in out and "PREDICTION" in out and "SCORE" in out
    assert "general-image-recognition" in out and "embedding, 512 dimensions" in out
    block = out.split("\n\n")[0].splitlines()
    concepts = [
        row for row in block[2:] if not row.strip().startswith(("general-image-emb", "emb"))
    ]
    assert len(concepts) == 3
    assert server.requests[-1].output_config.max_concepts == 3


def test_text_inputs_are_sent_and_labelled_by_their_text(server: Any, run: Run) -> None:
    code, out, _ = run("predict", "Text", "--text", "hi there", "--text", "bye", *where(server))
    assert code == 0 and out.startswith("[0] text 'hi there'\n") and "[1] text 'bye'" in out
    assert [i.data.text.raw for i in server.requests[-1].inputs] == ["hi there", "bye"]


def test_json_is_the_prediction_dict_with_min_value(server: Any, run: Run) -> None:
    code, out, _ = run("predict", "General", URL, *where(server), "--json", "--min-value", "0.5")
    data = json.loads(out)
    assert code == 0 and data["workflow_id"] == "General"
    assert all(c["value"] >= 0.5 for c in data["results"][0]["outputs"][0]["concepts"])
    assert server.requests[-1].output_config.min_value == 0.5


def test_json_keeps_each_vector_on_one_line(server: Any, run: Run) -> None:
    code, out, _ = run("predict", "General", URL, *where(server), "--json")
    assert code == 0
    vector_lines = [line for line in out.splitlines() if '"vector": [' in line]
    assert len(vector_lines) == 1 and vector_lines[0].rstrip().endswith("],")
    data = json.loads(out)
    assert len(data["results"][0]["outputs"][1]["embeddings"][0]["vector"]) == 512
    assert out.count("\n") < 400  # 512 numbers did not take a line each


def test_regions_and_text_are_shown(server: Any, run: Run) -> None:
    code, out, _ = run("predict", "OCR", URL, *where(server))
    assert code == 0 and "region '" in out
    assert re.search(r"box top 0\.\d\d left 0\.\d\d bottom 0\.\d\d right 0\.\d\d", out)
    code, out, _ = run("predict", "Detection", URL, *where(server))
    assert code == 0 and "region " in out


def test_files_are_read_and_settings_fall_back_to_the_environment(
    server: Any, run: Run, tmp_path: Path, monkeypatch: Any
) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    monkeypatch.setenv("CLARIFAI_PAT", PAT)
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", server.target)
    monkeypatch.setenv("CLARIFAI_USER_ID", "clarifai")
    monkeypatch.setenv("CLARIFAI_APP_ID", "main")
    code, out, _ = run("predict", "General", str(image), "--insecure")
    assert code == 0 and f"[0] {image}" in out
    sent = server.requests[-1]
    assert sent.inputs[0].data.image.base64 == image.read_bytes()
    assert sent.user_app_id.user_id == "clarifai"


def test_failed_inputs_exit_3(server: Any, run: Run) -> None:
    code, out, err = run("predict", "General", URL, "https://fail.invalid/a.jpg", *where(server))
    assert code == 3 and "failed: INPUT_FAILED" in out and "1 of 2 inputs failed" in err


def test_html_writes_a_report(server: Any, run: Run, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, out, err = run("predict", "General", URL, *where(server), "--html", str(page))
    assert code == 0 and out.startswith("[0] ") and f"wrote {page}" in err
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "general-image-recognition" in text


def test_parts_send_the_texts_then_the_inputs_as_one_input(server: Any, run: Run) -> None:
    argv = ["predict", "Multimodal", URL, "--parts", "--text", "What is here?", *where(server)]
    code, out, _ = run(*argv)
    assert code == 0 and out.startswith(f"[0] text 'What is here?' + {URL}\n")
    (sent,) = server.requests[-1].inputs
    parts = sent.data.parts
    assert [p.data.text.raw for p in parts] == ["What is here?", ""]
    assert parts[1].data.image.url == URL


def test_sample_ms_samples_video_inputs_only(server: Any, run: Run) -> None:
    code, _, err = run("predict", "General", VIDEO, "--sample-ms", "1500", *where(server))
    assert code == 0, err
    assert server.requests[-1].inputs[0].settings.sample_rate_ms == 1500
    before = len(server.requests)
    code, _, err = run("predict", "General", URL, "--sample-ms", "100", *where(server))
    assert code == 2 and "none of the inputs is a video" in err
    code, _, err = run(
        "predict", "Multimodal", VIDEO, "--parts", "--sample-ms", "9", *where(server)
    )
    assert code == 2 and "part of a --parts input" in err
    assert len(server.requests) == before


def test_owner_ids_and_version_are_sent(server: Any, run: Run) -> None:
    owner = ["--user-id", "clarifai", "--app-id", "main", "--version-id", "v3"]
    assert run("predict", "General", URL, *owner, *where(server))[0] == 0
    sent = server.requests[-1]
    assert (sent.user_app_id.user_id, sent.user_app_id.app_id) == ("clarifai", "main")
    assert sent.version_id == "v3"


def test_a_workflow_url_sets_the_owner_and_may_not_be_contradicted(server: Any, run: Run) -> None:
    assert run("predict", f"{WORKFLOW_URL}/versions/v7", URL, *where(server))[0] == 0
    sent = server.requests[-1]
    assert (sent.workflow_id, sent.user_app_id.user_id, sent.version_id) == (
        "General",
        "clarifai",
        "v7",
    )
    code, _, err = run(
        "predict", f"{WORKFLOW_URL}/versions/v7", URL, "--version-id", "v1", *where(server)
    )
    assert code == 2 and "error: --version-id: version_id='v1' contradicts" in err
    code, _, err = run(
        "predict", "https://clarifai.com/clarifai/main/models/m", URL, *where(server)
    )
    assert code == 2 and "error: WORKFLOW: " in err and "a model URL" in err


def test_timeout_bounds_the_call(server: Any, run: Run) -> None:
    server.latency = 2.0
    try:
        code, _, err = run("predict", "General", URL, *where(server), "--timeout", "0.3")
    finally:
        server.latency = 0
    assert code == 1 and "--timeout 0.3 s" in err


@pytest.mark.parametrize("allowed", [False, True])
def test_allow_insecure_pat_lets_the_pat_go_in_plaintext(run: Run, allowed: bool) -> None:
    # 192.0.2.0/24 is for documentation: nothing answers there, so an allowed call fails late.
    argv = ["predict", "General", URL, "--target", "192.0.2.1:1", "--insecure", "--pat", PAT]
    code, _, err = run(*argv, "--timeout", "0.5", *["--allow-insecure-pat"] * allowed)
    assert (code, "--allow-insecure-pat" in err) == ((1, False) if allowed else (2, True)), err
