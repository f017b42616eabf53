"""Arguments of one ``predict`` call to the requests it sends: validation, inputs, chunking.

Everything here runs before any RPC, so every mistake is an ``InputError`` while nothing has
been sent yet.
"""

from __future__ import annotations

import os
import re
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator, Mapping

from clarifai_grpc.grpc.api import resources_pb2, service_pb2

from .errors import InputError
from .inputs import Input, check_url, coerce

__all__ = [
    "MAX_INPUTS_PER_REQUEST",
    "MAX_REQUEST_BYTES",
    "check_output_config",
    "Plan",
    "plan",
    "planned",
    "request_fields",
    "stream",
    "user_app_id",
    "workflow_target",
]

#: The API's limit on inputs per ``PostWorkflowResults`` request.
MAX_INPUTS_PER_REQUEST = 32
#: The API's limit on one request's encoded size; larger calls are split further.
MAX_REQUEST_BYTES = 128 * 1024 * 1024
# Room left for the request's own fields (ids, output config, selectors) beside its inputs.
_REQUEST_MARGIN = 1024 * 1024
_LIMIT = MAX_REQUEST_BYTES - _REQUEST_MARGIN

_Request = service_pb2.PostWorkflowResultsRequest
_UserAppIDSet = resources_pb2.UserAppIDSet
_SINGLE = (str, bytes, bytearray, memoryview, Input, resources_pb2.Input, os.PathLike)


class Plan:
    """The requests of one call. ``bounds[k]`` is the ``[start, stop)`` range of the inputs
    sent that ``requests[k]`` sends; ``ids`` says whether any input carries its own id (only
    then can a response put a result on the wrong input's id). With duplicates sent once,
    ``places[i]`` is where the call's input ``i`` was sent and ``own_ids[i]`` its own id."""

    __slots__ = ("workflow_id", "requests", "bounds", "ids", "places", "own_ids")

    def __init__(
        self,
        workflow_id: str,
        requests: list[service_pb2.PostWorkflowResultsRequest],
        bounds: list[tuple[int, int]],
        ids: bool,
        places: list[int] | None = None,
        own_ids: list[str] | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.requests = requests
        self.bounds = bounds
        self.ids = ids
        self.places = places
        self.own_ids = own_ids

    @property
    def count(self) -> int:
        """How many inputs the call has."""
        return len(self.places) if self.places is not None else self.bounds[-1][1]


def user_app_id(user_id: str | None, app_id: str | None) -> resources_pb2.UserAppIDSet | None:
    """The ``UserAppIDSet`` naming the workflow's owner, or ``None`` when neither id is set."""
    for name, value in (("user_id", user_id), ("app_id", app_id)):
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name} must be a str, got {type(value).__name__}", param=name)
    if not user_id and not app_id:
        return None
    if not user_id or not app_id:
        missing = "app_id" if user_id else "user_id"
        raise InputError(
            f"{missing} is missing: a workflow's owner is a user_id and an app_id", param=missing
        )
    return _UserAppIDSet(user_id=user_id, app_id=app_id)


WORKFLOW_URL = "https://clarifai.com/{user_id}/{app_id}/workflows/{workflow_id}"


def workflow_target(
    workflow_id: Any, user_id: str | None, app_id: str | None, version_id: str | None
) -> tuple[Any, str | None, str | None, str | None]:
    """``(workflow_id, user_id, app_id, version_id)`` of a call: as given, or from a workflow
    URL in ``workflow_id`` (``WORKFLOW_URL``, optionally ``/versions/{version_id}``), which an
    explicit id may repeat but not contradict."""
    if type(workflow_id) is not str or not workflow_id[:8].lower().startswith(
        ("http://", "https://")
    ):
        return workflow_id, user_id, app_id, version_id
    from urllib.parse import unquote, urlsplit

    path = [unquote(p) for p in urlsplit(workflow_id).path.split("/") if p]
    shape = WORKFLOW_URL + "[/versions/{version_id}]"
    if len(path) not in (4, 6) or path[2] != "workflows" or path[4:5] not in ([], ["versions"]):
        other = path[2].removesuffix("s") if len(path) > 2 and path[2] != "workflows" else ""
        what = f"a {other} URL, not a workflow's" if other else "not a workflow URL"
        raise InputError(
            f"workflow_id {workflow_id!r} is {what}; expected {shape}", param="workflow_id"
        )
    found = {"user_id": path[0], "app_id": path[1], "version_id": path[5] if path[4:] else None}
    for name, given in (("user_id", user_id), ("app_id", app_id), ("version_id", version_id)):
        if given is not None and found[name] is not None and given != found[name]:
            raise InputError(
                f"{name}={given!r} contradicts the workflow URL, whose {name} is {found[name]!r}",
                param=name,
            )
    return path[3], path[0], path[1], found["version_id"] or version_id


