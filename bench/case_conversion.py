"""Converting a freshly parsed 32-input response: ``WorkflowPrediction.from_proto`` against the
field-read floor, ``MessageToDict`` and the parse itself."""

from __future__ import annotations

import time
from typing import Any, Callable

from clarifai_grpc.grpc.api import service_pb2
from common import Context, Row, compared, timed
from floor import read_all
from google.protobuf import json_format
from workload import response_bytes

from clarifai_workflow_predict import WorkflowPrediction


def run(ctx: Context) -> list[Row]:
    scale = ctx.scale
    data = response_bytes(32)
    parse = service_pb2.PostWorkflowResultsResponse.FromString

    def fresh(convert: Callable[[Any], Any], spent: list[float]) -> None:
        # A fresh parse each time (upb caches the wrappers it has made), timed apart from the
        # conversion: the side's own time is the conversion's alone.
        message = parse(data)
        started = time.perf_counter()
        convert(message)
        spent.append(time.perf_counter() - started)

    sides = {
        "ours": WorkflowPrediction.from_proto,
        "floor": lambda m: read_all(m.results),
        "MessageToDict": json_format.MessageToDict,
    }
    times: dict[str, list[list[float]]] = {name: [] for name in (*sides, "parse")}
    for _ in range(scale.blocks):
        for name, convert in sides.items():
            spent: list[float] = []
            for _ in range(scale.rounds):
                fresh(convert, spent)
            times[name].append(spent)
        times["parse"].append([timed(lambda: parse(data)) for _ in range(scale.rounds)])
    section = "conversion, 32 inputs x 3 outputs"
    rows = [
        compared(
            times,
            "ours",
            "floor",
            section,
            "`WorkflowPrediction.from_proto` vs the field-read floor",
            "conversion",
        ),
        compared(
            times,
            "ours",
            "floor",
            section,
            "the same, against the stretch target",
            "conversion stretch",
        ),
    ]
    rows += [
        compared(
            times,
            "MessageToDict",
            "ours",
            section,
            "MessageToDict time / ours (retired target ≥ 60x)",
        ),
        compared(times, "ours", "parse", section, "ours / FromString parse time"),
    ]
    return rows
