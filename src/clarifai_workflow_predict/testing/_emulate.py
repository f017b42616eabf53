"""What the emulator answers: deterministic outputs for a workflow and its inputs, no I/O.

Every score, box, vector and id comes from SHAKE-128 over the input's content, the workflow and
the node, so the same input always gets identical outputs and a result that lands on the wrong
input shows.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from clarifai_grpc.grpc.api import resources_pb2
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsRequest as Request
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsResponse as Response
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

__all__ = ["FAIL_HOST", "MAX_INPUTS", "respond", "failure", "model_type", "status"]

#: Inputs whose URL has this host fail alone, with ``INPUT_DOWNLOAD_FAILED``.
FAIL_HOST = "fail.invalid"
MAX_INPUTS = 32
_DEFAULT_MAX_CONCEPTS = 20


def status(code: int, description: str, details: str = "", req_id: str = "") -> status_pb2.Status:
    return status_pb2.Status(code=code, description=description, details=details, req_id=req_id)


def failure(code: int, description: str, details: str = "", req_id: str = "") -> Response:
    """A response with a failing top-level status and no results."""
    return Response(status=status(code, description, details, req_id))


# What each model type the emulator knows takes and gives (``GetModelType``), by field name.
_MODEL_TYPES = {
    "visual-classifier": (("image",), ("concepts",)),
    "text-classifier": (("text",), ("concepts",)),
    "visual-embedder": (("image",), ("embeddings",)),
    "text-embedder": (("text",), ("embeddings",)),
    "visual-detector": (("image",), ("regions",)),
    "ocr": (("image",), ("regions",)),
}


def model_type(model_type_id: str) -> resources_pb2.ModelType | None:
    """The ``ModelType`` for ``model_type_id``, or ``None`` when the emulator has no such type."""
    fields = _MODEL_TYPES.get(model_type_id)
    if fields is None:
        return None
    inputs, outputs = fields
    return resources_pb2.ModelType(
        id=model_type_id, input_fields=list(inputs), output_fields=list(outputs)
    )


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
    config = _Config(request.output_config)
    results = [_result(workflow, inp, config) for inp in request.inputs]
    failed = any(r.status.code != status_code_pb2.SUCCESS for r in results)
    top = (
        status(status_code_pb2.MIXED_STATUS, "Mixed Success", "", req_id)
        if failed
        else status(status_code_pb2.SUCCESS, "Ok", "", req_id)
    )
    return Response(
        status=top,
        workflow=resources_pb2.Workflow(id=workflow.id),
        results=results,
    )


class _Config:
    __slots__ = ("max_concepts", "min_value")

    def __init__(self, config: resources_pb2.OutputConfig) -> None:
        self.max_concepts = config.max_concepts or _DEFAULT_MAX_CONCEPTS
        self.min_value = config.min_value


def _content(inp: resources_pb2.Input) -> tuple[bytes, str, str]:
    """``(hash key, kind, url)`` of an input's content."""
    data = inp.data
    for kind in ("image", "video", "audio"):
        media = getattr(data, kind)
        if media.url:
            return f"{kind}:url:{media.url}".encode(), kind, media.url
        if media.base64:
            return kind.encode() + b":bytes:" + hashlib.sha256(media.base64).digest(), kind, ""
    text = data.text
    if text.url:
        return f"text:url:{text.url}".encode(), "text", text.url
    return b"text:raw:" + text.raw.encode(), "text", ""


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
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _result(
    workflow: resources_pb2.Workflow,
    inp: resources_pb2.Input,
    config: _Config,
) -> resources_pb2.WorkflowResult:
    key, kind, url = _content(inp)
    input_id = inp.id or _digest(key, "input").hex()
    echo = resources_pb2.Input(id=input_id, data=inp.data)
    result_id = _digest(key, workflow.id, "result").hex()
    if url and _host(url) == FAIL_HOST:
        return resources_pb2.WorkflowResult(
            id=result_id,
            status=status(
                status_code_pb2.INPUT_DOWNLOAD_FAILED,
                "Input download failed",
                f"could not fetch {url}",
            ),
            input=echo,
        )
    outputs = [
        _output(workflow.id, node, key, kind, config)
        for node in workflow.nodes
        if not node.suppress_output
    ]
    return resources_pb2.WorkflowResult(
        id=result_id,
        status=status(status_code_pb2.SUCCESS, "Ok"),
        input=echo,
        outputs=outputs,
    )


