"""Loading the emulator's workflows from ``*.textproto`` files, strictly."""

from __future__ import annotations

import os
from pathlib import Path

from clarifai_grpc.grpc.api import resources_pb2
from google.protobuf import text_format

from ._emulate import MODEL_TYPES

__all__ = ["BUNDLED_FIXTURES", "FixtureError", "load_workflows"]

#: The workflows that ship with the package.
BUNDLED_FIXTURES = Path(__file__).resolve().parent / "proto_fixtures"
_HEADER = "# proto-message: clarifai.api.Workflow"


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
    return workflow
