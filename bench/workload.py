"""The benchmark workload: responses of 1 and 32 inputs, three outputs per input.

Each input gets, in order: 20 concepts; one 512-d embedding; 5 regions with a box and 3
concepts each. The values vary per input so nothing can be shared by accident.
"""

from __future__ import annotations

from clarifai_grpc.grpc.api import resources_pb2 as r
from clarifai_grpc.grpc.api import service_pb2 as s
from clarifai_grpc.grpc.api.status import status_code_pb2, status_pb2

URL = "https://samples.clarifai.com/metro-north.jpg"


def _ok() -> status_pb2.Status:
    return status_pb2.Status(code=status_code_pb2.SUCCESS, description="Ok")


def _concepts(count: int, seed: int) -> list[r.Concept]:
    return [
        r.Concept(
            id=f"ai_{seed}_{i:03d}",
            name=f"concept {i}",
            value=((i * 37 + seed) % 1000) / 1000,
            app_id="main",
        )
        for i in range(count)
    ]


def _model(model_id: str, name: str) -> r.Model:
    return r.Model(id=model_id, name=name, model_version=r.ModelVersion(id=f"{model_id}-v1"))


def result(seed: int) -> r.WorkflowResult:
    """One input's result: classifier, embedder and detector outputs."""
    vector = [((i * 31 + seed) % 997) / 997 - 0.5 for i in range(512)]
    regions = [
        r.Region(
            id=f"region-{seed}-{j}",
            value=0.5 + j / 20,
            region_info=r.RegionInfo(
                bounding_box=r.BoundingBox(
                    top_row=0.1 * j, left_col=0.05, bottom_row=0.1 * j + 0.2, right_col=0.6
                )
            ),
            data=r.Data(concepts=_concepts(3, seed + j)),
        )
        for j in range(5)
    ]
    outputs = [
        r.Output(
            id=f"out-a-{seed}",
            status=_ok(),
            model=_model("general-image-recognition", "general"),
            data=r.Data(concepts=_concepts(20, seed)),
        ),
        r.Output(
            id=f"out-b-{seed}",
            status=_ok(),
            model=_model("general-image-embedding", "embed"),
            data=r.Data(embeddings=[r.Embedding(vector=vector, num_dimensions=512)]),
        ),
        r.Output(
            id=f"out-c-{seed}",
            status=_ok(),
            model=_model("general-image-detection", "detect"),
            data=r.Data(regions=regions),
        ),
    ]
    return r.WorkflowResult(
        id=f"result-{seed}",
        status=_ok(),
        input=r.Input(id=f"input-{seed}", data=r.Data(image=r.Image(url=URL))),
        outputs=outputs,
    )


def response_bytes(count: int) -> bytes:
    """A serialized ``PostWorkflowResultsResponse`` with ``count`` results."""
    response = s.PostWorkflowResultsResponse(
        status=_ok(), results=[result(k) for k in range(count)]
    )
    response.status.req_id = "bench"
    return response.SerializeToString()


def request(count: int) -> s.PostWorkflowResultsRequest:
    """What the raw stub sends: ``count`` image URL inputs."""
    inputs = [r.Input(data=r.Data(image=r.Image(url=URL))) for _ in range(count)]
    return s.PostWorkflowResultsRequest(workflow_id="General", inputs=inputs)
