"""Results converted when read: every field converted on first read equals what a full
conversion gives, and the objects behave as if eager (``==``, ``hash``, ``repr``, ``copy``,
``dataclasses``, ``match``, pickle), under threads too; what is never read is never converted."""

from __future__ import annotations

import copy
import dataclasses
import gc
import multiprocessing
import pickle
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_pb2

from clarifai_workflow_predict import (
    Concept,
    ModelOutput,
    Status,
    WorkflowPrediction,
    WorkflowResult,
    _lazy,
    models,
)

from ..helpers import read_every_field

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
from heap import tracked_objects  # noqa: E402
from workload import response_bytes  # noqa: E402

RESPONSE = response_bytes(32)  # 32 inputs x (20 concepts; a 512-d embedding; 5 regions)


def fresh() -> WorkflowPrediction:
    return WorkflowPrediction.from_proto(
        service_pb2.PostWorkflowResultsResponse.FromString(RESPONSE)
    )


def whole() -> WorkflowPrediction:
    """A fresh prediction with every field converted at once, as a full read converts it."""
    prediction = fresh()
    models.load(prediction.results)
    return prediction


def is_set(obj: Any, name: str) -> bool:
    """Whether ``obj``'s slot ``name`` holds a value, without converting anything."""
    try:
        object.__getattribute__(obj, name)
    except AttributeError:
        return False
    return True


def walk(obj: Any, order: int = 1) -> None:
    """Read every field of ``obj`` and of everything in it, one attribute at a time (``order``
    -1 reads each object's fields last to first)."""
    assert read_every_field(obj, lambda names: names[::order]) == []


def test_an_unread_prediction_holds_its_message_and_little_else() -> None:
    prediction = fresh()
    result = prediction.results[0]
    assert result.raw is not None
    assert not any(is_set(result, name) for name in ("id", "input_id", "status", "outputs"))
    assert tracked_objects(prediction) <= 300


def test_reading_one_kind_converts_that_kind_alone() -> None:
    prediction = fresh()
    for result in prediction.results:
        for output in result.outputs:
            if output.concepts:
                assert output.concepts[0].name
    for result in prediction.results:
        assert not is_set(result, "id") and is_set(result, "outputs")  # head still unread
        classifier, embedder, detector = result.outputs
        assert len(classifier.concepts) == 20
        for output in result.outputs:
            assert is_set(output, "concepts") and not is_set(output, "model_id")
            assert not is_set(output, "embeddings") and not is_set(output, "regions")
    assert tracked_objects(prediction) <= 1000
    # What is kept is returned again: a plain slot read, the same object.
    output = prediction.results[0].outputs[0]
    assert output.concepts is output.concepts


def test_the_rare_kinds_are_converted_together_and_the_common_ones_alone() -> None:
    output = fresh().results[0].outputs[0]  # a classifier's: concepts, none of the rare kinds
    assert output.frames == ()
    rare = [kind.name for kind in models.KINDS if kind.name not in models._OWN_GROUP]
    assert len(rare) > 10 and all(is_set(output, name) for name in rare)
    assert not any(is_set(output, name) for name in models._OWN_GROUP)
    assert output.metadata == {} and output.metadata is not fresh().results[0].outputs[0].metadata


def test_a_head_is_converted_as_one_group() -> None:
    output = fresh().results[0].outputs[1]
    assert output.model_id == "general-image-embedding"
    assert all(is_set(output, name) for name in ("id", "model_name", "status", "cached_tokens"))
    assert not is_set(output, "embeddings")


def test_field_by_field_equals_a_full_conversion_in_any_order() -> None:
    converted = whole()
    for order in (1, -1):
        lazily = fresh()
        walk(lazily, order)
        assert lazily == converted
        assert models.as_json(lazily.results) == models.as_json(converted.results)
        assert repr(lazily) == repr(converted)


def test_a_field_its_message_cannot_give_is_an_api_error_naming_it() -> None:
    from clarifai_grpc.grpc.api import resources_pb2

    from clarifai_workflow_predict import ApiError

    # Messages of other types stand for ones too damaged to read. A Concept has no outputs:
    (result,) = models.results([resources_pb2.Concept(id="c")])
    for _ in range(2):  # a failed read converts nothing and keeps nothing: it fails again
        with pytest.raises(ApiError, match=r"cannot read WorkflowResult\.outputs") as caught:
            getattr(result, "outputs")  # noqa: B009 - the read is the test
        assert isinstance(caught.value.__cause__, AttributeError)
    with pytest.raises(ApiError, match=r"cannot read WorkflowResult\.outputs"):
        models.load(result)
    # A MultiOutputResponse has outputs but no id: a full read fails on the head it cannot give.
    message = service_pb2.MultiOutputResponse(outputs=[resources_pb2.Output(id="o")])
    (result,) = models.results([message])
    assert result.outputs[0].id == "o"
    with pytest.raises(ApiError, match=r"cannot read WorkflowResult\.id"):
        models.load(result)


def test_load_keeps_what_was_read_and_converts_the_rest() -> None:
    prediction = fresh()
    concepts = prediction.results[3].outputs[0].concepts
    models.load(prediction.results)
    assert prediction.results[3].outputs[0].concepts is concepts  # kept, not converted again
    for result in prediction.results:
        for output in result.outputs:
            assert all(is_set(output, f.name) for f in dataclasses.fields(ModelOutput))
    assert prediction == whole()


