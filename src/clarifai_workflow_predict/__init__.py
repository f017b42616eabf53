"""A small, fast, dependable client for Clarifai's Workflow Predict API.

::

    from clarifai_workflow_predict import WorkflowClient, Input

    with WorkflowClient(pat="...", user_id="clarifai", app_id="main") as client:
        prediction = client.predict("General", ["https://samples.clarifai.com/metro-north.jpg"])
        for result in prediction.results:          # one per input, in input order
            for output in result.outputs:          # one per workflow node, in node order
                print(output.model_id, [(c.name, round(c.value, 2)) for c in output.concepts])
"""

from ._request import MAX_INPUTS_PER_REQUEST
from ._retry import RetryPolicy
from ._version import __version__
from .aio import AsyncWorkflowClient
from .client import WorkflowClient
from .errors import (
    ApiError,
    AuthenticationError,
    ClarifaiError,
    DeadlineExceededError,
    InputError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PredictionError,
    RateLimitError,
    TransportError,
)
from .inputs import Input
from .models import (
    BoundingBox,
    Concept,
    Embedding,
    Frame,
    ModelOutput,
    Region,
    Status,
    WorkflowPrediction,
    WorkflowResult,
)

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
    "MAX_INPUTS_PER_REQUEST",
    "__version__",
    "ClarifaiError",
    "ApiError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "InvalidRequestError",
    "TransportError",
    "DeadlineExceededError",
    "InputError",
    "PredictionError",
]
