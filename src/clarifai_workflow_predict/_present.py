"""What the text table, ``--json`` and the HTML report share: how each piece of a result reads.

The top concept, a region's label, box corners, an embedding's preview, a status line, a
media's summary and the JSON text are written here once; ``_render`` (text) and ``_html`` (the
page) lay them out.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, Sequence

from .models import (
    BoundingBox,
    Concept,
    Embedding,
    Media,
    ModelOutput,
    Region,
    Status,
    Usage,
    WorkflowResult,
)

__all__ = [
    "Predicted",
    "json_text",
    "describe_status",
    "top_concept",
    "region_label",
    "corners",
    "vector_preview",
    "media_summary",
    "mime_type",
    "tokens",
    "used",
    "short",
]


class Predicted(Protocol):
    """What the views need of a prediction (``WorkflowPrediction`` is one)."""

    @property
    def workflow_id(self) -> str: ...

    @property
    def results(self) -> tuple[WorkflowResult, ...]: ...

    @property
    def usage(self) -> Usage: ...


def json_text(data: Any) -> str:
    """``data`` as indented JSON, with each list of numbers (a vector) on one line."""
    vectors: list[str] = []

    def fold(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: fold(item) for key, item in value.items()}
        if isinstance(value, list):
            if value and all(type(v) in (int, float) for v in value):
                vectors.append(json.dumps(value))
                return f"\0{len(vectors) - 1}"
            return [fold(item) for item in value]
        return value

    text = json.dumps(fold(data), indent=2)
    for n, vector in enumerate(vectors):
        text = text.replace(f'"\\u0000{n}"', vector, 1)
    return text


def describe_status(status: Status) -> str:
    """``NAME: description (details)``, leaving out what is empty."""
    text = status.name
    if status.description:
        text += f": {status.description}"
    if status.details:
        text += f" ({status.details})"
    return text


def top_concept(concepts: Sequence[Concept]) -> Concept | None:
    """The highest-scoring concept, or ``None``."""
    return max(concepts, key=lambda c: c.value, default=None)


def region_label(region: Region) -> str:
    """``name score`` of the region's top concept; else its text (or span) and score."""
    top = top_concept(region.concepts)
    if top is not None:
        return f"{top.name or top.id} {top.value:.2f}"
    text = region.text or (region.span.text if region.span else "")
    return f"{text} {region.value:.2f}" if text else f"{region.value:.2f}"


def corners(box: BoundingBox) -> str:
    """The box's corners, each named."""
    return (
        f"top {box.top_row:.2f} left {box.left_col:.2f} "
        f"bottom {box.bottom_row:.2f} right {box.right_col:.2f}"
    )


def vector_preview(embedding: Embedding, shown: int) -> str:
    """``N dimensions [v0, v1, ...]`` with the first ``shown`` values."""
    values = ", ".join(f"{v:.3f}" for v in embedding.vector[:shown])
    more = ", ..." if len(embedding.vector) > shown else ""
    return f"{embedding.num_dimensions or len(embedding.vector)} dimensions [{values}{more}]"


# Magic numbers of the formats a browser shows inline.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)


def mime_type(data: bytes) -> str:
    """The media type ``data`` starts like, or ``""`` when it is none a browser shows inline."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF":
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(data[8:12], "")
    return ""


def media_summary(media: Media) -> str:
    """``image/png 96x64, 3,456 bytes`` for inline bytes; the URL for a link."""
    if media.data:
        kind = mime_type(media.data) or "bytes"
        size = f" {media.width}x{media.height}" if media.width and media.height else ""
        return f"{kind}{size}, {len(media.data):,} bytes"
    return media.url or "(empty)"


def tokens(counted: ModelOutput | Usage) -> str:
    """``prompt 12, completion 30, cached 4 tokens``, or ``""`` when there are none."""
    counts = (
        ("prompt", counted.prompt_tokens),
        ("completion", counted.completion_tokens),
        ("cached", counted.cached_tokens),
    )
    shown = [f"{name} {count:,}" for name, count in counts if count]
    return f"{', '.join(shown)} tokens" if shown else ""


def used(usage: Usage) -> str:
    """``6 operations (general-image-recognition 3, general-image-embedding 3); prompt 12
    tokens, an estimate``: what a prediction used, as ``Usage`` counts it."""
    by_model = ", ".join(f"{model_id} {count:,}" for model_id, count in usage.by_model.items())
    spent = [f"{usage.operations:,} operation{'s' if usage.operations != 1 else ''}"]
    if by_model:
        spent[0] += f" ({by_model})"
    if counted := tokens(usage):
        spent.append(counted)
    return "; ".join(spent) + ", an estimate"


def short(text: str, limit: int = 60) -> str:
    """``text`` on one line, clipped to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
