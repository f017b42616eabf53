"""What the emulator answers: deterministic outputs for a workflow and its inputs, no I/O.

Every score, box, vector, picture, sound, id and timestamp comes from SHAKE-128 over the input's
content, the workflow and the node, so the same input always gets identical outputs and a result
that lands on the wrong input shows. ``MODEL_TYPES`` says, per ``model_type_id``, what a node of
that type takes and returns and how its output is made. Statuses sit where the API puts them
(``shared/real_responses/status_codes.md``): a request-wide refusal at the top with no results,
an input's failure on its result and on each of its outputs.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from clarifai_grpc.grpc.api import resources_pb2
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsRequest as Request
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as Response
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from .samples import png, wav

__all__ = [
    "FAIL_HOST",
    "MAX_INPUTS",
    "MODEL_TYPES",
    "ModelKind",
    "failure",
    "model_type",
    "respond",
    "status",
    "timestamp",
]

#: Inputs whose URL has this host fail alone, with ``INPUT_DOWNLOAD_FAILED``.
FAIL_HOST = "fail.invalid"
MAX_INPUTS = 32
_DEFAULT_MAX_CONCEPTS = 20
#: How long the emulator takes a video to be, in milliseconds.
VIDEO_MS = 3000
#: How big the emulator takes an input picture to be, in pixels (it never downloads one).
_PICTURE = (480, 320)
#: The encoding the API writes on text a model makes.
_TEXT_ENCODING = "UnknownTextEnc"
#: What the API echoes as the URL of a raw text input.
_TEXT_PLACEHOLDER = "https://samples.clarifai.com/placeholder.gif"
#: How an input URL may start; the API refuses others with ``INPUT_INVALID_URL``.
_SCHEMES = ("http://", "https://")
_MEDIA = ("image", "video", "audio")

# The emulator's calendar: each kind of timestamp falls somewhere in its own year, fixed by a
# hash, so models are made before their versions, versions before models change, and
# predictions come last.
MODELS_MADE = 1609459200  # 2021-01-01T00:00:00Z
VERSIONS_MADE = 1640995200  # 2022-01-01
MODELS_CHANGED = WORKFLOWS_MADE = 1672531200  # 2023-01-01
PREDICTED = 1704067200  # 2024-01-01
_YEAR = 365 * 86400


def status(code: int, description: str, details: str = "", req_id: str = "") -> status_pb2.Status:
    """A ``Status`` message."""
    return status_pb2.Status(code=code, description=description, details=details, req_id=req_id)


def timestamp(start: int, *parts: Any) -> Timestamp:
    """A moment in the year from ``start`` (seconds since the epoch), fixed by ``parts``; its
    nanoseconds are never 0, so the field always shows, as in the API's timestamps."""
    second, nano = _units(2, "time", *parts)
    return Timestamp(seconds=start + int(second * _YEAR), nanos=1 + int(nano * 999_999_998))


def failure(code: int, description: str, details: str = "", req_id: str = "") -> Response:
    """A response with a failing top-level status and no results."""
    return Response(status=status(code, description, details, req_id))


def respond(workflow: resources_pb2.Workflow, request: Request, req_id: str) -> Response:
    """The response to ``request`` for ``workflow``, whose nodes run in order."""
    count = len(request.inputs)
    if count == 0:
        return failure(status_code_pb2.PREDICT_INVALID_REQUEST, "No inputs", "", req_id)
    if count > MAX_INPUTS:
        return failure(
            status_code_pb2.PREDICT_INVALID_REQUEST,
            "Too many inputs",
            f"{count} inputs in one request; at most {MAX_INPUTS}",
            req_id,
        )
    unknown = _unknown_node(workflow, request)
    if unknown is not None:
        return failure(status_code_pb2.WORKFLOW_INVALID_ARGUMENT, "Unknown node", unknown, req_id)
    unsupported = _unsupported(workflow, request)
    if unsupported is not None:  # the API refuses the whole request (Clarifai's Node SDK tests)
        return failure(
            status_code_pb2.INPUT_UNSUPPORTED_FORMAT,
            "Input format unsupported",
            unsupported,
            req_id,
        )
    config = _Config(request.output_config)
    results = [_result(workflow, inp, config) for inp in request.inputs]
    failed = sum(r.status.code != status_code_pb2.SUCCESS for r in results)
    if not failed:
        code, description = status_code_pb2.SUCCESS, "Ok"
    elif failed == len(results):
        code, description = status_code_pb2.FAILURE, "Failure"
    else:
        code, description = status_code_pb2.MIXED_STATUS, "Mixed Success"
    response = Response(
        status=status(code, description, "", req_id),
        workflow=resources_pb2.Workflow(
            id=workflow.id, app_id=workflow.app_id, created_at=workflow.created_at
        ),
        results=results,
    )
    if request.workflow_state.id:  # a stateful workflow answers with its state
        response.workflow_state.id = request.workflow_state.id
    return response


