"""Each kind of output as the views show it: its rows in the text table (``_render``) and its
part of a model's card on the HTML page (``_html``), declared together in ``VIEWS``, one entry
per ``ModelOutput`` kind (``models.KINDS`` declares how each is converted). The wording the two
share comes from ``_present``; what a region, a frame or a track says is written here once per
view.
"""

from __future__ import annotations

import base64
import json
from html import escape
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

from ._present import (
    corners,
    media_summary,
    mime_type,
    region_label,
    short,
    top_concept,
    vector_preview,
)

if TYPE_CHECKING:
    from .models import Media, Region

__all__ = ["VIEWS", "View", "media_src"]

_VECTOR_SHOWN = 4  # values of an embedding in a table row
_EMBEDDING_SHOWN = 8  # and on the page
Rows = list[tuple[str, str]]  # (what, score)


class View(NamedTuple):
    """How the views show one kind of output: ``name``, its ``ModelOutput`` field; ``rows``,
    the text table's rows for a non-empty value; ``section``, its HTML."""

    name: str
    rows: Callable[[Any], Rows]
    section: Callable[[Any], str]


def _text_region(region: Region, indent: str = "") -> tuple[str, str]:
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


def _text_topped(what: str, concepts: Any, after: str = "") -> tuple[str, str]:
    """A row for ``what``: its top concept's name and score beside it, when it has one."""
    top = top_concept(concepts)
    if top is None:
        return (what + after, "")
    return (f"{what}: {top.name}{after}", f"{top.value:.2f}")


def _text_frames(frames: Any) -> Rows:
    rows: Rows = []
    for frame in frames:
        rows.append(_text_topped(f"frame {frame.index} at {frame.time_ms} ms", frame.concepts))
        rows.extend(_text_region(r, indent="  ") for r in frame.regions)
    return rows


def _text_span_of_time(begin: float, end: float) -> str:
    return f"{begin:.1f}-{end:.1f} s"


def _text_segments(segments: Any) -> Rows:
    return [
        _text_topped(f"segment {_text_span_of_time(s.begin_time, s.end_time)}", s.concepts)
        for s in segments
    ]


def _text_tracks(tracks: Any) -> Rows:
    return [
        _text_topped(
            f"track {t.id} {_text_span_of_time(t.begin_time, t.end_time)}",
            t.concepts,
            f", {len(t.regions)} regions",
        )
        for t in tracks
    ]


def _text_value(value: Any) -> str:
    return short(repr(value))


def media_src(data: bytes, url: str) -> str:
    """A ``data:`` URI for bytes a browser shows inline, else an ``http(s)`` URL, else ``""``."""
    if data:
        mime = mime_type(bytes(data))
        return f"data:{mime};base64,{base64.b64encode(data).decode()}" if mime else ""
    return url if url.lower().startswith(("http://", "https://")) else ""


def _html_bars(items: Sequence[tuple[str, float]]) -> str:
    rows = []
    for name, value in items:
        width = min(100.0, max(0.0, value * 100))
        rows.append(
            f'<li><span class="name" title="{escape(name)}">{escape(name)}</span>'
            f'<span class="bar"><span style="width: {width:.1f}%"></span></span>'
            f'<span class="score">{value:.2f}</span></li>'
        )
    return f'<ol class="concepts">{"".join(rows)}</ol>'


def _html_concepts(concepts: Any) -> str:
    return _html_bars([(c.name or c.id, c.value) for c in sorted(concepts, key=lambda c: -c.value)])


def _html_frames(frames: Any) -> str:
    return _html_bars(
        [
            (f"{frame.time_ms / 1000:.1f}s · {c.name or c.id}", c.value)
            for frame in frames
            for c in sorted(frame.concepts, key=lambda c: -c.value)[:3]
        ]
    )


def _html_regions(regions: Any) -> str:
    items = []
    for r in regions:
        what = escape(region_label(r))
        if r.text and r.concepts:
            what += f" · “{escape(r.text)}”"
        if r.span is not None:
            what += f" · “{escape(r.span.text)}” <small>chars {r.span.start}-{r.span.end}</small>"
        if r.bounding_box is not None:
            what += f" <small>{escape(corners(r.bounding_box))}</small>"
        extras = [
            f"{len(r.polygon)}-point polygon" if r.polygon else "",
            f"{len(r.keypoints)} keypoints" if r.keypoints else "",
            "mask" if r.mask is not None else "",
            f"track {r.track_id}" if r.track_id else "",
        ]
        if shown := ", ".join(e for e in extras if e):
            what += f" <small>{escape(shown)}</small>"
        items.append(f'<li><span class="swatch"></span>{what}</li>')
    return f'<ul class="regions">{"".join(items)}</ul>'


def _html_embeddings(embeddings: Any) -> str:
    return "".join(
        f'<p class="embedding">embedding, '
        f"<code>{escape(vector_preview(e, _EMBEDDING_SHOWN))}</code></p>"
        for e in embeddings
    )


