"""The Ray Data recipe runs in Ray's local mode against LocalWorkflowServer."""

from __future__ import annotations

import os
from typing import Any

import pytest

from clarifai_workflow_predict import WorkflowClient
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import PAT

ray = pytest.importorskip(
    "ray", reason="the Ray recipe needs the `ray` extra: pip install -e '.[ray]'"
)


@pytest.fixture(scope="module")
def local_ray() -> Any:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine
    # Ray waits 30 s for its GCS server to start; on a busy 2-core machine that start alone
    # has taken longer. Wait as long as Ray itself does with a slow (RocksDB) store.
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")
    settings = {
        "num_cpus": 2,
        "include_dashboard": False,
        "log_to_driver": False,
        "runtime_env": {"env_vars": {"CLARIFAI_PAT": PAT, "GRPC_VERBOSITY": "ERROR"}},
    }
    try:
        ray.init(**settings)
    except Exception:  # Ray's start-up timeouts raise a bare Exception
        # Ray's raylet sometimes fails to register within Ray's fixed 30 s (seen once in ten
        # suite runs here, idle or not, with no raylet log at all): start Ray once more.
        ray.shutdown()
        ray.init(**settings)
    yield ray
    ray.shutdown()


def test_map_batches_recipe(local_ray: Any) -> None:
    from clarifai_workflow_predict.ray_data import WorkflowPredictor, schema

    urls = [f"https://example.com/ray/{i}.jpg" for i in range(150)]
    urls[17] = "https://fail.invalid/17.jpg"
    urls[40] = "not a url"
    rows = [{"id": f"row-{i}", "url": u} for i, u in enumerate(urls)]
    with LocalWorkflowServer(pat=PAT) as server:
        dataset = local_ray.data.from_items(rows).map_batches(
            WorkflowPredictor,
            fn_constructor_kwargs={
                "workflow_id": "General",
                "target": server.target,
                "insecure": True,
            },
            batch_size=40,
            concurrency=2,
        )
        out = sorted(dataset.take_all(), key=lambda row: int(row["id"].split("-")[1]))
        with WorkflowClient(PAT, target=server.target, insecure=True) as client:
            expected = client.predict("General", [u for u in urls if u != "not a url"]).results
    assert [row["id"] for row in out] == [f"row-{i}" for i in range(150)]
    assert dataset.schema().names == schema().names
    direct = iter(expected)
    for i, row in enumerate(out):
        if i == 40:
            assert row["status"] == "INPUT_INVALID_ARGUMENT" and len(row["concepts"]) == 0
            continue
        result = next(direct)
        assert row["status"] == result.status.name and row["status_code"] == result.status.code
        if i == 17:
            assert row["status_code"] == 30002 and len(row["concepts"]) == 0
            continue
        assert [c["name"] for c in row["concepts"]] == [c.name for c in result.outputs[0].concepts]
        assert len(row["embedding"]) == 512
        assert abs(row["embedding"][0] - result.outputs[1].embeddings[0].vector[0]) < 1e-6
    assert {m["authorization"] for m in server.metadata} == {f"Key {PAT}"}
    assert max(len(r.inputs) for r in server.requests) <= 32
