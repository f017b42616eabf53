"""A prediction as one self-contained HTML page, like the Portal's view of an input.

No scripts, no network assets: inline CSS, images as ``data:`` URIs when the input's bytes are at
hand (an ``http(s)`` URL is referenced as is), and regions as an SVG overlay positioned in
percentages of the picture. Every string from the API is escaped before it reaches the page.
"""

from __future__ import annotations

import base64
from html import escape
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .models import ModelOutput, Region, Status, WorkflowPrediction, WorkflowResult

__all__ = ["render"]

# One color per workflow node, in node order (repeats past eight nodes).
PALETTE = ("#e4572e", "#2e86ab", "#17bebb", "#a23b72", "#f18f01", "#3b1f2b", "#6a994e", "#7b2cbf")
_EMBEDDING_SHOWN = 8
_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)

CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: var(--bg); }
header { padding: 20px 24px 0; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: var(--muted); margin: 0; }
main { padding: 8px 24px 32px; display: grid; gap: 20px; }
article { background: #fff; border: 1px solid var(--line); border-radius: 10px;
          padding: 16px 18px; }
h2.meta { font-size: 15px; font-weight: normal; margin: 8px 0 12px; }
section.prediction { display: grid; gap: 16px; }
h3.input-title { font-size: 17px; margin: 0 0 12px; display: flex; flex-wrap: wrap; gap: 8px;
               align-items: center; }
.source { color: var(--muted); font-weight: normal; font-size: 13px; word-break: break-all; }
.body { display: grid; grid-template-columns: minmax(240px, 420px) 1fr; gap: 20px;
         align-items: start; }
@media (max-width: 720px) { .body { grid-template-columns: 1fr; } main, header { padding-left: 12px;
  padding-right: 12px; } }
