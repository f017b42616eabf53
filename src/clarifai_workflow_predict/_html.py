"""A prediction as one self-contained HTML page, like the Portal's view of an input.

No scripts, no network assets: inline CSS, media as ``data:`` URIs when their bytes are at hand
(an ``http(s)`` URL is referenced as is), and what a model located drawn over the picture in
percentages of it: boxes, masks, polygons, keypoints and points. Text inputs show their text with
the entities a model found marked; videos get a time line of segments and tracks. Every string
from the API is escaped before it reaches the page.

Each kind of output's part of a model's card comes from ``_kinds.VIEWS``; ``_overlay`` draws the
located kinds over the picture. Wording comes from ``_present``.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, Sequence

from ._kinds import VIEWS, media_src
from ._present import (
    region_label,
    tokens,
    top_concept,
    used,
)

if TYPE_CHECKING:
    from ._present import Predicted
    from .models import ModelOutput, Status, WorkflowResult

__all__ = ["render"]

# One color per workflow node, in node order (repeats past eight nodes).
PALETTE = ("#e4572e", "#2e86ab", "#17bebb", "#a23b72", "#f18f01", "#3b1f2b", "#6a994e", "#7b2cbf")

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
.picture > img:not(.mask) { position: relative; display: block; width: 100%; height: auto;
                            min-height: 96px; }
.unloaded { position: absolute; left: 0; top: 0; right: 0; bottom: 0; display: flex;
            align-items: center; justify-content: center; padding: 12px; text-align: center;
            color: var(--muted); line-height: 1.4; font-size: 13px; word-break: break-all; }
.overlay { position: absolute; left: 0; top: 0; width: 100%; height: 100%; overflow: visible; }
.overlay rect { fill: none; stroke-width: 3; }
.overlay polygon { fill-opacity: 0.18; stroke-width: 2; vector-effect: non-scaling-stroke; }
.overlay circle { stroke: #fff; stroke-width: 1.5; }
.overlay text { font: 600 13px system-ui, sans-serif; paint-order: stroke; stroke: #fff;
                stroke-width: 3px; }
img.mask { position: absolute; opacity: 0.55; mix-blend-mode: screen; pointer-events: none; }
.no-picture { padding: 40px 12px; text-align: center; color: var(--muted); line-height: 1.4; }
blockquote.text-input { margin: 0; padding: 12px 14px; background: #f1f3f7; border-radius: 6px;
                        white-space: pre-wrap; word-break: break-word; }
mark { background: #ffe08a; border-radius: 3px; padding: 0 2px; }
.timeline { margin-top: 12px; display: grid; gap: 4px; }
.lane { position: relative; height: 18px; background: #eef0f4; border-radius: 4px; }
.lane span { position: absolute; top: 2px; bottom: 2px; border-radius: 3px;
             background: var(--model); font-size: 11px; line-height: 14px; color: #fff;
             overflow: hidden; white-space: nowrap; padding: 0 4px; }
.lane-label { font-size: 12px; color: var(--muted); }
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
ul.regions, ul.plain { margin: 6px 0 0; padding-left: 18px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
          background: var(--model); margin-right: 4px; }
ul.colors { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 8px; }
ul.colors li { display: grid; gap: 2px; font-size: 12px; color: var(--muted); }
.color-chip { width: 56px; height: 32px; border-radius: 4px; border: 1px solid var(--line); }
img.generated { display: block; max-width: 100%; border-radius: 6px; margin: 4px 0; }
audio, video { display: block; max-width: 100%; margin: 4px 0; }
.embedding, .output-text, .tokens { margin: 4px 0; word-break: break-word; }
.embedding code { font-size: 12px; }
.tokens { font-size: 13px; color: var(--muted); }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px;
         border-radius: 10px; background: #e7f6ec; color: #1d6b3a; }
.badge.error { background: #fde8e6; color: #a3261b; }
.error-text { color: #a3261b; margin: 4px 0; }
"""


def render(predictions: Sequence[Predicted], title: str | None = None) -> str:
    """One page for ``predictions`` (``WorkflowPrediction.to_html`` passes one)."""
    from .models import load

    for prediction in predictions:
        load(prediction.results)
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


