"""Where a workflow node runs: ``RunnerSelector`` messages for ``node_runner_selectors``.

``predict(..., node_runner_selectors={"llm": compute.deployment("my-deployment")})`` routes the
node ``llm`` to a dedicated deployment; ``compute.nodepool(...)`` to a nodepool of a compute
cluster. A plain ``str`` in ``node_runner_selectors`` is a deployment id. A selector without a
``user_id`` gets the workflow owner's when the request names one.
"""

from __future__ import annotations

from clarifai_grpc.grpc.api import resources_pb2

from .errors import InputError

__all__ = ["deployment", "nodepool"]


def deployment(id: str, *, user_id: str | None = None) -> resources_pb2.RunnerSelector:
    """The selector running a node on the deployment ``id`` (owned by ``user_id``)."""
    return resources_pb2.RunnerSelector(
        deployment=resources_pb2.Deployment(
            id=_id(id, "id", "deployment id"), user_id=_owner(user_id)
        )
    )


def nodepool(
    id: str, *, compute_cluster_id: str, user_id: str | None = None
) -> resources_pb2.RunnerSelector:
    """The selector running a node on the nodepool ``id`` of compute cluster
    ``compute_cluster_id`` (owned by ``user_id``)."""
    return resources_pb2.RunnerSelector(
        nodepool=resources_pb2.Nodepool(
            id=_id(id, "id", "nodepool id"),
            compute_cluster=resources_pb2.ComputeCluster(
                id=_id(compute_cluster_id, "compute_cluster_id"), user_id=_owner(user_id)
            ),
        )
    )


def _id(value: object, param: str, name: str | None = None) -> str:
    """``value``, an id: ``InputError`` for ``param`` (``name`` in its message) unless it is a
    non-empty str."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name or param} must be a non-empty str, got {value!r:.60}", param=param)
    return value


def _owner(user_id: object) -> str:
    return "" if user_id is None else _id(user_id, "user_id")
