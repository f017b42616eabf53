"""Faults and load on loopback: nothing lost, duplicated or misaligned; every loop bounded.

The emulator is deterministic per input, so every result is checked against a reference answer
for its own input: a result on the wrong input shows.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    ClarifaiError,
    DeadlineExceededError,
    Input,
    RateLimitError,
    RetryPolicy,
    TransportError,
    WorkflowClient,
)
from clarifai_workflow_predict.testing import LocalWorkflowServer

from .hygiene import open_fds, settled, thread_names

POOL = [f"https://example.com/pool/{i}.jpg" for i in range(100)]
RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.004)


@pytest.fixture(scope="module")
def reference() -> dict[str, tuple[tuple[str, float], ...]]:
    """Each pool URL's concepts from the General workflow, from a server with no faults."""
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(target=server.target, insecure=True) as client,
    ):
        prediction = client.predict("General", POOL)
    return {url: fingerprint(r) for url, r in zip(POOL, prediction.results, strict=True)}


def fingerprint(result: Any) -> tuple[tuple[str, float], ...]:
    return tuple((c.name, c.value) for c in result.outputs[0].concepts)


def check(prediction: Any, sent: list[tuple[str, str]], reference: dict, reliability: Any) -> None:
    """Every input has exactly its own result: its answer, or a failure status."""
    reliability.add(inputs_lost=abs(len(sent) - len(prediction.results)))
    assert len(prediction.results) == len(sent)
    for (input_id, url), result in zip(sent, prediction.results, strict=True):
        if result.ok:
            if result.input_id != input_id or fingerprint(result) != reference[url]:
                reliability.add(misalignments=1)
        else:
            assert result.status.code in (status_code_pb2.FAILURE, status_code_pb2.CONN_THROTTLED)
            assert result.input_id == input_id
            reliability.add(failed_inputs_reported=1)


def transient_failures(count: int, reference: dict, reliability: Any, seed: int) -> None:
    rng = random.Random(seed)
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(target=server.target, insecure=True, retry=RETRY, rate_limit=None) as client,
    ):
        server.fail_randomly(
            0.3,
            grpc_codes=(grpc.StatusCode.UNAVAILABLE,),
            status_codes=(status_code_pb2.CONN_THROTTLED,),
            seed=seed,
        )
        successes = chunks = 0
        for call in range(count):
            n = rng.randint(1, 70)
            sent = [(f"c{call}-{k}", rng.choice(POOL)) for k in range(n)]
            inputs = [Input.from_url(url, id=input_id) for input_id, url in sent]
            chunks += (n + 31) // 32
            reliability.add(predictions=1, inputs_sent=n)
            try:
                prediction = client.predict("General", inputs, timeout=30)
            except ClarifaiError as error:  # every chunk exhausted its retries: typed, reported
                # Only the injected faults can end a call, and only after every attempt.
                assert error.attempts == RETRY.max_attempts, error
                if isinstance(error, RateLimitError):
                    assert error.code == status_code_pb2.CONN_THROTTLED
                else:
                    assert type(error) is TransportError
                    assert error.grpc_code is grpc.StatusCode.UNAVAILABLE
                reliability.add(calls_failed_typed=1, failed_inputs_reported=n)
                continue
            check(prediction, sent, reference, reliability)
            successes += len(prediction.request_ids)
        calls = len(server.requests)
        # Each call the server saw is one attempt: the successful one per chunk, or a fault.
        assert calls == successes + server.faults_injected
        assert calls <= chunks * RETRY.max_attempts
        reliability.add(
            calls_made=calls, faults_injected=server.faults_injected, retries=calls - chunks
        )
    assert reliability.counts["misalignments"] == 0


def test_300_predictions_under_30_percent_transient_faults(
    reference: dict, reliability: Any
) -> None:
    transient_failures(300, reference, reliability, seed=7)


@pytest.mark.soak
def test_soak_3000_predictions_under_30_percent_transient_faults(
    reference: dict, reliability: Any
) -> None:
    transient_failures(3000, reference, reliability, seed=11)


