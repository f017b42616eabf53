"""Test your code without Clarifai's network: ``LocalWorkflowServer`` emulates Workflow Predict.

::

    from clarifai_workflow_predict import WorkflowClient
    from clarifai_workflow_predict.testing import LocalWorkflowServer

    with LocalWorkflowServer() as server:
        client = WorkflowClient(target=server.target, insecure=True)
        prediction = client.predict("General", "https://samples.clarifai.com/metro-north.jpg")

``IMAGES`` (sample PNGs by file name) and the ``png``/``wav`` writers come from ``samples``.
"""

from ._emulate import FAIL_HOST
from ._fixtures import BUNDLED_FIXTURES, FixtureError, load_workflows
from ._server import LocalWorkflowServer
from .samples import IMAGES, png, wav

__all__ = [
    "LocalWorkflowServer",
    "BUNDLED_FIXTURES",
    "FAIL_HOST",
    "FixtureError",
    "IMAGES",
    "load_workflows",
    "png",
    "wav",
]