def _html_colors(colors: Any) -> str:
    items = "".join(
        f'<li><span class="color-chip" style="background: {escape(c.hex)}" '
        f'data-hex="{escape(c.hex)}" title="{escape(c.name)}"></span>'
        f"{escape(c.hex)} {escape(c.name)} · {c.value:.2f}</li>"
        for c in colors
        if _html_is_hex(c.hex)
    )
    return f'<ul class="colors">{items}</ul>'


def _html_is_hex(text: str) -> bool:
    return (
        len(text) in (4, 7)
        and text[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in text[1:])
    )


def _html_media(kind: str) -> Callable[[Media], str]:
    def present(media: Media) -> str:
        src = media_src(media.data, media.url)
        what = f'<p class="output-text">{kind}: {escape(media_summary(media))}</p>'
        if not src:
            return what
        if kind == "audio":
            return f'{what}<audio controls src="{escape(src)}"></audio>'
        if kind == "video":
            return f'{what}<video controls src="{escape(src)}"></video>'
        return f'{what}<img class="generated" src="{escape(src)}" alt="{kind}">'

    return present


def _html_segments(segments: Any) -> str:
    return _html_timed("segment", segments)


def _html_tracks(tracks: Any) -> str:
    return _html_timed("track", tracks, regions=True)


def _html_timed(kind: str, items: Any, regions: bool = False) -> str:
    rows = []
    for item in items:
        top = top_concept(item.concepts)
        what = f"{kind} {item.id} {item.begin_time:.1f}-{item.end_time:.1f} s"
        what += f": {top.name or top.id} {top.value:.2f}" if top else ""
        what += f", {len(item.regions)} regions" if regions else ""
        rows.append(f"<li>{escape(what)}</li>")
    return f'<ul class="plain">{"".join(rows)}</ul>'


def _html_plain(label: str, value: Any) -> str:
    return f'<p class="output-text">{escape(label)} <code>{escape(value)}</code></p>'


#: Each kind of output (a ``ModelOutput`` field of ``models.KINDS``) as the views show it: the
#: rows a non-empty value adds to the text table, and its part of a model's card on the page;
#: in display order.
VIEWS: tuple[View, ...] = (
    View(
        "concepts",
        lambda cs: [(c.name or c.id, f"{c.value:.2f}") for c in cs],
        _html_concepts,
    ),
    View(
        "regions",
        lambda rs: [_text_region(r) for r in rs],
        _html_regions,
    ),
    View(
        "embeddings",
        lambda es: [(f"embedding, {vector_preview(e, _VECTOR_SHOWN)}", "") for e in es],
        _html_embeddings,
    ),
    View(
        "text",
        lambda text: [(f"text {short(text)!r}", "")],
        lambda text: f'<p class="output-text">{escape(text)}</p>',
    ),
    View(
        "frames",
        _text_frames,
        _html_frames,
    ),
    View(
        "colors",
        lambda cs: [(f"color {c.hex} {c.name}".rstrip(), f"{c.value:.2f}") for c in cs],
        _html_colors,
    ),
    View(
        "clusters",
        lambda cs: [(f"cluster {c.id} ({c.count:,} inputs)", f"{c.score:.2f}") for c in cs],
        lambda cs: _html_bars([(f"cluster {c.id} ({c.count:,})", c.score) for c in cs]),
    ),
    View(
        "image",
        lambda m: [(f"image: {media_summary(m)}", "")],
        _html_media("image"),
    ),
    View(
        "video",
        lambda m: [(f"video: {media_summary(m)}", "")],
        _html_media("video"),
    ),
    View(
        "audio",
        lambda m: [(f"audio: {media_summary(m)}", "")],
        _html_media("audio"),
    ),
    View(
        "heatmaps",
        lambda ms: [(f"heatmap: {media_summary(m)}", "") for m in ms],
        lambda ms: "".join(_html_media("heatmap")(m) for m in ms),
    ),
    View(
        "time_segments",
        _text_segments,
        _html_segments,
    ),
    View(
        "tracks",
        _text_tracks,
        _html_tracks,
    ),
    View(
        "metadata",
        lambda md: [(f"metadata {short(str(md))}", "")],
        lambda md: _html_plain("metadata", json.dumps(md, sort_keys=True)[:500]),
    ),
    View(
        "value",
        lambda v: [(f"value {_text_value(v)}", "")],
        lambda v: _html_plain("value", repr(v)[:500]),
    ),
    View(
        "parts",
        lambda ps: [(f"part {p.id or '-'}: {_text_value(p.value)}", "") for p in ps],
        lambda ps: "".join(_html_plain(f"part {p.id or '-'}", repr(p.value)[:200]) for p in ps),
    ),
    View(
        "ndarray",
        lambda a: [(f"array {a.dtype} shape {list(a.shape)}", "")],
        lambda a: _html_plain("array", f"{a.dtype} shape {list(a.shape)}"),
    ),
)