def _unknown_node(workflow: resources_pb2.Workflow, request: Request) -> str | None:
    """What is wrong with the request's node runner selectors, if anything: a node the
    workflow does not have, or a selector that names no deployment or nodepool."""
    nodes = [node.id for node in workflow.nodes]
    for node_id, selector in request.node_runner_selectors.items():
        if node_id not in nodes:
            return (
                f"node_runner_selectors names node {node_id!r}, which workflow {workflow.id!r} "
                f"does not have; its nodes: {', '.join(nodes)}"
            )
        pool = selector.nodepool
        if not (selector.deployment.id or (pool.id and pool.compute_cluster.id)):
            return f"node_runner_selectors[{node_id!r}] names no deployment or nodepool"
    return None


def _unsupported(workflow: resources_pb2.Workflow, request: Request) -> str | None:
    """Why the workflow's first model cannot take an input of the request (an image sent to a
    text workflow), or ``None``."""
    first = workflow.nodes[0].model
    kind = MODEL_TYPES[first.model_type_id]
    for index, inp in enumerate(request.inputs):
        for data in [part.data for part in inp.data.parts] or [inp.data]:
            given = _kind(data)
            if given and not kind.takes(given):
                return (
                    f"inputs[{index}] is {given}; workflow {workflow.id!r} starts with model "
                    f"{first.id!r} ({first.model_type_id}), which takes {', '.join(kind.inputs)}"
                )
    return None


class _Config:
    __slots__ = ("max_concepts", "min_value")

    def __init__(self, config: resources_pb2.OutputConfig) -> None:
        self.max_concepts = config.max_concepts or _DEFAULT_MAX_CONCEPTS
        self.min_value = config.min_value


def _kind(data: resources_pb2.Data) -> str:
    """What ``data`` holds: ``multimodal`` (parts), else the first of ``image``, ``video``,
    ``audio`` and ``text`` it has, or ``""`` when it holds nothing to predict on."""
    if data.parts:
        return "multimodal"
    for kind in _MEDIA:
        media = getattr(data, kind)
        if media.url or media.base64:
            return kind
    return "text" if data.text.url or data.text.raw else ""


def _content(inp: resources_pb2.Input) -> tuple[bytes, str, str]:
    """``(hash key, kind, url)`` of an input's content (a multimodal one's: its parts')."""
    data = inp.data
    kind = _kind(data)
    if kind == "multimodal":
        keys = [_content(resources_pb2.Input(data=part.data))[0] for part in data.parts]
        return b"parts:" + b"\x00".join(keys), kind, ""
    if kind in _MEDIA:
        media = getattr(data, kind)
        if media.url:
            return f"{kind}:url:{media.url}".encode(), kind, media.url
        return kind.encode() + b":bytes:" + hashlib.sha256(media.base64).digest(), kind, ""
    if data.text.url:
        return f"text:url:{data.text.url}".encode(), kind, data.text.url
    return b"text:raw:" + data.text.raw.encode(), kind, ""


def _digest(*parts: Any, size: int = 16) -> bytes:
    h = hashlib.shake_128()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\x00")
    return h.digest(size)


