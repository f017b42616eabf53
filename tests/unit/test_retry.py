"""The retry schedule and the deadline, in simulated time: a fake clock drives ``Deadline`` and a
fixed random value drives the jitter, so each test runs in microseconds and asserts exact
numbers."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api import service_pb2
from clarifai_grpc.grpc.api.status import status_code_pb2 as codes
from clarifai_grpc.grpc.api.status import status_pb2

from clarifai_workflow_predict import (
    DeadlineExceededError,
    InputError,
    ModelDeployingError,
    RateLimitError,
    RetryPolicy,
    TransportError,
)
from clarifai_workflow_predict._retry import (
    DEPLOYING_POLL,
    THROTTLED_BACKOFF,
    Attempts,
    Deadline,
)

from ..helpers import Clock


def response(code: int = codes.SUCCESS) -> service_pb2.PostWorkflowResultsResponse:
    return service_pb2.PostWorkflowResultsResponse(
        status=status_pb2.Status(code=code, description="d", req_id=f"req-{code}")
    )


def unavailable() -> TransportError:
    return TransportError(grpc.StatusCode.UNAVAILABLE, "down")


def drive(attempts: Attempts, clock: Clock, answers: list[Any], cost: float = 0.0) -> list[float]:
    """Run the client loop: each attempt takes ``cost`` seconds and gives the next answer.
    Returns the timeout each attempt was given."""
    timeouts = []
    feed = iter(answers)
    while (pause := attempts.pace()) is not None:
        if pause:
            clock.now += pause
            continue
        timeouts.append(attempts.timeout())
        clock.now += cost
        if (delay := attempts.retry_delay(next(feed))) is None:
            break
        clock.now += delay
    return timeouts


def make(
    policy: RetryPolicy | None, timeout: float | None, **kwargs: Any
) -> tuple[Attempts, Clock]:
    clock = Clock()
    return Attempts(policy, Deadline(timeout, clock), rand=lambda: 0.5, **kwargs), clock


# --- the schedule -------------------------------------------------------------------------


def test_backoff_doubles_from_the_initial_wait_up_to_the_cap() -> None:
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=0.5, jitter=0.0)
    assert [policy.backoff(n, 0.5) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    jittery = RetryPolicy(initial_backoff=1.0, max_backoff=10.0, jitter=0.2)
    assert jittery.backoff(1, 0.0) == pytest.approx(0.8)
    assert jittery.backoff(1, 0.999999) == pytest.approx(1.2, abs=1e-5)
    assert jittery.backoff(1, 0.5, cap=0.3) == 0.3  # a cap below the wait wins
    assert jittery.backoff(1, 0.5, start=2.0) == 2.0  # a start above initial_backoff wins


def test_unavailable_is_retried_until_max_attempts_with_the_scheduled_waits() -> None:
    attempts, clock = make(RetryPolicy(jitter=0.0), None)
    started = clock.now
    timeouts = drive(attempts, clock, [unavailable()] * 10)
    assert len(timeouts) == 4 and attempts.attempt == 4
    assert clock.now - started == pytest.approx(0.1 + 0.2 + 0.4)
    error = attempts.final()
    assert isinstance(error, TransportError) and error.attempts == 4


def test_success_ends_at_once_and_final_returns_the_response() -> None:
    attempts, clock = make(RetryPolicy(), 10)
    ok = response()
    assert drive(attempts, clock, [ok]) == [10]
    assert attempts.final() is ok


def test_each_attempt_gets_what_remains_of_the_deadline_or_the_per_attempt_cap() -> None:
    attempts, clock = make(RetryPolicy(jitter=0.0), 10.0, per_attempt=3.0)
    timeouts = drive(attempts, clock, [unavailable()] * 4, cost=2.0)
    assert timeouts == [3.0, pytest.approx(3.0), pytest.approx(3.0), pytest.approx(3.0)]
    attempts, clock = make(RetryPolicy(jitter=0.0), 5.0)
    timeouts = drive(attempts, clock, [unavailable()] * 4, cost=2.0)
    # 5 s: the first gets 5, the second what is left after 2 s and a 0.1 s wait.
    assert timeouts[:2] == [5.0, pytest.approx(2.9)]


def test_no_wait_runs_past_the_deadline() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=1.0, jitter=0.0)
    attempts, clock = make(policy, 1.5)
    timeouts = drive(attempts, clock, [unavailable()] * 4, cost=0.25)
    # After 0.25 s a 1 s wait still fits (ends at 1.25); after the second, it would not.
    assert len(timeouts) == 2 and clock.now - 1000.0 == pytest.approx(1.5)
    error = attempts.final()
    assert isinstance(error, TransportError) and error.attempts == 2


def test_an_expired_deadline_stops_before_another_attempt() -> None:
    attempts, clock = make(RetryPolicy(jitter=0.0), 1.0)
    clock.now += 2.0
    assert attempts.pace() is None
    error = attempts.final()
    assert isinstance(error, DeadlineExceededError)
    assert "expired before attempt 1" in str(error) and error.attempts == 0


def test_non_retryable_answers_end_at_once() -> None:
    for answer in (
        TransportError(grpc.StatusCode.INVALID_ARGUMENT, "bad"),
        response(codes.WORKFLOW_DOES_NOT_EXIST),
        response(codes.MIXED_STATUS),
    ):
        attempts, clock = make(RetryPolicy(), None)
        assert len(drive(attempts, clock, [answer] * 4)) == 1


def test_retry_none_makes_one_attempt_even_while_deploying() -> None:
    attempts, clock = make(None, 60)
    assert len(drive(attempts, clock, [response(codes.MODEL_DEPLOYING)] * 4)) == 1
    assert isinstance(attempts.final(), ModelDeployingError)


def test_throttled_waits_start_at_half_a_second() -> None:
    policy = RetryPolicy(jitter=0.0)
    attempts, clock = make(policy, None)
    drive(attempts, clock, [response(codes.CONN_THROTTLED)] * 4)
    assert clock.now - 1000.0 == pytest.approx(THROTTLED_BACKOFF * (1 + 2 + 4))
    error = attempts.final()
    assert isinstance(error, RateLimitError) and error.attempts == 4


def test_deploying_is_polled_until_the_deadline_then_raises_model_deploying() -> None:
    attempts, clock = make(RetryPolicy(max_attempts=2, jitter=0.0), 30.0)
    timeouts = drive(attempts, clock, [response(codes.MODEL_DEPLOYING)] * 100, cost=0.1)
    # max_attempts does not bound a cold start: polls every DEPLOYING_POLL s until 30 s.
    assert len(timeouts) > 10
    assert clock.now - 1000.0 <= 30.0
    error = attempts.final()
    assert isinstance(error, ModelDeployingError) and error.attempts == len(timeouts)
    assert error.req_id == f"req-{codes.MODEL_DEPLOYING}"
    waits = RetryPolicy(jitter=0.0)
    assert waits.backoff(10, 0.5, cap=DEPLOYING_POLL) == DEPLOYING_POLL


def test_deploying_then_deadline_exceeded_raises_model_deploying() -> None:
    attempts, clock = make(RetryPolicy(jitter=0.0), 3.0)
    drive(
        attempts,
        clock,
        [response(codes.MODEL_DEPLOYING), DeadlineExceededError()],
        cost=0.5,
    )
    error = attempts.final()
    assert isinstance(error, ModelDeployingError)
    assert isinstance(error.__cause__, DeadlineExceededError) and error.attempts == 2


def test_deploying_then_ready_returns_the_response() -> None:
    attempts, clock = make(RetryPolicy(jitter=0.0), 30.0)
    ok = response()
    drive(attempts, clock, [response(codes.MODEL_LOADING)] * 3 + [ok])
    assert attempts.final() is ok and attempts.attempt == 4


def outputs_say(*codes_by_result: tuple[int, ...], top: int = codes.FAILURE) -> Any:
    """A response whose results' outputs carry ``codes_by_result`` (one tuple per result)."""
    answer = response(top)
    for output_codes in codes_by_result:
        result = answer.results.add()
        for code in output_codes:
            result.outputs.add().status.CopyFrom(status_pb2.Status(code=code, description="out"))
    return answer