def request_fields(
    workflow_id: Any,
    *,
    owner: resources_pb2.UserAppIDSet | None,
    version_id: str | None = None,
    output_config: Any = None,
    node_runner_selectors: Mapping[str, resources_pb2.RunnerSelector | str] | None = None,
    workflow_state_id: str | None = None,
    favor_clarifai_workflows: bool | None = None,
) -> dict[str, Any]:
    """Every request field of a call but ``inputs``, validated."""
    if not isinstance(workflow_id, str) or not workflow_id:
        raise InputError(
            f"workflow_id must be a non-empty str, got {workflow_id!r:.60}", param="workflow_id"
        )
    fields: dict[str, Any] = {"workflow_id": workflow_id}
    if owner is not None:
        fields["user_app_id"] = owner
    if version_id is not None:
        if not isinstance(version_id, str):
            raise InputError(
                f"version_id must be a str, got {type(version_id).__name__}", param="version_id"
            )
        fields["version_id"] = version_id
    if output_config is not None:
        fields["output_config"] = check_output_config(output_config)
    if node_runner_selectors is not None:
        fields["node_runner_selectors"] = _selectors(node_runner_selectors, owner)
    if workflow_state_id is not None:
        if not isinstance(workflow_state_id, str):
            raise InputError(
                f"workflow_state_id must be a str, got {type(workflow_state_id).__name__}",
                param="workflow_state_id",
            )
        fields["workflow_state"] = resources_pb2.WorkflowState(id=workflow_state_id)
    if favor_clarifai_workflows is not None:
        if not isinstance(favor_clarifai_workflows, bool):
            raise InputError(
                "favor_clarifai_workflows must be True, False or None, "
                f"got {type(favor_clarifai_workflows).__name__}",
                param="favor_clarifai_workflows",
            )
        fields["favor_clarifai_workflows"] = favor_clarifai_workflows
    return fields


def plan(fields: dict[str, Any], inputs: Any, batch_size: int, *, dedupe: bool = False) -> Plan:
    """The requests of one call: ``fields`` (from ``request_fields``) and ``inputs``, at most
    ``batch_size`` inputs and ``MAX_REQUEST_BYTES`` each; with ``dedupe``, each distinct input
    once. Any value that is not an input raises its ``InputError`` here, before anything is
    sent."""
    if isinstance(inputs, _SINGLE):  # the common call: one input, one request
        item, _ = _item(inputs, 0)
        return planned(fields, [[item]])
    if isinstance(inputs, (Mapping, set, frozenset)) or not isinstance(inputs, Iterable):
        raise InputError(
            "inputs must be one input or an ordered sequence of them (list, tuple, generator), "
            f"got {type(inputs).__name__}",
            param="inputs",
        )
    items = list(_items(iter(inputs)))
    for item, _ in items:
        if isinstance(item, InputError):
            raise item
    if not items:
        raise InputError("inputs is empty: nothing to predict", param="inputs")
    if not dedupe:
        return planned(fields, list(_chunked(items, batch_size)))
    from . import _dedupe

    first: dict[int, int] = {}
    unique: list[tuple[Any, int]] = []
    places: list[int] = []
    for pair in items:
        place = first.setdefault(_dedupe.key(pair[0]), len(unique))
        if place == len(unique):
            unique.append(pair)
        places.append(place)
    own_ids = [_dedupe.own_id(item) for item, _ in items]
    return planned(fields, list(_chunked(unique, batch_size)), places, own_ids)


def planned(
    fields: dict[str, Any],
    chunks: list[list[Any]],
    places: list[int] | None = None,
    own_ids: list[str] | None = None,
) -> Plan:
    """The plan sending ``fields`` with each chunk of inputs (from ``stream``) as one request."""
    requests = []
    bounds = []
    ids = False
    start = 0
    for chunk in chunks:
        request = _Request(**fields)
        add, append = request.inputs.add, request.inputs.append
        for item in chunk:
            if type(item) is str:  # a URL, checked: the cheapest way into the request
                add().data.image.url = item
            else:
                append(item)
                ids = ids or bool(item.id)
        requests.append(request)
        bounds.append((start, start + len(chunk)))
        start += len(chunk)
    return Plan(fields["workflow_id"], requests, bounds, ids, places, own_ids)


def stream(values: Iterable[Any], batch_size: int) -> Iterator[list[Any]]:
    """``values`` read lazily into chunks of at most ``batch_size`` inputs, each chunk within the
    request size limit. Each item is an input (a proto, or an image URL ``str`` already
    checked), or the ``InputError`` of a value that is not an input, in its place: one bad value
    in a long stream fails alone."""
    if isinstance(values, _SINGLE) or isinstance(values, (Mapping, set, frozenset)):
        raise InputError(
            f"inputs must be an ordered iterable of inputs, got {type(values).__name__}",
            param="inputs",
        )
    if not isinstance(values, Iterable):
        raise InputError(
            f"inputs must be an iterable of inputs, got {type(values).__name__}", param="inputs"
        )
    return _stream(iter(values), batch_size)


# An http(s) URL with a host and no white space: what ``check_url`` accepts, checked in one go
# on the hot path (``check_url`` still words the error when a value fails it).
_PLAIN_URL = re.compile(r"(?i:https?)://[^/?#\s]\S*")


