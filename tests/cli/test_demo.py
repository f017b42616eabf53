"""``demo``: every bundled kind of workflow, offline, as tables or one JSON document, and a
report."""

from __future__ import annotations

import json
from pathlib import Path

from clarifai_workflow_predict.cli.demo import DEMO_CALLS

from .conftest import Run


def test_demo_runs_offline_and_writes_its_report(run: Run, tmp_path: Path) -> None:
    report = tmp_path / "demo-report.html"
    code, out, err = run("demo", "--report", str(report))
    assert code == 0, err
    assert "no network needed" in out and f"Report: {report}" in out
    for workflow, _, _ in DEMO_CALLS:
        assert f"== {workflow}:" in out
    assert "failed: INPUT_FAILED" in out  # the fail.invalid sample, by design
    inputs = sum(len(samples) for _, _, samples in DEMO_CALLS)
    assert report.read_text().count("<article") == inputs


def test_json_is_one_document_listing_each_prediction(run: Run, tmp_path: Path) -> None:
    code, out, _ = run("demo", "--json", "--report", str(tmp_path / "report.html"))
    predictions = json.loads(out)  # one document, nothing around it
    assert code == 0 and isinstance(predictions, list)
    assert [p["workflow_id"] for p in predictions] == [w for w, _, _ in DEMO_CALLS]
    assert all(set(p) >= {"results", "status", "usage"} for p in predictions)


def test_a_report_that_cannot_be_written_is_a_usage_error(run: Run) -> None:
    code, out, err = run("demo", "--report", "/no/such/dir/report.html")
    assert code == 2 and out == "" and "--report /no/such/dir/report.html" in err
