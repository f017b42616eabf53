"""The floor of any eager conversion: reading every field the conversion reads, building nothing.

``read_all`` finds the kinds of output each message has the way the conversion does (one
``ListFields`` call) and reads every field of them it converts (an embedding's vector as a tuple
of floats, the cheapest way to get them as Python objects), so the time it takes bounds from
below what any eager conversion on upb can cost.
"""

from __future__ import annotations

from typing import Any, Callable


def _concepts(messages: Any) -> None:
    for c in messages:
        c.id, c.name, c.value, c.app_id


def _box(b: Any) -> None:
    b.top_row, b.left_col, b.bottom_row, b.right_col


def _points(points: Any) -> None:
    for p in points:
        p.row, p.col


def _media(m: Any) -> None:
    m.url, m.base64


_REGION_INFO: dict[str, Callable[[Any], Any]] = {
    "bounding_box": _box,
    "mask": lambda m: _media(m.image),
    "polygon": lambda p: _points(p.points),
    "point": lambda p: (p.row, p.col),
    "span": lambda s: (s.char_start, s.char_end, s.raw_text),
    "token": lambda s: (s.char_start, s.char_end, s.raw_text),
    "keypoint_locations": _points,
}


def _regions(messages: Any) -> None:
    for r in messages:
        r.id, r.value, r.track_id
        for field, value in r.region_info.ListFields():
            _REGION_INFO[field.name](value)
        for field, value in r.data.ListFields():
            if field.name == "concepts":
                _concepts(value)
            elif field.name == "text":
                value.raw


def _embeddings(messages: Any) -> None:
    for e in messages:
        tuple(e.vector), e.num_dimensions


def _frames(messages: Any) -> None:
    for f in messages:
        f.frame_info.index, f.frame_info.time
        _concepts(f.data.concepts)
        _regions(f.data.regions)


# The kinds the bench workload has; others are read the same way, by ``ListFields``.
_DATA: dict[str, Callable[[Any], Any]] = {
    "concepts": _concepts,
    "regions": _regions,
    "embeddings": _embeddings,
    "text": lambda t: t.raw,
    "frames": _frames,
}


def _status(s: Any) -> None:
    s.code, s.description, s.details, s.req_id


def read_all(results: Any) -> None:
    for result in results:
        result.id, result.input.id
        _status(result.status)
        for o in result.outputs:
            model = o.model
            o.id, model.id, model.model_version.id, model.name
            o.prompt_tokens, o.completion_tokens, o.cached_tokens
            _status(o.status)
            for field, value in o.data.ListFields():
                read = _DATA.get(field.name)
                if read is not None:
                    read(value)