def _units(count: int, *parts: Any) -> tuple[float, ...]:
    """``count`` floats uniform in [0, 1), fixed by ``parts``."""
    raw = _digest(*parts, size=4 * count)
    return tuple(v / 4294967296.0 for v in struct.unpack(f"<{count}I", raw))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _problem(kind: str, url: str) -> status_pb2.Status | None:
    """The failing status of an input the API cannot use, or ``None``."""
    if not kind:
        return status(
            status_code_pb2.INPUT_INVALID_ARGUMENT,
            "Input invalid argument",
            "the input has no data: give it an image, video, audio or text",
        )
    if url and not url.lower().startswith(_SCHEMES):
        return status(
            status_code_pb2.INPUT_INVALID_URL,
            "Input image URL invalid",
            f"{url!r} is not an http(s) URL",
        )
    if url and _host(url) == FAIL_HOST:
        # Worded as the API words a failed download (Clarifai's client tests).
        return status(
            status_code_pb2.INPUT_DOWNLOAD_FAILED,
            "Input download failed",
            f"404 Client Error: Not Found for url: {url}",
        )
    return None


def _result(
    workflow: resources_pb2.Workflow,
    inp: resources_pb2.Input,
    config: _Config,
) -> resources_pb2.WorkflowResult:
    """One input's result: its outputs, or its failure on the result and on each output."""
    key, kind, url = _content(inp)
    input_id = inp.id or _digest(key, "input").hex()
    echo = resources_pb2.Input(id=input_id, data=inp.data)
    if kind == "text" and not url:
        echo.data.text.url = _TEXT_PLACEHOLDER
    problem = _problem(kind, url)
    if problem is None:
        outputs = _run(workflow, key, kind, inp, config)
    else:  # each node reports the input's failure, as the API's outputs do
        outputs = [
            _output(workflow.id, index, node, key, problem)
            for index, node in enumerate(workflow.nodes)
            if not node.suppress_output
        ]
    return resources_pb2.WorkflowResult(
        id=_digest(key, workflow.id, "result").hex(),
        status=problem or status(status_code_pb2.SUCCESS, "Ok"),
        input=echo,
        outputs=outputs,
    )


def _run(
    workflow: resources_pb2.Workflow,
    key: bytes,
    kind: str,
    inp: resources_pb2.Input,
    config: _Config,
) -> list[resources_pb2.Output]:
    """Each node's output for an input, in node order; a node with ``node_inputs`` works from
    its parent's output. Suppressed nodes run (their children need them) but are left out."""
    made: dict[str, resources_pb2.Output] = {}
    outputs = []
    for index, node in enumerate(workflow.nodes):
        output = _output(workflow.id, index, node, key, status(status_code_pb2.SUCCESS, "Ok"))
        parent = made.get(node.node_inputs[0].node_id) if node.node_inputs else None
        model = node.model
        MODEL_TYPES[model.model_type_id].produce(
            _Node(workflow.id, node, key, kind, inp, config, parent), output
        )
        if model.model_version.method_signatures and output.data.text.raw:
            _as_runner_answer(output)
        made[node.id] = output
        if not node.suppress_output:
            outputs.append(output)
    return outputs