def _item(value: Any, index: int, *, _plain: Any = _PLAIN_URL.fullmatch) -> tuple[Any, int]:
    """``value`` as one input of a chunk, and its approximate encoded size: an image URL
    ``str`` is checked and kept as it is (``planned`` puts it straight into the request),
    anything else becomes its proto."""
    if type(value) is str:
        if not (_plain(value) and value.isprintable()):
            check_url(value, index)
        return value, len(value) + 16
    proto, size = coerce(value, index)
    if size > _LIMIT:
        raise InputError(_too_large(index, size), param=f"inputs[{index}]")
    return proto, size


def _stream(values: Iterator[Any], batch_size: int) -> Iterator[list[Any]]:
    return _chunked(_items(values), batch_size)


#: What ``bulk`` puts in a stream in place of a duplicate it does not send: it rides along as a
#: bad value's ``InputError`` does, so a long run of duplicates is read in bounded chunks, and
#: the failed result it gets stands for a copy of the first input's line.
KEPT_BACK = InputError("a duplicate of an earlier input, kept back", param="inputs")


def _items(values: Iterator[Any]) -> Iterator[tuple[Any, int]]:
    """Each value as ``(input, size)``, or ``(its InputError, 0)`` when it is not one."""
    for index, value in enumerate(values):
        if value is KEPT_BACK:
            yield value, 0
            continue
        try:
            yield _item(value, index)
        except InputError as error:
            yield error, 0


def _chunked(items: Iterable[tuple[Any, int]], batch_size: int) -> Iterator[list[Any]]:
    """``items`` in chunks of at most ``batch_size`` inputs within the request size limit;
    ``InputError`` items ride along in their place and count for neither, but a chunk holds at
    most ``batch_size`` of them, so a long run of them is handed on in bounded chunks."""
    chunk: list[Any] = []
    count = total = 0  # inputs in the chunk, and their size
    for item, size in items:
        if isinstance(item, InputError):
            chunk.append(item)
            if len(chunk) - count >= batch_size:
                yield chunk
                chunk, count, total = [], 0, 0
            continue
        if count == batch_size or total + size > _LIMIT:
            yield chunk
            chunk, count, total = [], 0, 0
        chunk.append(item)
        count += 1
        total += size
    if chunk:
        yield chunk


def check_output_config(value: Any) -> resources_pb2.OutputConfig:
    if isinstance(value, resources_pb2.OutputConfig):
        return value
    if not isinstance(value, Mapping):
        raise InputError(
            "output_config must be an OutputConfig or a dict of its fields, "
            f"got {type(value).__name__}",
            param="output_config",
        )
    try:
        return resources_pb2.OutputConfig(**value)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"output_config: {exc}", param="output_config") from exc


def _selectors(
    value: Any, owner: resources_pb2.UserAppIDSet | None
) -> dict[str, resources_pb2.RunnerSelector]:
    """Node ids to selectors: a ``str`` is a deployment id, and a deployment or compute cluster
    without a ``user_id`` gets the workflow owner's (the caller's selectors are copied, never
    changed)."""
    from . import compute

    if not isinstance(value, Mapping):
        raise InputError(
            "node_runner_selectors must map node ids to a RunnerSelector or a deployment id, "
            f"got {type(value).__name__}",
            param="node_runner_selectors",
        )
    selectors = {}
    for key, selector in value.items():
        if not isinstance(key, str) or not key:
            raise InputError(
                f"node_runner_selectors: a node id must be a non-empty str, got {key!r}",
                param="node_runner_selectors",
            )
        if isinstance(selector, str):
            selector = compute.deployment(selector)
        elif not isinstance(selector, resources_pb2.RunnerSelector):
            raise InputError(
                f"node_runner_selectors[{key!r}] must be a RunnerSelector (compute.deployment, "
                f"compute.nodepool) or a deployment id str, got {type(selector).__name__}",
                param="node_runner_selectors",
            )
        if owner is not None and owner.user_id:
            selector = _with_owner(selector, owner.user_id)
        selectors[key] = selector
    return selectors


def _with_owner(
    selector: resources_pb2.RunnerSelector, user_id: str
) -> resources_pb2.RunnerSelector:
    """``selector``, with ``user_id`` where its deployment or compute cluster names no owner."""
    owned: Callable[[resources_pb2.RunnerSelector], Any]
    cluster = selector.nodepool.compute_cluster
    if selector.HasField("deployment") and not selector.deployment.user_id:
        owned = attrgetter("deployment")
    elif selector.HasField("nodepool") and cluster.id and not cluster.user_id:
        owned = attrgetter("nodepool.compute_cluster")
    else:
        return selector
    filled = resources_pb2.RunnerSelector()
    filled.CopyFrom(selector)
    owned(filled).user_id = user_id
    return filled


def _too_large(index: int, size: int) -> str:
    return (
        f"inputs[{index}] is {size} bytes encoded; one request may be at most "
        f"{MAX_REQUEST_BYTES} bytes (128 MiB)"
    )
