"""Test your code without Clarifai's network: ``LocalWorkflowServer`` emulates Workflow Predict.

::

    from clarifai_workflow_predict import WorkflowClient
    from clarifai_workflow_predict.testing import LocalWorkflowServer

    with LocalWorkflowServer() as server:
        client = WorkflowClient(target=server.target, insecure=True)
        prediction = client.predict("General", "https://samples.clarifai.com/metro-north.jpg")
"""

from ._emulate import FAIL_HOST
from ._fixtures import BUNDLED_FIXTURES, FixtureError, load_workflows
from ._server import LocalWorkflowServer

__all__ = ["LocalWorkflowServer", "BUNDLED_FIXTURES", "FAIL_HOST", "FixtureError", "load_workflows"]