def _prediction(prediction: Predicted, number: int) -> str:
    count = len(prediction.results)
    failed = sum(not r.ok for r in prediction.results)
    meta = (
        f"Workflow <code>{escape(prediction.workflow_id)}</code> · {count} input"
        + ("s" if count != 1 else "")
        + (f" · {failed} failed" if failed else " · all succeeded")
    )
    spent = f'<p class="tokens">Used: {escape(used(prediction.usage))}</p>'
    articles = "\n".join(_input(f"{number}-{i}", i, r) for i, r in enumerate(prediction.results))
    return (
        f'<section class="prediction"><h2 class="meta">{meta}</h2>\n{spent}\n{articles}\n</section>'
    )


def _badge(status: Status) -> str:
    """A visible error badge with the status name and description (details on hover)."""
    if status.ok:
        return ""
    text = status.name + (f": {status.description}" if status.description else "")
    return f'<span class="badge error" title="{escape(status.details)}">{escape(text)}</span>'


def _error_text(status: Status) -> str:
    return f'<p class="error-text">{escape(status.details)}</p>' if status.details else ""


def _input(anchor: str, index: int, result: WorkflowResult) -> str:
    data = result.raw.input.data if result.raw is not None else None
    source = _source(data)
    ident = f'<span class="source">{escape(result.input_id)}</span>'
    where = f' <span class="source">{escape(source)}</span>' if source else ""
    head = f'<h3 class="input-title">Input {index} {ident}{_badge(result.status)}{where}</h3>'
    if not result.ok:
        body = _error_text(result.status)
        return f'<article class="input failed" id="input-{anchor}">{head}{body}</article>'
    colored = [(PALETTE[n % len(PALETTE)], output) for n, output in enumerate(result.outputs)]
    view = _view(data, colored) + _timeline(colored)
    models = "".join(_model(color, output) for color, output in colored)
    return (
        f'<article class="input" id="input-{anchor}">{head}'
        f'<div class="body"><div class="view">{view}</div><div class="models">{models}</div>'
        "</div></article>"
    )


def _source(data: Any) -> str:
    """The input's URL, if it came from one (shown as text, never followed)."""
    if data is None:
        return ""
    for kind in ("image", "video", "audio"):
        if data.HasField(kind) and getattr(data, kind).url:
            return str(getattr(data, kind).url)
    return str(data.text.url) if data.HasField("text") else ""


def _view(data: Any, colored: list[tuple[str, ModelOutput]]) -> str:
    """The input itself: its text with entities marked, or its picture with what the models
    located drawn over it."""
    if data is not None and data.HasField("text") and data.text.raw:
        return _marked_text(data.text.raw, colored)
    src = media_src(data.image.base64, data.image.url) if data is not None else ""
    if not src:
        return '<figure class="picture"><div class="no-picture">no preview</div></figure>'
    layers = "".join(_overlay(n, color, output) for n, (color, output) in enumerate(colored))
    # Behind a linked picture, covered once it loads: what shows when it cannot (offline, an
    # expired link); the picture keeps a height, so it never collapses under the boxes.
    note = (
        ""
        if src.startswith("data:")
        else f'<span class="unloaded">picture not loaded: {escape(src)}</span>'
    )
    return (
        f'<figure class="picture">{note}<img src="{escape(src)}" alt="input image">'
        f"{layers}</figure>"
    )


def _pct(value: float) -> str:
    return f"{min(100.0, max(0.0, value * 100)):.3f}"


def _overlay(node: int, color: str, output: ModelOutput) -> str:
    """Everything ``output`` located on the picture: masks as translucent images over their
    boxes, then one SVG layer of boxes, polygons, keypoints and points."""
    regions = [r for frame in output.frames for r in frame.regions] or list(output.regions)
    if not regions:
        return ""
    masks, shapes = [], []
    for region in regions:
        box = region.bounding_box
        label = escape(region_label(region))
        ident = escape(region.id)
        if region.mask is not None and (src := media_src(region.mask.data, region.mask.url)):
            left, top, width, height = _area(box)
            masks.append(
                f'<img class="mask" src="{escape(src)}" alt="" data-region="{ident}" '
                f'style="left: {left}%; top: {top}%; width: {width}%; height: {height}%">'
            )
        if box is not None:
            left, top, width, height = _area(box)
            shapes.append(
                f'<rect x="{left}%" y="{top}%" width="{width}%" height="{height}%" '
                f'data-region="{ident}"><title>{label}</title></rect>'
                f'<text x="{left}%" y="{top}%" dx="4" dy="15" fill="{color}">{label}</text>'
            )
        if region.polygon:
            points = " ".join(f"{_pct(p.col)},{_pct(p.row)}" for p in region.polygon)
            # Polygon points take no percentages: draw them in a 100x100 box stretched over it.
            shapes.append(
                '<svg viewBox="0 0 100 100" preserveAspectRatio="none" width="100%" '
                f'height="100%"><polygon points="{points}" fill="{color}" data-region="{ident}">'
                f"<title>{label}</title></polygon></svg>"
            )
        for kind, dots, radius in (
            ("keypoint", region.keypoints, 4),
            ("point", (region.point,), 6),
        ):
            for n, p in enumerate(d for d in dots if d is not None):
                shapes.append(
                    f'<circle class="{kind}" cx="{_pct(p.col)}%" cy="{_pct(p.row)}%" r="{radius}" '
                    f'fill="{color}" data-region="{ident}" data-n="{n}" '
                    f'data-row="{p.row:.4f}" data-col="{p.col:.4f}"><title>{label}</title></circle>'
                )
    model = escape(output.model_id)
    svg = (
        f'<svg class="overlay model-{node}" stroke="{color}" data-model="{model}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-hidden="true">{"".join(shapes)}</svg>'
        if shapes
        else ""
    )
    return "".join(masks) + svg


