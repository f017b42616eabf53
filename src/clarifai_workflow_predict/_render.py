"""Predictions as readable text tables, for the command line."""

from __future__ import annotations

from typing import Sequence

from .models import ModelOutput, Region, Status, WorkflowPrediction, WorkflowResult

__all__ = ["table", "describe_status"]

_VECTOR_SHOWN = 4


def describe_status(status: Status) -> str:
    """``NAME: description (details)``, leaving out what is empty."""
    text = status.name
    if status.description:
        text += f": {status.description}"
    if status.details:
        text += f" ({status.details})"
    return text


def table(prediction: WorkflowPrediction, labels: Sequence[str]) -> str:
    """One block per input: a header naming it, then a row per prediction of each model.

    ``labels[i]`` names ``inputs[i]`` (its URL, file or text).
    """
    blocks = [
        _block(i, label, result)
        for i, (label, result) in enumerate(zip(labels, prediction.results, strict=True))
    ]
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


def _rows(output: ModelOutput) -> list[tuple[str, str]]:
    if not output.ok:
        return [(f"failed: {describe_status(output.status)}", "")]
    rows = [(c.name or c.id, f"{c.value:.2f}") for c in output.concepts]
    rows.extend(_region(r) for r in output.regions)
    for e in output.embeddings:
        shown = ", ".join(f"{v:.3f}" for v in e.vector[:_VECTOR_SHOWN])
        more = ", ..." if len(e.vector) > _VECTOR_SHOWN else ""
        rows.append(
            (f"embedding, {e.num_dimensions or len(e.vector)} dimensions [{shown}{more}]", "")
        )
    if output.text:
        rows.append((f"text {_quote(output.text)}", ""))
    for frame in output.frames:
        top = max(frame.concepts, key=lambda c: c.value, default=None)
        what = f"frame {frame.index} at {frame.time_ms} ms"
        rows.append((f"{what}: {top.name}" if top else what, f"{top.value:.2f}" if top else ""))
        rows.extend(_region(r, indent="  ") for r in frame.regions)
    return rows or [("(no predictions)", "")]


def _region(region: Region, indent: str = "") -> tuple[str, str]:
    parts = []
    if region.concepts:
        top = max(region.concepts, key=lambda c: c.value)
        parts.append(top.name)
    if region.text:
        parts.append(_quote(region.text))
    box = region.bounding_box
    if box is not None:
        parts.append(
            f"box top {box.top_row:.2f} left {box.left_col:.2f} "
            f"bottom {box.bottom_row:.2f} right {box.right_col:.2f}"
        )
    return (indent + ("region " + " ".join(parts) if parts else "region"), f"{region.value:.2f}")


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")