class _Node:
    """One node meeting one input: what a producer works from."""

    __slots__ = ("model", "seed", "kind", "input", "config", "parent")

    def __init__(
        self,
        workflow_id: str,
        node: resources_pb2.WorkflowNode,
        key: bytes,
        kind: str,
        inp: resources_pb2.Input,
        config: _Config,
        parent: resources_pb2.Output | None,
    ) -> None:
        self.model = node.model
        self.seed = (key, workflow_id, node.id)
        self.kind = kind
        self.input = inp
        self.config = config
        #: The output of the node named in ``node_inputs``, if any.
        self.parent = parent

    def param(self, name: str, default: float) -> float:
        value = self.model.output_info.params.fields.get(name)
        return value.number_value if value is not None else default

    def units(self, count: int, *parts: Any) -> tuple[float, ...]:
        return _units(count, *self.seed, *parts)

    def ranked(self, *parts: Any) -> list[resources_pb2.Concept]:
        """The model's concepts, scored for this input, best first."""
        vocabulary = self.model.output_info.data.concepts
        scores = self.units(len(vocabulary), *parts)
        ranked = sorted(zip(scores, range(len(vocabulary)), strict=True), reverse=True)
        return [
            resources_pb2.Concept(
                id=vocabulary[i].id, name=vocabulary[i].name, value=score, app_id=self.model.app_id
            )
            for score, i in ranked
        ]

    def concepts(self, *parts: Any) -> list[resources_pb2.Concept]:
        """The ranked concepts that ``output_config`` lets through."""
        config = self.config
        return [c for c in self.ranked(*parts) if c.value >= config.min_value][
            : config.max_concepts
        ]

    def box(self, *parts: Any) -> resources_pb2.BoundingBox:
        top, left, height, width = self.units(4, "box", *parts)
        return resources_pb2.BoundingBox(
            top_row=round(top * 0.6, 4),
            left_col=round(left * 0.6, 4),
            bottom_row=round(top * 0.6 + 0.1 + height * 0.3, 4),
            right_col=round(left * 0.6 + 0.1 + width * 0.3, 4),
        )

    def count(self, limit: int, *parts: Any) -> int:
        """A number from 1 to ``limit``."""
        return 1 + int(self.units(1, "count", *parts)[0] * limit)


