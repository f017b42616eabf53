"""What a service reads of a prediction, on our objects and on the raw protobuf alike.

``top_concepts`` is the typical read: the top concept of each output of each result (the API
returns concepts best first). ``every_field`` reads every field of every result object of the
bench workload (concepts, embeddings, regions with boxes and concepts) and every other kind of
output too, attribute by attribute, as code that uses everything would: the counterpart of
``floor.read_all`` on the protobuf.
"""

from __future__ import annotations

from typing import Any


def top_concepts(prediction: Any) -> None:
    for result in prediction.results:
        for output in result.outputs:
            concepts = output.concepts
            if concepts:
                concepts[0].name, concepts[0].value


def top_concepts_raw(response: Any) -> None:
    for result in response.results:
        for output in result.outputs:
            concepts = output.data.concepts
            if concepts:
                concepts[0].name, concepts[0].value


def _status(s: Any) -> None:
    s.code, s.name, s.description, s.details, s.req_id


def _concepts(concepts: Any) -> None:
    for c in concepts:
        c.id, c.name, c.value, c.app_id


def _regions(regions: Any) -> None:
    for r in regions:
        r.id, r.value, r.text, r.mask, r.polygon, r.point, r.span, r.keypoints, r.track_id
        box = r.bounding_box
        if box is not None:
            box.top_row, box.left_col, box.bottom_row, box.right_col
        _concepts(r.concepts)


def every_field(prediction: Any) -> None:
    _status(prediction.status)
    for result in prediction.results:
        result.id, result.input_id
        _status(result.status)
        for o in result.outputs:
            o.id, o.model_id, o.model_version_id, o.model_name
            o.prompt_tokens, o.completion_tokens, o.cached_tokens
            _status(o.status)
            _concepts(o.concepts)
            _regions(o.regions)
            for e in o.embeddings:
                e.vector, e.num_dimensions
            o.text, o.frames, o.colors, o.clusters, o.image, o.video, o.audio, o.heatmaps
            o.time_segments, o.tracks, o.metadata, o.value, o.parts, o.ndarray
