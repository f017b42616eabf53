"""The floor of any eager conversion: reading every field the conversion reads, building nothing.

``read_all`` touches exactly the fields ``_convert`` turns into dataclasses (the embedding's
vector as a tuple of floats, the cheapest way to get them as Python objects), so the time it
takes bounds from below what any eager conversion on upb can cost.
"""

from __future__ import annotations

from typing import Any


def _concepts(messages: Any) -> None:
    for c in messages:
        c.id, c.name, c.value, c.app_id


def _regions(messages: Any) -> None:
    for r in messages:
        r.id, r.value
        info = r.region_info
        if info.HasField("bounding_box"):
            b = info.bounding_box
            b.top_row, b.left_col, b.bottom_row, b.right_col
        data = r.data
        _concepts(data.concepts)
        data.text.raw


def _status(s: Any) -> None:
    s.code, s.description, s.details, s.req_id


def read_all(results: Any) -> None:
    for result in results:
        result.id, result.input.id
        _status(result.status)
        for o in result.outputs:
            model = o.model
            o.id, model.id, model.model_version.id, model.name, o.prompt_tokens, o.completion_tokens
            _status(o.status)
            data = o.data
            _concepts(data.concepts)
            _regions(data.regions)
            for e in data.embeddings:
                tuple(e.vector), e.num_dimensions
            data.text.raw
            for f in data.frames:
                f.frame_info.index, f.frame_info.time
                _concepts(f.data.concepts)
                _regions(f.data.regions)