def test_deploying_on_every_output_is_a_cold_start_as_at_the_top() -> None:
    deploying = codes.MODEL_DEPLOYING
    attempts, clock = make(RetryPolicy(jitter=0.0), 10.0)
    timeouts = drive(attempts, clock, [outputs_say((deploying, deploying), (deploying,))] * 50)
    assert len(timeouts) > 4  # polled until the deadline, like a deploying top-level status
    error = attempts.final()
    assert isinstance(error, ModelDeployingError) and error.code == deploying
    assert error.description == "out"
    attempts, clock = make(RetryPolicy(jitter=0.0), 10.0)
    ready = outputs_say((codes.SUCCESS,), top=codes.SUCCESS)
    drive(attempts, clock, [outputs_say((deploying,), top=codes.MIXED_STATUS), ready])
    assert attempts.final() is ready
    # As a raw response, the last deploying answer comes back unchanged.
    attempts, clock = make(RetryPolicy(jitter=0.0), 3.0)
    waiting = outputs_say((deploying,))
    drive(attempts, clock, [waiting] * 10)
    assert attempts.final(raw=True) is waiting


def test_outputs_that_are_not_all_deploying_are_per_input_answers() -> None:
    partly = outputs_say((codes.MODEL_DEPLOYING, codes.SUCCESS), top=codes.MIXED_STATUS)
    attempts, clock = make(RetryPolicy(), 30.0)
    assert len(drive(attempts, clock, [partly] * 3)) == 1 and attempts.final() is partly