.picture { position: relative; margin: 0; line-height: 0; border-radius: 6px; overflow: hidden;
           background: #e9ecf2; }
.picture img { display: block; width: 100%; height: auto; }
.overlay { position: absolute; left: 0; top: 0; width: 100%; height: 100%; overflow: visible; }
.overlay rect { fill: none; stroke-width: 3; }
.overlay text { font: 600 13px system-ui, sans-serif; paint-order: stroke; stroke: #fff;
                stroke-width: 3px; }
.no-picture { padding: 40px 12px; text-align: center; color: var(--muted); line-height: 1.4; }
blockquote.text-input { margin: 0; padding: 12px 14px; background: #f1f3f7; border-radius: 6px;
                        white-space: pre-wrap; word-break: break-word; }
.model { border-left: 4px solid var(--model); padding: 2px 0 6px 12px; margin-bottom: 14px; }
.model h4 { font-size: 15px; margin: 0 0 6px; display: flex; flex-wrap: wrap; gap: 6px;
            align-items: baseline; }
.model h4 code { font-size: 12px; color: var(--muted); font-weight: normal; }
ol.concepts { list-style: none; margin: 0; padding: 0; display: grid; gap: 3px; }
ol.concepts li { display: grid; grid-template-columns: minmax(90px, 34%) 1fr 44px; gap: 8px;
                 align-items: center; }
.name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { background: #eef0f4; border-radius: 4px; height: 10px; overflow: hidden; }
.bar span { display: block; height: 100%; background: var(--model); }
.score { font-variant-numeric: tabular-nums; text-align: right; color: var(--muted); }
ul.regions { margin: 6px 0 0; padding-left: 18px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
          background: var(--model); margin-right: 4px; }
.embedding, .output-text { margin: 4px 0; word-break: break-word; }
.embedding code { font-size: 12px; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px;
         border-radius: 10px; background: #e7f6ec; color: #1d6b3a; }
.badge.error { background: #fde8e6; color: #a3261b; }
.error-text { color: #a3261b; margin: 4px 0; }
"""


def render(predictions: Sequence[WorkflowPrediction], title: str | None = None) -> str:
    """One page for ``predictions`` (``WorkflowPrediction.to_html`` passes one)."""
    if title is None:
        title = (
            f"{predictions[0].workflow_id} predictions" if len(predictions) == 1 else "Predictions"
        )
    sections = "\n".join(_prediction(p, n) for n, p in enumerate(predictions))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1></header>\n<main>\n{sections}\n</main>\n</body>\n</html>\n"
    )


def _prediction(prediction: WorkflowPrediction, number: int) -> str:
    count = len(prediction.results)
    failed = sum(not r.ok for r in prediction.results)
    meta = (
        f"Workflow <code>{escape(prediction.workflow_id)}</code> · {count} input"
        + ("s" if count != 1 else "")
        + (f" · {failed} failed" if failed else " · all succeeded")
    )
    articles = "\n".join(_input(f"{number}-{i}", i, r) for i, r in enumerate(prediction.results))
    return f'<section class="prediction"><h2 class="meta">{meta}</h2>\n{articles}\n</section>'


def _badge(status: Status) -> str:
    """A visible error badge with the status name and description (details on hover)."""
    if status.ok:
        return ""
    text = status.name + (f": {status.description}" if status.description else "")
    return f'<span class="badge error" title="{escape(status.details)}">{escape(text)}</span>'


def _input(anchor: str, index: int, result: WorkflowResult) -> str:
    data = result.raw.input.data if result.raw is not None else None
    source = _source(data)
    ident = f'<span class="source">{escape(result.input_id)}</span>'
    where = f' <span class="source">{escape(source)}</span>' if source else ""
    head = f'<h3 class="input-title">Input {index} {ident}{_badge(result.status)}{where}</h3>'
    if not result.ok:
        body = (
            f'<p class="error-text">{escape(result.status.details)}</p>'
            if result.status.details
            else ""
        )
        return f'<article class="input failed" id="input-{anchor}">{head}{body}</article>'
    colored = [(PALETTE[n % len(PALETTE)], output) for n, output in enumerate(result.outputs)]
    picture = _picture(data, colored)
    models = "".join(_model(color, output) for color, output in colored)
    return (
        f'<article class="input" id="input-{anchor}">{head}'
        f'<div class="body">{picture}<div class="models">{models}</div></div></article>'
    )


def _source(data: Any) -> str:
    """The input's URL, if it came from one (shown as text, never followed)."""
    if data is None:
        return ""
    for kind in ("image", "video", "audio"):
        if data.HasField(kind) and getattr(data, kind).url:
            return str(getattr(data, kind).url)
    return str(data.text.url) if data.HasField("text") else ""


def _picture(data: Any, colored: list[tuple[str, ModelOutput]]) -> str:
    if data is not None and data.HasField("text") and data.text.raw:
        return f'<blockquote class="text-input">{escape(data.text.raw)}</blockquote>'
    src = _image_src(data) if data is not None and data.HasField("image") else ""
    if not src:
        return '<figure class="picture"><div class="no-picture">no preview</div></figure>'
    boxes = "".join(
        _boxes(n, color, output) for n, (color, output) in enumerate(colored) if output.regions
    )
    overlay = (
        f'<svg class="overlay" xmlns="http://www.w3.org/2000/svg" aria-hidden="true">{boxes}</svg>'
        if boxes
        else ""
    )
    return f'<figure class="picture"><img src="{escape(src)}" alt="input image">{overlay}</figure>'


def _image_src(data: Any) -> str:
    image = data.image
    if image.base64:
        raw = bytes(image.base64)
        mime = next((m for magic, m in _IMAGE_TYPES if raw.startswith(magic)), None)
        if mime is None and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
            mime = "image/webp"
        return f"data:{mime};base64,{base64.b64encode(raw).decode()}" if mime else ""
    url = str(image.url)
    return url if url.lower().startswith(("http://", "https://")) else ""


def _boxes(node: int, color: str, output: ModelOutput) -> str:
    parts = [f'<g class="model-{node}" stroke="{color}" data-model="{escape(output.model_id)}">']
    for region in output.regions:
        box = region.bounding_box
        if box is None:
            continue
        left, top = _pct(box.left_col), _pct(box.top_row)
        width, height = _pct(box.right_col - box.left_col), _pct(box.bottom_row - box.top_row)
        label = _label(region)
        parts.append(
            f'<rect x="{left}%" y="{top}%" width="{width}%" height="{height}%" '
            f'data-region="{escape(region.id)}"><title>{escape(label)}</title></rect>'
            f'<text x="{left}%" y="{top}%" dx="4" dy="15" fill="{color}">{escape(label)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _pct(value: float) -> str:
    return f"{min(100.0, max(0.0, value * 100)):.3f}"


def _label(region: Region) -> str:
    if region.concepts:
        top = max(region.concepts, key=lambda c: c.value)
        return f"{top.name} {top.value:.2f}"
    if region.text:
        return f"{region.text} {region.value:.2f}"
    return f"{region.value:.2f}"


def _model(color: str, output: ModelOutput) -> str:
    head = (
        f"<h4>{escape(output.model_name or output.model_id)} <code>{escape(output.model_id)}</code>"
        f"{_badge(output.status)}</h4>"
    )
    if not output.ok:
        body = (
            f'<p class="error-text">{escape(output.status.details)}</p>'
            if output.status.details
            else ""
        )
    else:
        body = _concepts(output) + _regions(output) + _embeddings(output) + _texts(output)
    return f'<section class="model" style="--model: {color}">{head}{body}</section>'


def _concepts(output: ModelOutput) -> str:
    if not output.concepts and not output.frames:
        return ""
    items = []
    for c in sorted(output.concepts, key=lambda c: c.value, reverse=True):
        items.append(_bar(c.name or c.id, c.value))
    for frame in output.frames:
        for c in sorted(frame.concepts, key=lambda c: c.value, reverse=True)[:3]:
            items.append(_bar(f"{frame.time_ms / 1000:.1f}s · {c.name or c.id}", c.value))
    return f'<ol class="concepts">{"".join(items)}</ol>'


def _bar(name: str, value: float) -> str:
    width = min(100.0, max(0.0, value * 100))
    return (
        f'<li><span class="name" title="{escape(name)}">{escape(name)}</span>'
        f'<span class="bar"><span style="width: {width:.1f}%"></span></span>'
        f'<span class="score">{value:.2f}</span></li>'
    )


def _regions(output: ModelOutput) -> str:
    if not output.regions:
        return ""
    items = []
    for r in output.regions:
        what = escape(_label(r))
        if r.text and r.concepts:
            what += f" · “{escape(r.text)}”"
        box = r.bounding_box
        where = ""
        if box is not None:
            corners = (box.top_row, box.left_col, box.bottom_row, box.right_col)
            where = " <small>[" + ", ".join(f"{v:.2f}" for v in corners) + "]</small>"
        items.append(f'<li><span class="swatch"></span>{what}{where}</li>')
    return f'<ul class="regions">{"".join(items)}</ul>'


def _embeddings(output: ModelOutput) -> str:
    rows = []
    for e in output.embeddings:
        shown = ", ".join(f"{v:.3f}" for v in e.vector[:_EMBEDDING_SHOWN])
        more = ", …" if len(e.vector) > _EMBEDDING_SHOWN else ""
        size = e.num_dimensions or len(e.vector)
        rows.append(
            f'<p class="embedding">embedding, {size} dimensions: <code>{shown}{more}</code></p>'
        )
    return "".join(rows)


def _texts(output: ModelOutput) -> str:
    return f'<p class="output-text">{escape(output.text)}</p>' if output.text else ""
