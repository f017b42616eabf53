"""Ray Data recipe: predict a dataset of ``(id, url)`` rows on a cluster (``pip install '.[ray]'``).

::

    import ray
    from clarifai_workflow_predict.ray_data import WorkflowPredictor

    rows = ray.data.read_csv("inputs.csv")                  # columns: id, url
    predictions = rows.map_batches(
        WorkflowPredictor,
        fn_constructor_kwargs={"workflow_id": "General", "user_id": "clarifai", "app_id": "main"},
        batch_size=128,        # rows per call of the predictor; sent as requests of 32
        concurrency=4,         # workers, each with one client
    )
    predictions.write_parquet("predictions/")  # id, status, status_code, concepts, embedding

Each worker builds one ``WorkflowClient`` when it starts and reuses it for every batch. The PAT
is best given to workers through the environment
(``ray.init(runtime_env={"env_vars": {"CLARIFAI_PAT": ...}})``), so it never travels as a task
argument. A failed input becomes a row with its status; a batch whose requests fail for
authentication, permission or not-found reasons raises, failing the job.
"""

from __future__ import annotations

from typing import Any, Mapping

from .client import WorkflowClient
from .models import WorkflowResult

__all__ = ["WorkflowPredictor", "schema"]


def schema() -> Any:
    """The Arrow schema of the predictor's output rows (fixed, so batches always combine)."""
    import pyarrow as pa

    concept = pa.struct([("id", pa.string()), ("name", pa.string()), ("value", pa.float64())])
    return pa.schema(
        [
            ("id", pa.string()),
            ("status", pa.string()),
            ("status_code", pa.int64()),
            ("concepts", pa.list_(concept)),
            ("embedding", pa.list_(pa.float32())),
        ]
    )


class WorkflowPredictor:
    """A callable class for ``Dataset.map_batches``: rows ``(id, url)`` to rows ``(id, status,
    status_code, concepts, embedding)``.

    ``concepts_model`` / ``embedding_model`` pick the workflow node (model id) whose concepts and
    embedding fill the row; by default the first output that has them. Other keyword arguments
    go to ``WorkflowClient`` (``target``, ``insecure``, ``user_id``, ``app_id``,
    ``max_concurrency``...) and ``output_config`` to each request.
    """

    def __init__(
        self,
        workflow_id: str,
        *,
        concepts_model: str | None = None,
        embedding_model: str | None = None,
        output_config: Mapping[str, Any] | None = None,
        **client_options: Any,
    ) -> None:
        self.workflow_id = workflow_id
        self.concepts_model = concepts_model
        self.embedding_model = embedding_model
        self.output_config = output_config
        self.client = WorkflowClient(**client_options)

    def __call__(self, batch: Mapping[str, Any]) -> Any:
        import pyarrow as pa

        urls = [str(url) for url in batch["url"]]
        ids = [str(i) for i in batch["id"]] if "id" in batch else [""] * len(urls)
        results = self.client.predict_iter(
            self.workflow_id,
            [self._value(url, input_id) for url, input_id in zip(urls, ids, strict=True)],
            output_config=self.output_config,
        )
        columns: dict[str, list[Any]] = {name: [] for name in schema().names}
        for input_id, result in zip(ids, results, strict=True):
            columns["id"].append(input_id or result.input_id)
            columns["status"].append(result.status.name)
            columns["status_code"].append(result.status.code)
            columns["concepts"].append(self._concepts(result))
            columns["embedding"].append(self._embedding(result))
        return pa.Table.from_pydict(columns, schema=schema())

    @staticmethod
    def _value(url: str, input_id: str) -> Any:
        from .errors import InputError
        from .inputs import Input

        try:
            return Input.from_url(url, id=input_id or None)
        except InputError:
            return url  # predict_iter reports this input's own error in its row

    def _concepts(self, result: WorkflowResult) -> list[dict[str, Any]]:
        for output in result.outputs:
            if output.model_id == self.concepts_model or (
                self.concepts_model is None and output.concepts
            ):
                return [{"id": c.id, "name": c.name, "value": c.value} for c in output.concepts]
        return []

    def _embedding(self, result: WorkflowResult) -> list[float]:
        for output in result.outputs:
            if output.model_id == self.embedding_model or (
                self.embedding_model is None and output.embeddings
            ):
                return list(output.embeddings[0].vector) if output.embeddings else []
        return []
