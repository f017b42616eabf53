"""Predictions as readable text tables, for the command line.

``ROWS`` maps each kind of output (a ``ModelOutput`` field) to the rows it shows; a kind's
wording comes from ``_present``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ._present import (
    Predicted,
    corners,
    describe_status,
    media_summary,
    short,
    tokens,
    top_concept,
    vector_preview,
)
from .models import ModelOutput, Region, WorkflowResult, load

__all__ = ["ROWS", "table"]

_VECTOR_SHOWN = 4
Rows = list[tuple[str, str]]  # (what, score)


def table(prediction: Predicted, labels: Sequence[str] | None = None) -> str:
    """One block per input: a header naming it, then a row per prediction of each model.

    ``labels[i]`` names ``inputs[i]`` (its URL, file or text); by default, its input id.
    """
    load(prediction.results)
    if labels is None:
        labels = [result.input_id for result in prediction.results]
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


def _rows(output: ModelOutput) -> Rows:
    if not output.ok:
        return [(f"failed: {describe_status(output.status)}", "")]
    rows: Rows = []
    for name, present in ROWS:
        value = getattr(output, name)
        if value:
            rows.extend(present(value))
    if used := tokens(output):
        rows.append((used, ""))
    return rows or [("(no predictions)", "")]


def _region(region: Region, indent: str = "") -> tuple[str, str]:
    parts = []
    if (top := top_concept(region.concepts)) is not None:
        parts.append(top.name or top.id)
    if region.text:
        parts.append(repr(short(region.text)))
    if region.span is not None:
        parts.append(f"chars {region.span.start}-{region.span.end} {short(region.span.text)!r}")
    box = region.bounding_box
    if box is not None:
        parts.append(f"box {corners(box)}")
    if region.mask is not None:
        parts.append(f"mask {media_summary(region.mask)}")
    if region.polygon:
        parts.append(f"polygon of {len(region.polygon)} points")
    if region.point is not None:
        parts.append(f"point row {region.point.row:.2f} col {region.point.col:.2f}")
    if region.keypoints:
        parts.append(f"{len(region.keypoints)} keypoints")
    if region.track_id:
        parts.append(f"track {region.track_id}")
    return (indent + " ".join(["region", *parts]), f"{region.value:.2f}")


def _topped(what: str, concepts: Any, after: str = "") -> tuple[str, str]:
    """A row for ``what``: its top concept's name and score beside it, when it has one."""
    top = top_concept(concepts)
    if top is None:
        return (what + after, "")
    return (f"{what}: {top.name}{after}", f"{top.value:.2f}")


def _frames(frames: Any) -> Rows:
    rows: Rows = []
    for frame in frames:
        rows.append(_topped(f"frame {frame.index} at {frame.time_ms} ms", frame.concepts))
        rows.extend(_region(r, indent="  ") for r in frame.regions)
    return rows


def _span_of_time(begin: float, end: float) -> str:
    return f"{begin:.1f}-{end:.1f} s"


def _segments(segments: Any) -> Rows:
    return [
        _topped(f"segment {_span_of_time(s.begin_time, s.end_time)}", s.concepts) for s in segments
    ]


def _tracks(tracks: Any) -> Rows:
    return [
        _topped(
            f"track {t.id} {_span_of_time(t.begin_time, t.end_time)}",
            t.concepts,
            f", {len(t.regions)} regions",
        )
        for t in tracks
    ]


def _value(value: Any) -> str:
    return short(repr(value))


#: ``ModelOutput`` field, and the rows a non-empty value of it shows, in display order.
ROWS: tuple[tuple[str, Callable[[Any], Rows]], ...] = (
    ("concepts", lambda cs: [(c.name or c.id, f"{c.value:.2f}") for c in cs]),
    ("regions", lambda rs: [_region(r) for r in rs]),
    (
        "embeddings",
        lambda es: [(f"embedding, {vector_preview(e, _VECTOR_SHOWN)}", "") for e in es],
    ),
    ("text", lambda text: [(f"text {short(text)!r}", "")]),
    ("frames", _frames),
    ("colors", lambda cs: [(f"color {c.hex} {c.name}".rstrip(), f"{c.value:.2f}") for c in cs]),
    (
        "clusters",
        lambda cs: [(f"cluster {c.id} ({c.count:,} inputs)", f"{c.score:.2f}") for c in cs],
    ),
    ("image", lambda m: [(f"image: {media_summary(m)}", "")]),
    ("video", lambda m: [(f"video: {media_summary(m)}", "")]),
    ("audio", lambda m: [(f"audio: {media_summary(m)}", "")]),
    ("heatmaps", lambda ms: [(f"heatmap: {media_summary(m)}", "") for m in ms]),
    ("time_segments", _segments),
    ("tracks", _tracks),
    ("metadata", lambda md: [(f"metadata {short(str(md))}", "")]),
    ("value", lambda v: [(f"value {_value(v)}", "")]),
    ("parts", lambda ps: [(f"part {p.id or '-'}: {_value(p.value)}", "") for p in ps]),
    ("ndarray", lambda a: [(f"array {a.dtype} shape {list(a.shape)}", "")]),
)
