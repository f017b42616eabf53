"""Predictions as readable text tables, for the command line: a block per input, a row per
prediction; each kind of output's rows come from ``_kinds.VIEWS``."""

from __future__ import annotations

from typing import Sequence

from ._kinds import VIEWS, Rows
from ._present import (
    Predicted,
    describe_status,
    tokens,
    used,
)
from .models import ModelOutput, WorkflowResult, load

__all__ = ["table"]


def table(prediction: Predicted, labels: Sequence[str] | None = None) -> str:
    """One block per input: a header naming it, then a row per prediction of each model; and
    a last line with what the call used (``Usage``).

    ``labels[i]`` names ``inputs[i]`` (its URL, file or text); by default, its input id.
    """
    load(prediction.results)
    if labels is None:
        labels = [result.input_id for result in prediction.results]
    blocks = [
        _block(i, label, result)
        for i, (label, result) in enumerate(zip(labels, prediction.results, strict=True))
    ]
    blocks.append(f"used: {used(prediction.usage)}")
    return "\n\n".join(blocks)


def _block(index: int, label: str, result: WorkflowResult) -> str:
    head = f"[{index}] {label}"
    if not result.ok:
        return f"{head}\n    failed: {describe_status(result.status)}"
    rows: list[tuple[str, str, str]] = []
    for output in result.outputs:
        model_rows = _rows(output)
        rows.extend(
            (output.model_id if n == 0 else "", what, score)
            for n, (what, score) in enumerate(model_rows)
        )
    if not rows:
        return f"{head}\n    (no outputs)"
    header = ("MODEL", "PREDICTION", "SCORE")
    widths = [max(len(r[c]) for r in (header, *rows)) for c in range(2)]
    lines = [head]
    for model, what, score in (header, *rows):
        lines.append(f"    {model:<{widths[0]}}  {what:<{widths[1]}}  {score}".rstrip())
    return "\n".join(lines)


def _rows(output: ModelOutput) -> Rows:
    """The rows of one model's output: each kind it has, and its tokens."""
    if not output.ok:
        return [(f"failed: {describe_status(output.status)}", "")]
    rows: Rows = []
    for view in VIEWS:
        value = getattr(output, view.name)
        if value:
            rows.extend(view.rows(value))
    if used := tokens(output):
        rows.append((used, ""))
    return rows or [("(no predictions)", "")]
