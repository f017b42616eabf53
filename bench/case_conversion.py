"""A full read of a freshly parsed 32-input response: ``WorkflowPrediction.from_proto`` and then
every field converted, as ``to_dict``, the views and ``bulk`` convert them (``models.load``: the
whole response in one pass, without collections), against the field-read floor,
``MessageToDict`` and the parse itself; and the same read one field at a time, as a caller's
own code reading every attribute converts it. Last, a converted field read again, against a field
of a plain frozen slotted dataclass: what laziness costs once a field is converted."""

from __future__ import annotations

import time
import timeit
from dataclasses import dataclass
from typing import Any, Callable

from clarifai_grpc.grpc.api import service_pb2
from common import Context, Row, compared, timed
from floor import read_all
from google.protobuf import json_format
from reads import every_field
from workload import response_bytes

from clarifai_workflow_predict import WorkflowPrediction
from clarifai_workflow_predict.models import load


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
        "ours": lambda m: load(WorkflowPrediction.from_proto(m).results),
        "by attribute": lambda m: every_field(WorkflowPrediction.from_proto(m)),
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
            "full read (`from_proto` + every field converted, the `to_dict`/views/`bulk` path) vs the field-read floor",
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
        compared(
            times,
            "by attribute",
            "floor",
            section,
            "every field read attribute by attribute instead (each group converted on its first read) vs the floor",
        ),
        compared(times, "ours", "parse", section, "ours / FromString parse time"),
    ]
    return rows + _again(data, scale.blocks)


@dataclass(frozen=True, slots=True)
class _Plain:
    concepts: tuple[Any, ...]


def _again(data: bytes, blocks: int) -> list[Row]:
    parse = service_pb2.PostWorkflowResultsResponse.FromString
    partly = WorkflowPrediction.from_proto(parse(data)).results[0].outputs[0]
    partly.concepts  # noqa: B018 - converts that field alone: the object is still unconverted
    whole = load(WorkflowPrediction.from_proto(parse(data)).results)[0].outputs[0]
    sides = {"partly": partly, "whole": whole, "plain": _Plain(whole.concepts)}

    def per_read(obj: Any) -> float:
        return (
            min(timeit.repeat("o.concepts", globals={"o": obj}, number=200_000, repeat=3)) / 200_000
        )

    times: dict[str, list[list[float]]] = {name: [] for name in sides}
    for _ in range(blocks):
        for name, obj in sides.items():
            times[name].append([per_read(obj)])

    def ns(seconds: float) -> str:
        return f"{seconds * 1e9:.1f} ns"

    section = (
        "a converted field read again (`output.concepts`) vs a plain frozen slotted dataclass's"
    )
    return [
        compared(times, "whole", "plain", section, "on an object converted whole", shown=ns),
        compared(
            times,
            "partly",
            "plain",
            section,
            "on an object with fields still unread (its unconverted twin has `__getattr__`)",
            shown=ns,
        ),
    ]