def _output(
    workflow_id: str,
    index: int,
    node: resources_pb2.WorkflowNode,
    key: bytes,
    outcome: status_pb2.Status,
) -> resources_pb2.Output:
    """Node ``index``'s output for an input, before its data: ids, status, time and model."""
    # One moment per input, each node's output a few microseconds after the one before, as in
    # the API's results.
    moment = timestamp(PREDICTED, key, workflow_id)
    return resources_pb2.Output(
        id=_digest(key, workflow_id, node.id, "output").hex(),
        status=outcome,
        created_at=Timestamp(seconds=moment.seconds, nanos=moment.nanos // 2 + 1 + index * 8_000),
        model=_model_echo(node.model),
    )


def _model_echo(model: resources_pb2.Model) -> resources_pb2.Model:
    """The model as an output names it, as published outputs do: ids, owner, times, visibility
    and its trained version; its vocabulary and settings stay out."""
    version = model.model_version
    return resources_pb2.Model(
        id=model.id,
        name=model.name,
        created_at=model.created_at,
        modified_at=model.modified_at,
        app_id=model.app_id,
        user_id=model.user_id,
        model_type_id=model.model_type_id,
        visibility=model.visibility,
        model_version=resources_pb2.ModelVersion(
            id=version.id,
            created_at=version.created_at,
            status=version.status,
            visibility=version.visibility,
            app_id=version.app_id,
            user_id=version.user_id,
        ),
    )


def _as_runner_answer(output: resources_pb2.Output) -> None:
    """Reshape a text answer as a model-runner model gives it (a version with method
    signatures): the text as the ``return`` part, no token counts, and an empty status
    description, as in Clarifai's published runner output."""
    answer = output.data.text.raw
    output.data.ClearField("text")
    output.data.parts.add(id="return").data.string_value = answer
    for name in ("prompt_tokens", "completion_tokens", "cached_tokens"):
        output.ClearField(name)
    output.status.description = ""


# --- what each model type produces ----------------------------------------------------------


def _classify(node: _Node, output: resources_pb2.Output) -> None:
    data = output.data
    fed = node.parent.data.regions if node.parent is not None else ()
    if fed:  # fed regions (a crop's): a verdict per region, as Face-Sentiment's classifier gives
        for region in fed:
            data.regions.add(
                id=region.id,
                region_info=resources_pb2.RegionInfo(bounding_box=region.region_info.bounding_box),
                data=resources_pb2.Data(concepts=node.concepts("region", region.id)),
            )
        return
    if node.kind != "video":
        data.concepts.extend(node.concepts("concepts"))
        return
    every = node.input.settings.sample_rate_ms or 1000
    count = int(node.param("frames", 0)) or max(1, math.ceil(VIDEO_MS / every))
    for index in range(count):
        data.frames.add(
            id=_digest(*node.seed, "frame", index).hex(),
            frame_info=resources_pb2.FrameInfo(index=index, time=index * every),
            data=resources_pb2.Data(concepts=node.concepts("frame", index)),
        )


def _embed(node: _Node, output: resources_pb2.Output) -> None:
    dims = int(node.param("dimensions", 512))
    vector = [2 * u - 1 for u in node.units(dims, "embedding")]
    output.data.embeddings.add(vector=vector, num_dimensions=dims)


def _regions(node: _Node, output: resources_pb2.Output, default_limit: int) -> list[Any]:
    """Regions with a box each, scored by their top concept; returns them to fill in."""
    count = node.count(int(node.param("max_regions", default_limit)))
    regions = []
    for index in range(count):
        ranked = node.ranked("region", index)
        region = output.data.regions.add(
            id=_digest(*node.seed, "region", index).hex(), value=ranked[0].value
        )
        region.region_info.bounding_box.CopyFrom(node.box(index))
        regions.append((region, ranked))
    return regions


def _detect(node: _Node, output: resources_pb2.Output) -> None:
    for region, ranked in _regions(node, output, 5):
        region.data.concepts.extend(ranked[:3])


def _read_text(node: _Node, output: resources_pb2.Output) -> None:
    for region, ranked in _regions(node, output, 4):
        _text(region.data.text, " ".join(c.name for c in ranked[:2]))


def _text(text: resources_pb2.Text, raw: str) -> None:
    """Text a model makes, marked with the encoding the API writes."""
    text.raw = raw
    text.text_info.encoding = _TEXT_ENCODING


def _crop(node: _Node, output: resources_pb2.Output) -> None:
    """The parent's regions (a detector's), each widened by ``margin`` (1.1, as Clarifai's
    ``margin-110`` crop) and cut out: the crop's box and, as its ``data.image``, its picture (a
    flat PNG stands in for the pixels the emulator never downloads)."""
    margin = node.param("margin", 1.1)
    fed = node.parent.data.regions if node.parent is not None else ()
    for index, region in enumerate(fed):
        crop = output.data.regions.add(id=_digest(*node.seed, "crop", region.id).hex())
        box = crop.region_info.bounding_box
        box.CopyFrom(_widened(region.region_info.bounding_box, margin))
        width = max(1, round((box.right_col - box.left_col) * _PICTURE[0]))
        height = max(1, round((box.bottom_row - box.top_row) * _PICTURE[1]))
        shade = bytes(int(u * 255) for u in node.units(3, "crop", index))
        image = crop.data.image
        image.base64 = png(width, height, [bytearray(shade * width)] * height)
        # The color mode the API writes on its crops.
        image.image_info.CopyFrom(
            resources_pb2.ImageInfo(
                width=width, height=height, format="PNG", color_mode="UnknownColorMode"
            )
        )


def _extent(box: resources_pb2.BoundingBox) -> tuple[float, float, float, float]:
    """``(middle row, middle column, half height, half width)`` of ``box``."""
    return (
        (box.top_row + box.bottom_row) / 2,
        (box.left_col + box.right_col) / 2,
        (box.bottom_row - box.top_row) / 2,
        (box.right_col - box.left_col) / 2,
    )


def _widened(box: resources_pb2.BoundingBox, margin: float) -> resources_pb2.BoundingBox:
    """``box`` grown ``margin`` times about its middle, within the picture."""
    middle_row, middle_col, half_rows, half_cols = _extent(box)
    return resources_pb2.BoundingBox(
        top_row=round(max(0.0, middle_row - half_rows * margin), 4),
        left_col=round(max(0.0, middle_col - half_cols * margin), 4),
        bottom_row=round(min(1.0, middle_row + half_rows * margin), 4),
        right_col=round(min(1.0, middle_col + half_cols * margin), 4),
    )


def _segment(node: _Node, output: resources_pb2.Output) -> None:
    """Masks (a filled ellipse over the box, as a PNG) and the ellipse as a polygon."""
    for index, (region, ranked) in enumerate(_regions(node, output, 3)):
        region.data.concepts.extend(ranked[:1])
        width, height = 48, 32
        shade = 160 + int(node.units(1, "shade", index)[0] * 95)
        rows = []
        for y in range(height):
            row = bytearray()
            for x in range(width):
                inside = ((x + 0.5) / width - 0.5) ** 2 + ((y + 0.5) / height - 0.5) ** 2 < 0.25
                row += bytes((shade,) * 3 if inside else (0, 0, 0))
            rows.append(row)
        info = region.region_info
        info.mask.image.base64 = png(width, height, rows)
        info.mask.image.image_info.width, info.mask.image.image_info.height = width, height
        middle_row, middle_col, half_rows, half_cols = _extent(info.bounding_box)
        for k in range(12):
            angle = 2 * math.pi * k / 12
            info.polygon.points.add(
                row=round(middle_row + half_rows * math.sin(angle), 4),
                col=round(middle_col + half_cols * math.cos(angle), 4),
            )


# Where a keypointer's points sit within a person's box, as (row, col) fractions of the box.
_SKELETON = ((0.1, 0.5), (0.3, 0.2), (0.3, 0.8), (0.6, 0.5), (0.95, 0.3), (0.95, 0.7))


def _keypoints(node: _Node, output: resources_pb2.Output) -> None:
    for index, (region, ranked) in enumerate(_regions(node, output, 2)):
        region.data.concepts.extend(ranked[:1])
        box = region.region_info.bounding_box
        jitter = node.units(2 * len(_SKELETON), "keypoints", index)
        for k, (row, col) in enumerate(_SKELETON):
            region.region_info.keypoint_locations.add(
                row=round(
                    box.top_row
                    + (row + (jitter[2 * k] - 0.5) * 0.05) * (box.bottom_row - box.top_row),
                    4,
                ),
                col=round(
                    box.left_col
                    + (col + (jitter[2 * k + 1] - 0.5) * 0.05) * (box.right_col - box.left_col),
                    4,
                ),
            )


_WORD = re.compile(r"\w+")


def _entities(node: _Node, output: resources_pb2.Output) -> None:
    """Named entities: capitalized words of the input text, each a span with its label."""
    text = node.input.data.text.raw
    for index, word in enumerate(m for m in _WORD.finditer(text) if m.group()[0].isupper()):
        ranked = node.ranked("entity", word.group())
        region = output.data.regions.add(
            id=_digest(*node.seed, "entity", index).hex(), value=ranked[0].value
        )
        region.region_info.span.CopyFrom(
            resources_pb2.Span(char_start=word.start(), char_end=word.end(), raw_text=word.group())
        )
        region.data.concepts.append(ranked[0])


# The W3C names the color recognizer answers with, and their colors.
_W3C = {
    "Black": (0, 0, 0),
    "White": (255, 255, 255),
    "Gray": (128, 128, 128),
    "Red": (255, 0, 0),
    "Orange": (255, 165, 0),
    "Gold": (255, 215, 0),
    "Green": (0, 128, 0),
    "Teal": (0, 128, 128),
    "SteelBlue": (70, 130, 180),
    "Navy": (0, 0, 128),
    "Purple": (128, 0, 128),
    "Brown": (165, 42, 42),
    "YellowGreen": (154, 205, 50),
    "Khaki": (240, 230, 140),
    "Pink": (255, 192, 203),
    "Turquoise": (64, 224, 208),
    "SkyBlue": (135, 206, 235),
    "Olive": (128, 128, 0),
    "Maroon": (128, 0, 0),
    "Salmon": (250, 128, 114),
}


def _colors(node: _Node, output: resources_pb2.Output) -> None:
    count = node.count(4)
    shares = node.units(count, "shares")
    total = sum(shares)
    for index in range(count):
        r, g, b = (int(u * 255) for u in node.units(3, "color", index))
        name, (wr, wg, wb) = min(
            _W3C.items(),
            key=lambda item: sum((a - c) ** 2 for a, c in zip(item[1], (r, g, b), strict=True)),
        )
        output.data.colors.add(
            raw_hex=f"#{r:02x}{g:02x}{b:02x}",
            w3c=resources_pb2.W3C(hex=f"#{wr:02x}{wg:02x}{wb:02x}", name=name),
            value=round(shares[index] / total, 4),
        )


def _cluster(node: _Node, output: resources_pb2.Output) -> None:
    for index in range(node.count(2)):
        count, score = node.units(2, "cluster", index)
        output.data.clusters.add(
            id=f"cluster-{int(node.units(1, 'id', index)[0] * 64):02d}",
            count=1 + int(count * 500),
            score=round(score, 4),
            # Where the input sits on the cluster map (two coordinates, as the API gives).
            projection=[round(2 * u - 1, 4) for u in node.units(2, "projection", index)],
        )


def _generate_image(node: _Node, output: resources_pb2.Output) -> None:
    """A picture of two colors and a band, drawn for this input."""
    width, height = 96, 64
    top, bottom, band = ([int(u * 255) for u in node.units(3, "color", n)] for n in range(3))
    rows = []
    for y in range(height):
        t = y / (height - 1)
        pixel = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        row = bytearray(pixel * width)
        if height // 3 <= y < height // 2:
            row[24 * 3 : 72 * 3] = bytes(band) * 48
        rows.append(row)
    image = output.data.image
    image.base64 = png(width, height, rows)
    image.image_info.width, image.image_info.height = width, height
    image.image_info.format = "PNG"


def _speak(node: _Node, output: resources_pb2.Output) -> None:
    """A short tone for this input's text, as an 8 kHz WAV."""
    rate, seconds = 8000, 0.4
    pitch = 300 + 400 * node.units(1, "pitch")[0]
    samples = bytes(
        int(128 + 90 * math.sin(2 * math.pi * pitch * i / rate)) for i in range(int(rate * seconds))
    )
    audio = output.data.audio
    audio.base64 = wav(samples, rate)
    audio.audio_info.audio_format = "WAV"
    audio.audio_info.sample_rate = rate
    audio.audio_info.duration_seconds = seconds


def _track(node: _Node, output: resources_pb2.Output) -> None:
    """Objects followed through the video (tracks, with a box per second), and what happens when
    (time segments)."""
    seconds = VIDEO_MS / 1000
    data = output.data
    for index in range(node.count(2, "tracks")):
        begin, length = node.units(2, "track", index)
        begin = round(begin * seconds / 2, 2)
        end = round(min(seconds, begin + 0.5 + length * seconds / 2), 2)
        ranked = node.ranked("track", index)
        track = data.tracks.add(
            id=f"track-{index + 1}",
            time_info=resources_pb2.TimeInfo(begin_time=begin, end_time=end),
        )
        track.data.concepts.append(ranked[0])
        for second in range(int(begin), int(end) + 1):
            track.data.regions.add(
                id=_digest(*node.seed, "track", index, second).hex(),
                value=ranked[0].value,
                track_id=track.id,
                region_info=resources_pb2.RegionInfo(bounding_box=node.box(index, second)),
            )
    edges = [0.0, *sorted(round(u * seconds, 2) for u in node.units(2, "cuts")), seconds]
    for index, (begin, end) in enumerate(zip(edges, edges[1:], strict=False)):
        if end > begin:
            data.time_segments.add(
                id=f"segment-{index + 1}",
                time_info=resources_pb2.TimeInfo(begin_time=begin, end_time=end),
                data=resources_pb2.Data(concepts=node.concepts("segment", index)[:2]),
            )


_VOCABULARY = "the a station train arrives city light morning busy people quiet evening".split()


def _words(node: _Node, count: int) -> str:
    """``count`` words made for the input."""
    return " ".join(_VOCABULARY[int(u * len(_VOCABULARY))] for u in node.units(count, "words"))


def _write(node: _Node, output: resources_pb2.Output) -> None:
    """A text answer made for the input, and the tokens it took: words stand in for tokens, and
    a prompt seen before (every prompt, here) has half its tokens cached."""
    prompt = node.input.data.text.raw or node.input.data.text.url
    answer = f"Answer: {_words(node, 12).capitalize()}."
    _text(output.data.text, answer)
    output.prompt_tokens = len(prompt.split()) + 8
    output.completion_tokens = len(answer.split())
    output.cached_tokens = output.prompt_tokens // 2


def _answer_parts(node: _Node, output: resources_pb2.Output) -> None:
    """A multimodal model's answer: first what it received, part by part (so a test can see
    each part arrived, in order), then words made for the input."""
    data = node.input.data
    parts = [part.data for part in data.parts] or [data]
    seen = "; ".join(_summary(part) for part in parts)
    _write(node, output)
    output.data.text.raw = f"Received {len(parts)} part{'s' * (len(parts) != 1)}: {seen}. " + (
        output.data.text.raw
    )
    output.prompt_tokens = sum(len(p.text.raw.split()) or 85 for p in parts) + 8


def _transcribe(node: _Node, output: resources_pb2.Output) -> None:
    """Words heard in the input's sound, in capitals, as speech recognizers write them."""
    _text(output.data.text, _words(node, 6).upper())


def _summary(data: resources_pb2.Data) -> str:
    """One part, in a few words: ``text 'What is here?'``, ``image https://...``,
    ``image 1234 bytes``."""
    for kind in ("image", "video", "audio"):
        media = getattr(data, kind)
        if media.url or media.base64:
            return f"{kind} {media.url}" if media.url else f"{kind} {len(media.base64)} bytes"
    if data.text.url:
        return f"text {data.text.url}"
    return f"text {data.text.raw!r}"


@dataclass(frozen=True)
class ModelKind:
    """What a node of one ``model_type_id`` takes and gives, and how its output is made.

    ``inputs`` and ``outputs`` are the fields the API lists for the type (``GetModelType``);
    ``needs_concepts`` says whether a fixture must give the model a vocabulary.
    """

    produce: Callable[[_Node, resources_pb2.Output], None]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    needs_concepts: bool = True

    def takes(self, kind: str) -> bool:
        """Whether a workflow starting with this type takes a request input of ``kind``: one of
        its input fields, or a video where it takes images (the API samples the frames)."""
        return kind in self.inputs or (kind == "video" and "image" in self.inputs)


#: The ``model_type_id`` values the emulator answers for.
MODEL_TYPES: dict[str, ModelKind] = {
    "visual-classifier": ModelKind(_classify, ("image",), ("concepts", "frames")),
    "text-classifier": ModelKind(_classify, ("text",), ("concepts",)),
    "visual-embedder": ModelKind(_embed, ("image",), ("embeddings",), needs_concepts=False),
    "text-embedder": ModelKind(_embed, ("text",), ("embeddings",), needs_concepts=False),
    "visual-detector": ModelKind(_detect, ("image",), ("regions",)),
    "image-crop": ModelKind(_crop, ("image", "regions"), ("regions",), needs_concepts=False),
    "ocr": ModelKind(_read_text, ("image",), ("regions",)),
    "visual-segmenter": ModelKind(_segment, ("image",), ("regions",)),
    "visual-keypointer": ModelKind(_keypoints, ("image",), ("regions",)),
    "text-token-classifier": ModelKind(_entities, ("text",), ("regions",)),
    "color-recognizer": ModelKind(_colors, ("image",), ("colors",), needs_concepts=False),
    "clusterer": ModelKind(_cluster, ("embeddings",), ("clusters",), needs_concepts=False),
    "image-to-image": ModelKind(_generate_image, ("image",), ("image",), needs_concepts=False),
    "text-to-audio": ModelKind(_speak, ("text",), ("audio",), needs_concepts=False),
    "audio-to-text": ModelKind(_transcribe, ("audio",), ("text",), needs_concepts=False),
    "visual-tracker": ModelKind(_track, ("video",), ("tracks", "time_segments")),
    "text-to-text": ModelKind(_write, ("text",), ("text",), needs_concepts=False),
    "multimodal-to-text": ModelKind(
        _answer_parts, ("text", "image", "video", "audio"), ("text",), needs_concepts=False
    ),
}


def model_type(model_type_id: str) -> resources_pb2.ModelType | None:
    """The ``ModelType`` for ``model_type_id``, or ``None`` when the emulator has no such type."""
    kind = MODEL_TYPES.get(model_type_id)
    if kind is None:
        return None
    return resources_pb2.ModelType(
        id=model_type_id, input_fields=list(kind.inputs), output_fields=list(kind.outputs)
    )