def _output(
    workflow_id: str, node: resources_pb2.WorkflowNode, key: bytes, kind: str, config: _Config
) -> resources_pb2.Output:
    model = node.model
    seed = (key, workflow_id, node.id)
    params = model.output_info.params
    kind_of_model = model.model_type_id
    data = resources_pb2.Data()
    if kind_of_model in ("visual-classifier", "text-classifier"):
        if kind == "video":
            data.frames.extend(_frames(model, seed, config, int(_param(params, "frames", 3))))
        else:
            data.concepts.extend(_concepts(model, seed, config))
    elif kind_of_model in ("visual-embedder", "text-embedder"):
        dims = int(_param(params, "dimensions", 512))
        vector = [2 * u - 1 for u in _units(dims, *seed, "embedding")]
        data.embeddings.add(vector=vector, num_dimensions=dims)
    else:  # visual-detector, ocr
        limit = int(_param(params, "max_regions", 5 if kind_of_model == "visual-detector" else 4))
        data.regions.extend(_regions(model, seed, limit, ocr=kind_of_model == "ocr"))
    return resources_pb2.Output(
        id=_digest(*seed, "output").hex(),
        status=status(status_code_pb2.SUCCESS, "Ok"),
        model=resources_pb2.Model(
            id=model.id,
            name=model.name,
            model_type_id=model.model_type_id,
            model_version=resources_pb2.ModelVersion(id=model.model_version.id),
        ),
        data=data,
    )


def _param(params: Any, name: str, default: float) -> float:
    value = params.fields.get(name)
    return value.number_value if value is not None else default


def _scored(model: resources_pb2.Model, *seed: Any) -> list[resources_pb2.Concept]:
    vocabulary = model.output_info.data.concepts
    scores = _units(len(vocabulary), *seed)
    ranked = sorted(zip(scores, range(len(vocabulary)), strict=True), reverse=True)
    return [
        resources_pb2.Concept(
            id=vocabulary[i].id, name=vocabulary[i].name, value=score, app_id="main"
        )
        for score, i in ranked
    ]


def _concepts(
    model: resources_pb2.Model, seed: tuple[Any, ...], config: _Config
) -> list[resources_pb2.Concept]:
    ranked = _scored(model, *seed, "concepts")
    return [c for c in ranked if c.value >= config.min_value][: config.max_concepts]


def _frames(
    model: resources_pb2.Model, seed: tuple[Any, ...], config: _Config, count: int
) -> list[resources_pb2.Frame]:
    frames = []
    for index in range(count):
        ranked = _scored(model, *seed, "frame", index)
        concepts = [c for c in ranked if c.value >= config.min_value][: config.max_concepts]
        frames.append(
            resources_pb2.Frame(
                id=_digest(*seed, "frame", index).hex(),
                frame_info=resources_pb2.FrameInfo(index=index, time=index * 1000),
                data=resources_pb2.Data(concepts=concepts),
            )
        )
    return frames


def _regions(
    model: resources_pb2.Model, seed: tuple[Any, ...], limit: int, *, ocr: bool
) -> list[resources_pb2.Region]:
    count = 1 + int(_units(1, *seed, "count")[0] * limit)
    regions = []
    for index in range(count):
        top, left, height, width = _units(4, *seed, "box", index)
        box = resources_pb2.BoundingBox(
            top_row=round(top * 0.6, 4),
            left_col=round(left * 0.6, 4),
            bottom_row=round(top * 0.6 + 0.1 + height * 0.3, 4),
            right_col=round(left * 0.6 + 0.1 + width * 0.3, 4),
        )
        ranked = _scored(model, *seed, "region", index)
        data = resources_pb2.Data()
        if ocr:
            data.text.raw = " ".join(c.name for c in ranked[:2])
        else:
            data.concepts.extend(ranked[:3])
        regions.append(
            resources_pb2.Region(
                id=_digest(*seed, "region", index).hex(),
                value=ranked[0].value,
                region_info=resources_pb2.RegionInfo(bounding_box=box),
                data=data,
            )
        )
    return regions