def test_failure_with_a_result_per_input_is_an_answer_and_without_results_an_error() -> None:
    every_input_failed = outputs_say((codes.INPUT_DOWNLOAD_FAILED,))
    attempts, clock = make(RetryPolicy(), None)
    drive(attempts, clock, [every_input_failed])
    assert attempts.final() is every_input_failed
    attempts, clock = make(RetryPolicy(), None)
    drive(attempts, clock, [response(codes.FAILURE)])
    assert attempts.final().code == codes.FAILURE


@pytest.mark.parametrize("busy", [codes.QUEUE_CONN_ERROR, codes.TRY_AGAIN])
def test_the_api_busy_codes_are_retried(busy: int) -> None:
    attempts, clock = make(RetryPolicy(jitter=0.0), None)
    ok = response()
    assert len(drive(attempts, clock, [response(busy), response(busy), ok])) == 3
    assert attempts.final() is ok


def test_final_raw_returns_a_failing_response_unchanged() -> None:
    attempts, clock = make(RetryPolicy(), None)
    failing = response(codes.WORKFLOW_DOES_NOT_EXIST)
    drive(attempts, clock, [failing])
    assert attempts.final(raw=True) is failing
    assert attempts.final().code == codes.WORKFLOW_DOES_NOT_EXIST  # typed otherwise


def test_codes_are_policy_fields_that_can_be_changed() -> None:
    no_unavailable = dataclasses.replace(RetryPolicy(), retry_grpc_codes=frozenset())
    attempts, clock = make(no_unavailable, None)
    assert len(drive(attempts, clock, [unavailable()] * 4)) == 1
    busy = dataclasses.replace(
        RetryPolicy(),
        retry_status_codes={codes.MODEL_BUSY_PLEASE_RETRY, codes.INTERNAL_UNCATEGORIZED},
    )
    assert codes.INTERNAL_UNCATEGORIZED in busy.retry_status_codes
    assert isinstance(busy.retry_status_codes, frozenset)  # stored frozen, hashable
    attempts, clock = make(busy, None)
    assert len(drive(attempts, clock, [response(codes.INTERNAL_UNCATEGORIZED)] * 4)) == 4


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.0}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"initial_backoff": -1}, "0 <= initial_backoff"),
        ({"initial_backoff": 2, "max_backoff": 1}, "initial_backoff <= max_backoff"),
        ({"initial_backoff": float("nan")}, "initial_backoff must be a number"),
        ({"jitter": "0.1"}, "jitter must be a number"),
        ({"jitter": 1.0}, "jitter must be in"),
        ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
        ({"retry_grpc_codes": "UNAVAILABLE"}, "set of codes"),
        ({"retry_grpc_codes": {14}}, "StatusCode codes"),
        ({"retry_status_codes": {grpc.StatusCode.UNAVAILABLE}}, "int codes"),
        ({"deploying_status_codes": {True}}, "int codes"),
    ],
)
def test_bad_policies_raise_input_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        RetryPolicy(**kwargs)