def test_dataclass_protocols_behave_as_if_eager() -> None:
    lazy, converted = fresh(), whole()
    result, eager_result = lazy.results[1], converted.results[1]
    assert dataclasses.astuple(lazy.results[2]) == dataclasses.astuple(converted.results[2])
    assert dataclasses.asdict(lazy.results[4]) == dataclasses.asdict(converted.results[4])
    assert [f.name for f in dataclasses.fields(result)] == [
        "id",
        "input_id",
        "status",
        "outputs",
        "raw",
        "error",
    ]
    replaced = dataclasses.replace(fresh().results[1], id="other")
    assert replaced.id == "other" and replaced.outputs == eager_result.outputs
    assert replaced.raw is not None and type(replaced) is WorkflowResult
    assert copy.copy(result) == eager_result and copy.copy(result).raw is result.raw
    assert copy.deepcopy(fresh().results[1]) == eager_result
    status = fresh().results[0].status
    assert hash(status) == hash(converted.results[0].status) and status in {
        converted.results[0].status
    }
    match fresh().results[5]:
        case WorkflowResult(id=ident, outputs=(ModelOutput(model_id=model), *_)):
            assert ident == "result-5" and model == "general-image-recognition"
        case _:
            pytest.fail("match did not read the lazy fields")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh().results[0].outputs = ()  # type: ignore[misc]
    assert type(lazy.results[0].outputs) is tuple


def test_a_whole_object_is_its_public_class_whose_reads_are_plain_slot_reads() -> None:
    # While fields are unread an object is of its class's unconverted twin (a subclass with the
    # same name and a __getattr__); once the last is converted, it is the class itself, which
    # has no __getattr__, so CPython reads its fields as plain slots.
    result = fresh().results[0]
    output = result.outputs[0]
    assert isinstance(output, ModelOutput) and type(output).__name__ == "ModelOutput"
    assert type(output) is not ModelOutput and type(result) is not WorkflowResult
    assert output == whole().results[0].outputs[0]  # reads every field
    assert type(output) is ModelOutput and type(result) is not WorkflowResult
    result.id  # noqa: B018 - the head, the last group unread
    assert type(result) is WorkflowResult
    converted = whole()
    assert all(type(o) is ModelOutput for r in converted.results for o in r.outputs)
    assert all(type(r) is WorkflowResult for r in converted.results)
    for cls in (ModelOutput, WorkflowResult, WorkflowPrediction, Status):
        assert not hasattr(cls, "__getattr__"), cls


def test_objects_made_by_init_are_whole_and_unaffected() -> None:
    made = ModelOutput(
        "o", "m", "v", "n", Status(10000, "SUCCESS"), concepts=(Concept("c", "c", 1.0),)
    )
    assert made.regions == () and made.raw is None and _lazy.loaded(made) is None
    assert pickle.loads(pickle.dumps(made)) == made
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        made.nope  # type: ignore[attr-defined]  # noqa: B018


def _read_at_once(prediction: Any, start: threading.Barrier, order: int, seen: list[Any]) -> None:
    """In a thread: wait for the others, then read every field of ``prediction``."""
    try:
        start.wait()
        walk(prediction, order)
        seen.append(models.as_json(prediction.results))
    except BaseException as error:  # noqa: BLE001 - the test reports it
        seen.append(error)


def test_first_reads_from_12_threads_at_once_agree() -> None:
    expected = models.as_json(whole().results)
    for _ in range(5):
        prediction = fresh()
        start = threading.Barrier(12)
        seen: list[Any] = []
        threads = [
            threading.Thread(target=_read_at_once, args=(prediction, start, order, seen))
            for order in (1, -1) * 6
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(seen) == 12 and all(each == expected for each in seen)


def _roundtrip(prediction: WorkflowPrediction) -> tuple[WorkflowPrediction, dict[str, Any]]:
    """In a worker process: the prediction as it arrived, and what it reads there."""
    return prediction, prediction.to_dict()


def test_predictions_read_or_unread_pickle_through_a_process_pool() -> None:
    unread, partly, converted = fresh(), fresh(), whole()
    partly.results[0].outputs[0].concepts  # noqa: B018
    expected = converted.to_dict()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        for sent in (unread, partly, converted):
            back, there = pool.submit(_roundtrip, sent).result(timeout=120)
            assert there == expected and back == converted
            assert back.raw[0] == sent.raw[0]  # the message survives as an equal message
            assert back.results[0].raw == sent.results[0].raw


def test_pickle_keeps_unread_fields_unread() -> None:
    back = pickle.loads(pickle.dumps(fresh()))
    assert not is_set(back.results[0], "outputs")
    assert back == whole()


def test_load_makes_no_collections_and_restores_the_collector() -> None:
    during: list[int] = []
    after: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            (during if _lazy._depth else after).append(info["generation"])

    threshold = gc.get_threshold()
    gc.set_threshold(10)  # a collection every ten objects, had the window let one run
    gc.callbacks.append(count)
    try:
        models.load(fresh().results)
        assert during == [] and gc.isenabled()
        [object() for _ in range(5)]  # noqa: B018
        [[] for _ in range(50)]
        assert after  # collections resume after the window
        gc.disable()
        models.load(fresh().results)
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)


def test_the_collector_window_nests_across_threads() -> None:
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with _lazy.no_collections():
            inside.set()
            leave.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(30)
    with _lazy.no_collections():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's window is still open
    leave.set()
    thread.join(30)
    assert gc.isenabled()


def test_shared_statuses_keep_no_response_alive() -> None:
    prediction = fresh()
    status = prediction.results[0].status
    assert status.raw == status_pb2.Status(code=10000, description="Ok")
    # The shared status holds a standalone copy, not a sub-message of this response.
    assert status.raw is not prediction.raw[0].results[0].status
