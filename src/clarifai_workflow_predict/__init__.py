"""A small, fast, dependable client for Clarifai's Workflow Predict API.

::

    from clarifai_workflow_predict import WorkflowClient, Input

    with WorkflowClient(pat="...", user_id="clarifai", app_id="main") as client:
        prediction = client.predict("General", ["https://samples.clarifai.com/metro-north.jpg"])
        for result in prediction.results:          # one per input, in input order
            for output in result.outputs:          # one per workflow node, in node order
                print(output.model_id, [(c.name, round(c.value, 2)) for c in output.concepts])
"""

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._bulk import BulkSummary
    from ._request import MAX_INPUTS_PER_REQUEST
    from ._retry import RetryPolicy
    from .aio import AsyncWorkflowClient
    from .client import WorkflowClient
    from .errors import (
        ApiError,
        AuthenticationError,
        ClarifaiError,
        DeadlineExceededError,
        InputError,
        InvalidRequestError,
        ModelDeployingError,
        NotFoundError,
        PermissionDeniedError,
        PredictionError,
        RateLimitError,
        TransportError,
    )
    from .inputs import Input
    from .models import (
        BoundingBox,
        Cluster,
        Color,
        Concept,
        Embedding,
        Frame,
        Media,
        ModelOutput,
        NDArray,
        Part,
        Point,
        Region,
        Span,
        Status,
        TimeSegment,
        Track,
        Usage,
        WorkflowResult,
    )
    from .prediction import WorkflowPrediction

# Every name loads with its module on first use, so `import clarifai_workflow_predict` costs
# almost nothing (the pytest plugin, loaded by every pytest run of a project that installs the
# package, relies on that) and a service pays for gRPC and the stubs when it makes a client. A
# name is looked for in the ``__all__`` of these modules, in this order.
_MODULES = (
    "errors",
    "models",
    "prediction",
    "inputs",
    "_retry",
    "_request",
    "_bulk",
    "client",
    "aio",
)


# Submodules reachable as attributes (``clarifai_workflow_predict.compute.deployment(...)``).
_SUBMODULES = frozenset({"compute", "testing", "views"})


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    if name in __all__:
        for module_name in _MODULES:
            module = import_module(f".{module_name}", __name__)
            if name in module.__all__:
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)


__all__ = [
    "WorkflowClient",
    "AsyncWorkflowClient",
    "Input",
    "RetryPolicy",
    "WorkflowPrediction",
    "WorkflowResult",
    "ModelOutput",
    "Concept",
    "Region",
    "BoundingBox",
    "Embedding",
    "Frame",
    "Status",
    "Color",
    "Cluster",
    "Media",
    "TimeSegment",
    "Track",
    "Point",
    "Span",
    "Part",
    "NDArray",
    "Usage",
    "BulkSummary",
    "MAX_INPUTS_PER_REQUEST",
    "__version__",
    "ClarifaiError",
    "ApiError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InvalidRequestError",
    "ModelDeployingError",
    "TransportError",
    "DeadlineExceededError",
    "InputError",
    "PredictionError",
]