def test_restart_during_a_320_input_prediction(reference: dict, reliability: Any) -> None:
    server = LocalWorkflowServer().start()
    server.latency = 0.1
    port = server.port
    client = WorkflowClient(target=server.target, insecure=True, max_concurrency=2)

    def restart() -> None:
        time.sleep(0.25)
        server.stop()
        time.sleep(0.3)
        server.start()

    restarter = threading.Thread(target=restart)
    restarter.start()
    sent = [(f"r-{k}", POOL[k % len(POOL)]) for k in range(320)]
    started = time.monotonic()
    try:
        try:
            prediction = client.predict(
                "General", [Input.from_url(u, id=i) for i, u in sent], timeout=10
            )
        except TransportError as error:  # allowed: a clear error, within the deadline
            assert str(error)
            reliability.add(calls_failed_typed=1, failed_inputs_reported=320)
        else:
            check(prediction, sent, reference, reliability)
        assert time.monotonic() - started < 10.5
        restarter.join(10)
        assert server.port == port
        server.latency = 0
        after = client.predict("General", POOL[:40])  # the client works once the server is back
        assert [fingerprint(r) for r in after.results] == [reference[u] for u in POOL[:40]]
        reliability.add(predictions=2, inputs_sent=360)
    finally:
        client.close()
        server.stop()
    assert reliability.counts["misalignments"] == 0


def test_hung_server_every_call_ends_by_its_deadline_and_nothing_is_left_running(
    reliability: Any,
) -> None:
    threads_before, fds_before = thread_names(), open_fds()
    with LocalWorkflowServer() as server:
        server.latency = 3600  # hung: stop() wakes it
        sync = WorkflowClient(target=server.target, insecure=True, batch_size=10)
        for n in (1, 25):
            started = time.monotonic()
            with pytest.raises(DeadlineExceededError):
                sync.predict("General", POOL[:n], timeout=0.4)
            assert time.monotonic() - started < 1.5
        sync.close()

        async def run() -> None:
            async with AsyncWorkflowClient(
                target=server.target, insecure=True, batch_size=10
            ) as client:
                for n in (1, 25):
                    started = time.monotonic()
                    with pytest.raises(DeadlineExceededError):
                        await client.predict("General", POOL[:n], timeout=0.4)
                    assert time.monotonic() - started < 1.5

        asyncio.run(run())
    leaked_fds, leaked_threads = settled(fds_before, threads_before)
    reliability.add(predictions=4, leaks_found=len(leaked_threads) + leaked_fds)
    assert not leaked_threads and leaked_fds == 0


def test_one_sync_client_shared_by_16_threads(reference: dict, reliability: Any) -> None:
    errors: list[BaseException] = []
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(target=server.target, insecure=True, batch_size=8) as client,
    ):

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            try:
                for call in range(50):
                    sent = [
                        (f"t{seed}-{call}-{k}", rng.choice(POOL)) for k in range(rng.randint(1, 20))
                    ]
                    prediction = client.predict(
                        "General", [Input.from_url(u, id=i) for i, u in sent]
                    )
                    check(prediction, sent, reference, reliability)
                    reliability.add(predictions=1, inputs_sent=len(sent))
            except BaseException as error:  # surfaced below
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert reliability.counts["misalignments"] == 0


def test_300_concurrent_calls_on_one_async_client(reference: dict, reliability: Any) -> None:
    async def run(target: str) -> None:
        rng = random.Random(3)
        async with AsyncWorkflowClient(target=target, insecure=True, batch_size=8) as client:
            plans = [
                [(f"a{call}-{k}", rng.choice(POOL)) for k in range(rng.randint(1, 20))]
                for call in range(300)
            ]
            predictions = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        client.predict("General", [Input.from_url(u, id=i) for i, u in sent])
                        for sent in plans
                    )
                ),
                timeout=120,
            )
            for sent, prediction in zip(plans, predictions, strict=True):
                check(prediction, sent, reference, reliability)
                reliability.add(predictions=1, inputs_sent=len(sent))

    with LocalWorkflowServer() as server:
        asyncio.run(run(server.target))
    assert reliability.counts["misalignments"] == 0