def _area(box: Any) -> tuple[str, str, str, str]:
    """``(left, top, width, height)`` percentages of a box; the whole picture for ``None``."""
    if box is None:
        return "0.000", "0.000", "100.000", "100.000"
    return (
        _pct(box.left_col),
        _pct(box.top_row),
        _pct(box.right_col - box.left_col),
        _pct(box.bottom_row - box.top_row),
    )


def _marked_text(text: str, colored: list[tuple[str, ModelOutput]]) -> str:
    """The input text with each span a model found marked (the first of overlapping ones)."""
    spans = sorted(
        (region.span.start, region.span.end, region, color)
        for color, output in colored
        for region in output.regions
        if region.span is not None and 0 <= region.span.start < region.span.end <= len(text)
    )
    out, at = [], 0
    for start, end, region, color in spans:
        if start < at:
            continue
        out.append(escape(text[at:start]))
        top = top_concept(region.concepts)
        label = escape(f"{top.name or top.id} {top.value:.2f}" if top else region_label(region))
        out.append(
            f'<mark style="box-shadow: inset 0 -3px {color}" title="{label}" '
            f'data-start="{start}" data-end="{end}">{escape(text[start:end])}</mark>'
        )
        at = end
    out.append(escape(text[at:]))
    return f'<blockquote class="text-input">{"".join(out)}</blockquote>'


def _timeline(colored: list[tuple[str, ModelOutput]]) -> str:
    """Segments and tracks on a time line, one lane per model and kind."""
    lanes = []
    for color, output in colored:
        for kind, items in (("segments", output.time_segments), ("tracks", output.tracks)):
            if items:
                lanes.append((color, output, kind, items))
    if not lanes:
        return ""
    duration = max(item.end_time for *_, items in lanes for item in items) or 1.0
    rows = []
    for color, output, kind, items in lanes:
        spans = []
        for item in items:
            left = 100 * item.begin_time / duration
            width = 100 * max(0.0, item.end_time - item.begin_time) / duration
            top = top_concept(item.concepts)
            what = top.name or top.id if top else item.id
            title = f"{what} {item.begin_time:.1f}-{item.end_time:.1f} s"
            spans.append(
                f'<span style="left: {left:.3f}%; width: {width:.3f}%" title="{escape(title)}" '
                f'data-begin="{item.begin_time:.4f}" data-end="{item.end_time:.4f}">'
                f"{escape(what)}</span>"
            )
        rows.append(
            f'<div class="lane-label">{escape(output.model_id)} · {kind}</div>'
            f'<div class="lane" style="--model: {color}" data-kind="{kind}" '
            f'data-duration="{duration:.4f}">{"".join(spans)}</div>'
        )
    return f'<div class="timeline">{"".join(rows)}</div>'


def _model(color: str, output: ModelOutput) -> str:
    ident = f"output {output.id}, model version {output.model_version_id}"
    head = (
        f'<h4 title="{escape(ident)}">{escape(output.model_name or output.model_id)} '
        f"<code>{escape(output.model_id)}</code>{_badge(output.status)}</h4>"
    )
    if not output.ok:
        body = _error_text(output.status)
    else:
        body = "".join(
            view.section(value) for view in VIEWS if (value := getattr(output, view.name))
        )
        if used := tokens(output):
            body += f'<p class="tokens">{escape(used)}</p>'
    return f'<section class="model" style="--model: {color}">{head}{body}</section>'
