"""How ``bulk`` shows a job: the progress line and the closing summary."""

from __future__ import annotations

import io

from clarifai_workflow_predict import BulkSummary, Usage
from clarifai_workflow_predict.cli.progress import ProgressLine, summary_text, used

from ..helpers import Clock

SPENT = Usage(operations=1234, prompt_tokens=50, completion_tokens=25, cached_tokens=5)


def summary(written: int, **fields: object) -> BulkSummary:
    values: dict = {"total": 5000, "written": written, "done": written + 100, "failed": 0}
    values.update({"statuses": {"SUCCESS": written + 100}, "usage": SPENT, **fields})
    return BulkSummary(**values)


def test_the_line_shows_progress_rate_usage_and_pace() -> None:
    stream, clock = io.StringIO(), Clock()
    line = ProgressLine(stream, True, clock)
    clock.advance(2.0)
    line.update(summary(1000, pace=9.5))
    assert stream.getvalue() == (
        "\r1,100/5,000 inputs  500/s  1,234 operations, 75 tokens  paced at 9.5 requests/s"
    )
    line.update(summary(1200))  # shorter, and no longer paced: padded over the old one
    drawn = stream.getvalue().split("\r")[-1]
    assert drawn.rstrip() == "1,300/5,000 inputs  600/s  1,234 operations, 75 tokens"
    assert len(drawn) == len(
        "1,100/5,000 inputs  500/s  1,234 operations, 75 tokens  paced at 9.5 requests/s"
    )
    line.end()
    assert stream.getvalue().endswith("\n")


def test_a_hidden_line_writes_nothing() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, False)
    line.update(summary(10))
    line.end()
    assert stream.getvalue() == ""


def test_the_summary_says_what_the_run_wrote_and_used_and_what_the_file_holds() -> None:
    done = summary(900, failed=3, statuses={"SUCCESS": 997, "INPUT_FAILED": 3})
    assert summary_text(done, "out.jsonl") == (
        "this run: wrote 900 lines; used 1,234 operations, 75 tokens (an estimate)\n"
        "out.jsonl: 1,000 lines (SUCCESS 997, INPUT_FAILED 3); 4,000 inputs not run yet"
    )
    whole = summary(0, total=100, done=100, statuses={"SUCCESS": 100}, usage=Usage())
    assert summary_text(whole, "o") == (
        "this run: wrote 0 lines; used 0 operations, 0 tokens (an estimate)\no: 100 lines (SUCCESS 100)"
    )
    assert used(Usage()) == "0 operations, 0 tokens"
