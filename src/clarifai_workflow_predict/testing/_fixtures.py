"""Loading the emulator's workflows from ``*.textproto`` files, strictly."""

from __future__ import annotations

import os
from pathlib import Path

from clarifai_grpc.grpc.api import resources_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2
from google.protobuf import text_format
from google.protobuf.message import Message

from ._emulate import (
    MODEL_TYPES,
    MODELS_CHANGED,
    MODELS_MADE,
    VERSIONS_MADE,
    WORKFLOWS_MADE,
    status,
    timestamp,
)

__all__ = ["BUNDLED_FIXTURES", "FixtureError", "load_workflows"]

#: The workflows that ship with the package.
BUNDLED_FIXTURES = Path(__file__).resolve().parent / "proto_fixtures"
_HEADER = "# proto-message: clarifai.api.Workflow"
#: Who owns a workflow whose fixture does not say: Clarifai's public app, where the workflows the
#: bundled fixtures copy live. A model's owner defaults to its workflow's.
_OWNER = ("clarifai", "main")
_PUBLIC = resources_pb2.Visibility.Gettable.PUBLIC


class FixtureError(ValueError):
    """A fixture file is not a valid emulator workflow; the message names the file."""


def load_workflows(
    directory: str | os.PathLike[str] | None = None,
) -> dict[str, resources_pb2.Workflow]:
    """Every workflow in ``directory`` (default: the bundled fixtures), by id."""
    root = Path(directory) if directory is not None else BUNDLED_FIXTURES
    if not root.is_dir():
        raise FixtureError(f"fixtures directory {str(root)!r} does not exist")
    workflows: dict[str, resources_pb2.Workflow] = {}
    for path in sorted(root.glob("*.textproto")):
        workflow = _load(path)
        workflows[workflow.id] = workflow
    if not workflows:
        raise FixtureError(f"no *.textproto workflows in {str(root)!r}")
    return workflows


def _load(path: Path) -> resources_pb2.Workflow:
    text = path.read_text(encoding="utf-8")
    if _HEADER not in text.splitlines():
        raise FixtureError(f"{path}: missing the header line {_HEADER!r}")
    try:
        workflow = text_format.Parse(text, resources_pb2.Workflow())
    except text_format.ParseError as exc:
        raise FixtureError(f"{path}: {exc}") from exc
    if workflow.id != path.stem:
        raise FixtureError(f"{path}: id {workflow.id!r} differs from the file name {path.stem!r}")
    if not workflow.nodes:
        raise FixtureError(f"{path}: workflow {workflow.id!r} has no nodes")
    seen: set[str] = set()
    for node in workflow.nodes:
        where = f"{path}: node {node.id!r}"
        if not node.id or node.id in seen:
            raise FixtureError(f"{where}: node ids must be present and unique")
        parents = [parent.node_id for parent in node.node_inputs]
        if len(parents) > 1 or not set(parents) <= seen:
            raise FixtureError(
                f"{where}: node_inputs must name one node listed before it, got {parents}"
            )
        seen.add(node.id)
        model = node.model
        if not model.id:
            raise FixtureError(f"{where}: model.id is missing")
        kind = MODEL_TYPES.get(model.model_type_id)
        if kind is None:
            raise FixtureError(
                f"{where}: unknown model_type_id {model.model_type_id!r}; "
                f"expected one of {', '.join(sorted(MODEL_TYPES))}"
            )
        if kind.needs_concepts and not model.output_info.data.concepts:
            raise FixtureError(f"{where}: a {model.model_type_id} needs output_info.data.concepts")
    _fill(workflow)
    return workflow


def _fill(workflow: resources_pb2.Workflow) -> None:
    """Set what the API sets on a workflow and its models and the fixture leaves out: owner ids,
    times (fixed by a hash of the id), public visibility and the trained status. Outputs,
    ``GetWorkflow`` and ``GetModel`` then carry them as the API's do."""
    workflow.user_id = workflow.user_id or _OWNER[0]
    workflow.app_id = workflow.app_id or _OWNER[1]
    _stamp(workflow, "created_at", WORKFLOWS_MADE, workflow.id)
    for node in workflow.nodes:
        model = node.model
        version = model.model_version
        model.user_id = model.user_id or workflow.user_id
        model.app_id = model.app_id or workflow.app_id
        version.user_id = version.user_id or model.user_id
        version.app_id = version.app_id or model.app_id
        _stamp(model, "created_at", MODELS_MADE, model.id)
        _stamp(model, "modified_at", MODELS_CHANGED, model.id)
        _stamp(version, "created_at", VERSIONS_MADE, model.id, version.id)
        for owned in (model, version):
            owned.visibility.gettable = owned.visibility.gettable or _PUBLIC
        if not version.HasField("status"):
            version.status.CopyFrom(
                status(status_code_pb2.MODEL_TRAINED, "Model is trained and ready")
            )


def _stamp(message: Message, field: str, start: int, *parts: str) -> None:
    """Give ``message`` a ``field`` timestamp in the year from ``start``, unless it has one."""
    if not message.HasField(field):
        getattr(message, field).CopyFrom(timestamp(start, field, *parts))
