"""Bulk jobs: every input of a file (or a list of sources) into one JSON line per input,
resumably. ``WorkflowClient.bulk`` and ``AsyncWorkflowClient.bulk`` drive a ``Job``; the
command line's ``bulk`` is a shell over them.

- Inputs: a text file with one URL or path per line (blank lines and ``#`` comments skipped), a
  ``.csv`` file with a ``url`` column and an optional ``id`` column, or a sequence of sources
  (each what one line of a text file holds). An input's ``index`` is its position among the
  inputs, so it names the same input on every run over the same inputs.
- Output: one JSON line per input, its keys in this order: ``index``, ``id``, ``source`` (the URL
  or path exactly as read), ``job`` (workflow, owner ids, version and output settings),
  ``status`` and ``outputs``.
- Resume: a rerun first checks that every line in the file belongs to this job (the same input
  at its ``index``, the same ``job``); on any difference it raises ``JobMismatch`` (an
  ``InputError`` whose ``param`` names the setting at fault) and leaves the file untouched. Then
  it runs the inputs that have no line yet (and, with ``retry_failed``, those whose line shows a
  failure, dropping those lines first).
- Writing: lines are appended a request's worth at a time, each batch in one write of the whole
  lines, and counted in the same step; the file is created at the first write.
- Stopping: when ``STOP_AFTER_FAILED_REQUESTS`` requests in a row fail at the transport level
  (nothing answers, or every request times out or breaks), the job raises that
  ``TransportError`` and writes nothing for them, so a rerun runs them. Ctrl-C (in the main
  thread) only records the interrupt: the job stops at its next safe point, writes what was
  answered, cancels the requests in flight and raises ``KeyboardInterrupt`` there; a second
  Ctrl-C goes to the handler that was there before.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import tempfile
import threading
from array import array
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import _dedupe
from ._request import KEPT_BACK
from .errors import SUCCESS, ClarifaiError, InputError, TransportError
from .inputs import Input, from_source
from .models import Usage, WorkflowResult, as_json, load, usage

__all__ = [
    "STOP_AFTER_FAILED_REQUESTS",
    "BulkSummary",
    "Job",
    "JobMismatch",
    "interrupts",
    "nodes",
    "read_inputs",
    "workflow_request",
]

log = logging.getLogger(__name__)

_SUCCESS = "SUCCESS"
_NONE, _DONE, _FAILED = 0, 1, 2
_OUTPUTS_KEY = b',"outputs":'
#: Requests in a row that fail at the transport level before a job stops.
STOP_AFTER_FAILED_REQUESTS = 3


@dataclass(frozen=True, slots=True)
class BulkSummary:
    """Where a bulk job stands: ``total`` inputs in the job; ``written``, the lines this run
    wrote; ``done``, the lines the file holds, ``failed`` of them showing a failure, and
    ``statuses`` those lines by status name; ``usage``, what this run used; ``pace``, the
    client's pace in requests per second (``None`` while it does not pace); and
    ``budget_reached``, whether ``max_operations`` stopped the run."""

    total: int
    written: int
    done: int
    failed: int
    statuses: dict[str, int]
    usage: Usage = field(default_factory=Usage)
    pace: float | None = None
    budget_reached: bool = False


class JobMismatch(InputError):
    """The output file holds lines of another job or other inputs; the message names the first
    difference and ``param`` the setting at fault (``"inputs"`` for the inputs, ``"out"`` for a
    file that holds no bulk lines)."""


Source = tuple[int, "str | None", str]


def read_inputs(inputs: str | os.PathLike[str] | Sequence[str]) -> Iterator[Source]:
    """``(index, id or None, source)`` for each input: of a text or CSV file, or of a sequence
    of sources."""
    if isinstance(inputs, (str, os.PathLike)):
        return _read_file(Path(inputs))
    return ((index, None, source) for index, source in enumerate(inputs))


def _read_file(path: Path) -> Iterator[Source]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read inputs file {str(path)!r}: {exc.strerror or exc}", param="inputs"
        ) from exc
    with handle:
        try:
            if path.suffix.lower() == ".csv":
                rows = csv.DictReader(handle)
                if not rows.fieldnames or "url" not in rows.fieldnames:
                    raise InputError(
                        f"{path}: a CSV of inputs needs a 'url' column (and may have 'id')",
                        param="inputs",
                    )
                for index, row in enumerate(rows):
                    yield index, (row.get("id") or None), (row["url"] or "").strip()
                return
            index = 0
            for line in handle:
                value = line.strip()
                if value and not value.startswith("#"):
                    yield index, None, value
                    index += 1
        except UnicodeDecodeError as exc:
            raise InputError(
                f"inputs file {str(path)!r} is not UTF-8 text", param="inputs"
            ) from exc


def input_value(source: str, input_id: str | None, sample_ms: int | None = None) -> Any:
    """What to predict for one line: an ``Input`` with its id (videos sampled every
    ``sample_ms``), or, when the line is not a valid input, a value ``predict_iter`` rejects in
    that input's own result."""
    try:
        return from_source(source, id=input_id, sample_ms=sample_ms)
    except InputError:
        return source if "://" in source else Path(source)


class _Head:
    """What a line says about itself, without its outputs: enough to check and count it."""

    __slots__ = ("index", "id", "source", "job", "status")

    def __init__(self, record: Mapping[str, Any]) -> None:
        index, status = record["index"], record["status"]
        if type(index) is not int or index < 0 or not isinstance(status.get("name"), str):
            raise ValueError("not a result line")
        self.index: int = index
        self.id = record.get("id")
        self.source = record.get("source")
        self.job = record.get("job")
        self.status: str = status["name"]


def _head(line: bytes) -> _Head:
    """Parse a line's head; ``ValueError`` (or ``KeyError``/``TypeError``) if it is no result."""
    cut = line.find(_OUTPUTS_KEY)
    # The key cannot occur inside a JSON string (its quotes would be escaped), so the first
    # match is the real key of a line this module wrote; anything else is parsed whole.
    record = json.loads(line[:cut] + b"}" if cut > 0 else line)
    return _Head(record)


def _key(source: Any, input_id: Any) -> int:
    """A non-zero 64-bit key of one input, to compare a line's input with the inputs'."""
    return (hash((source, input_id)) & 0xFFFF_FFFF_FFFF_FFFF) | 1


@contextmanager
def interrupts() -> Iterator[threading.Event]:
    """Ctrl-C recorded, not raised: the first SIGINT sets the event, which the job checks at
    its safe points (raising ``KeyboardInterrupt`` there, never inside gRPC's code); a second
    goes to the handler that was there before. Only the main thread receives signals, so
    elsewhere the event is never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def record(signum: int, frame: Any) -> None:
        if not stop.is_set():
            stop.set()
        elif callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, record)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


class Job:
    """One run of a bulk job: what to predict, where results go, and the tally.

    ``settings`` (workflow id, owner ids, version, output settings and, when set, ``sample_ms``
    for videos) are written into every line as ``job``, and a resume must match them. The
    client drives it: ``prepare()``, then ``values()`` into ``predict_iter``, ``add()`` for each
    result in order, and ``finish()`` at the end (``close()`` always).
    """

    def __init__(
        self,
        inputs: str | os.PathLike[str] | Sequence[str],
        out: str | os.PathLike[str],
        settings: Mapping[str, Any],
        *,
        batch_size: int,
        retry_failed: bool = False,
        overwrite: bool = False,
        progress: Callable[[BulkSummary], Any] | None = None,
        pace: Callable[[], float | None] = lambda: None,
        dedupe: bool = False,
        max_operations: int | None = None,
    ) -> None:
        if isinstance(inputs, (str, os.PathLike)):
            self.inputs: str | os.PathLike[str] | Sequence[str] = inputs
            self._inputs_name = str(inputs)
        elif isinstance(inputs, Sequence) and all(isinstance(s, str) for s in inputs):
            self.inputs = inputs
            self._inputs_name = "the inputs"
        else:
            raise InputError(
                "inputs must be a path to a text or CSV file, or a sequence of str sources "
                f"(URLs, paths, text), got {type(inputs).__name__}",
                param="inputs",
            )
        try:
            self.out = Path(out)
        except TypeError:
            raise InputError(f"out must be a path, got {type(out).__name__}", param="out") from None
        if self.out.is_dir():
            raise InputError(f"out {str(self.out)!r} is a directory; give a file path", param="out")
        self.settings = dict(settings)
        self.batch_size = batch_size
        self.retry_failed = retry_failed
        self.overwrite = overwrite
        self._progress = progress
        self._pace = pace
        self.dedupe = dedupe
        self.budget = max_operations
        #: Operations one input is expected to cost (the workflow's nodes), reserved from the
        #: budget when it is sent and settled from its answer; learned from the answers when
        #: the client could not read the workflow.
        self.per_input: int | None = None
        self.budget_reached = False
        self._reserved = 0
        self._spent = 0
        self._learned = 1
        self._job_json = json.dumps(self.settings, separators=(",", ":"), sort_keys=True)
        self.kept_statuses = Counter[str]()  # statuses of the lines the file keeps from before
        self.written_statuses = Counter[str]()  # statuses of the lines this run wrote
        self.used = Usage()  # what this run's written lines used
        self.never_ran = 0  # inputs with no line before this run
        self.to_run = 0
        self.total = 0
        # Per index: _NONE (to run), _DONE or _FAILED (a line kept); and which had a line.
        self._state = bytearray()
        self._lined = bytearray()
        self._names = Counter[str]()
        self._torn_at: int | None = None
        self._repeated = False
        # The run: each input's (index, id, source, index of the input it duplicates or -1,
        # operations reserved for it), in answer order; lines to write; and transport failures
        # held back until the target answers again.
        self.pending: deque[tuple[int, str | None, str, int, int]] = deque()
        self._batch: list[_Entry] = []
        self._unsure: list[_Entry] = []
        # With dedupe: the first input of each key, and where its line is (in the batch or
        # held back, or written at an offset of the file).
        self._first: dict[int, int] = {}
        self._held: dict[int, _Entry] = {}
        self._where = array("Q")
        self._size = 0
        self._failed_requests = 0
        self._last_error: ClarifaiError | None = None
        self._answered = False
        self._file: Any = None

    # --- before the first request ------------------------------------------------------------

    def prepare(self) -> int:
        """Check the output file against this job and the inputs, drop the lines of inputs
        that will run again, and return how many inputs will run. Raises ``JobMismatch`` (the
        file untouched) when the file holds lines of another job or other inputs."""
        if not self.overwrite:
            self._check()
        again = _FAILED if self.retry_failed else None
        names = self._names
        dropped = 0
        if again is not None:
            for index, state in enumerate(self._state):
                if state == again:
                    self._state[index] = _NONE
                    dropped += 1
            names = Counter({name: n for name, n in names.items() if name == _SUCCESS})
        if dropped or self._repeated:
            self._rewrite()
        elif self._torn_at is not None:
            os.truncate(self.out, self._torn_at)
            log.info("%s: dropped a torn last line (a write that was cut short)", self.out)
        self.kept_statuses = names
        self.to_run = self.never_ran = self.total = 0
        for index, _, _ in read_inputs(self.inputs):
            self.total += 1
            if not self._kept(index):
                self.to_run += 1
                self.never_ran += not self._had_line(index)
        if self.retry_failed and self.never_ran:
            log.info("%d inputs never ran (an unfinished run); running them too", self.never_ran)
        return self.to_run

    def _kept(self, index: int) -> bool:
        return index < len(self._state) and self._state[index] != _NONE

    def _had_line(self, index: int) -> bool:
        return index < len(self._lined) and bool(self._lined[index])

    def _check(self) -> None:
        """Read the file's lines: each index's state, the status counts, a torn last line and
        repeated indexes; refuse it if a line belongs to another job or another input."""
        if not self.out.exists():
            return
        # Per index, a key of the line's source alone and of its source and id: the id is the
        # input's own when the inputs file gives one, else whatever the API assigned.
        by_source, by_both = array("Q"), array("Q")
        offset = 0
        with self.out.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.endswith(b"\n"):  # an interrupted write, only ever the last line
                    self._torn_at = offset
                    break
                try:
                    head = _head(line)
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise JobMismatch(
                        f"{self.out} line {number} is not a result line written by bulk",
                        param="out",
                    ) from None
                offset += len(line)
                self._check_job(head, number)
                index = head.index
                grow = index + 1 - len(by_source)
                if grow > 0:
                    by_source.frombytes(bytes(8 * grow))
                    by_both.frombytes(bytes(8 * grow))
                    self._state.extend(bytes(grow))
                if self._state[index] != _NONE:
                    self._repeated = True
                    continue
                by_source[index] = _key(head.source, None)
                by_both[index] = _key(head.source, head.id)
                self._state[index] = _DONE if head.status == _SUCCESS else _FAILED
                self._names[head.status] += 1
        self._lined = bytearray(self._state)
        self._check_inputs(by_source, by_both)

    def _check_job(self, head: _Head, number: int) -> None:
        if not isinstance(head.source, str) or not isinstance(head.job, dict):
            raise JobMismatch(
                f"{self.out} line {number} has no 'source' or 'job': it was written by an older "
                "version of bulk",
                param="out",
            )
        if json.dumps(head.job, separators=(",", ":"), sort_keys=True) == self._job_json:
            return
        for name in [*self.settings, *(k for k in head.job if k not in self.settings)]:
            was, now = head.job.get(name), self.settings.get(name)
            if was != now:
                raise JobMismatch(
                    f"{self.out} was written with {name} {_shown(was)}, but this run has "
                    f"{_shown(now)} (line {number})",
                    param=name,
                )

    def _check_inputs(self, by_source: array[int], by_both: array[int]) -> None:
        count = 0
        for index, input_id, source in read_inputs(self.inputs):
            count = index + 1
            if not self._kept(index):
                continue
            same = (
                by_both[index] == _key(source, input_id)
                if input_id
                else by_source[index] == _key(source, None)
            )
            if not same:
                line_id, line_source = self._line_for(index)
                if line_source != source:
                    what = f"source {line_source!r}, but {self._inputs_name} has {source!r}"
                else:
                    what = f"id {line_id!r}, but {self._inputs_name} has id {input_id!r}"
                raise JobMismatch(
                    f"{self.out} holds the result for input {index} with {what} at that index",
                    param="inputs",
                )
        beyond = self._state.find(b"\x01", count), self._state.find(b"\x02", count)
        first = min((i for i in beyond if i >= 0), default=-1)
        if first >= 0:
            raise JobMismatch(
                f"{self.out} holds a result for input {first}, but {self._inputs_name} has only "
                f"{count} inputs",
                param="inputs",
            )

    def _line_for(self, index: int) -> tuple[Any, Any]:
        with self.out.open("rb") as handle:
            for line in handle:
                head = _head(line)
                if head.index == index:
                    return head.id, head.source
        raise AssertionError(f"no line for index {index}")  # _check saw one

    def _rewrite(self) -> None:
        """Rewrite the file atomically with the first whole line of each kept index."""
        fd, temp = tempfile.mkstemp(prefix=f".{self.out.name}.", dir=self.out.parent)
        written = bytearray(len(self._state))
        try:
            with os.fdopen(fd, "wb") as handle, self.out.open("rb") as old:
                for line in old:
                    if not line.endswith(b"\n"):
                        break
                    index = _head(line).index
                    if self._kept(index) and not written[index]:
                        written[index] = 1
                        handle.write(line)
            os.replace(temp, self.out)
        except BaseException:
            os.unlink(temp)
            raise

    # --- the run ---------------------------------------------------------------------------

    def values(self) -> Iterator[Any]:
        """The inputs to send, lazily, each queued in ``pending`` in the order ``predict_iter``
        answers them (a duplicate, with ``dedupe``, is queued and ``KEPT_BACK`` in its place,
        so the stream goes on answering while a long run of duplicates is read). Ends early
        when the next input would take the run past its budget."""
        sample_ms = self.settings.get("sample_ms")
        for index, input_id, source in read_inputs(self.inputs):
            if self._kept(index):
                continue
            value = input_value(source, input_id, sample_ms)
            if self.dedupe and isinstance(value, Input):
                first = self._first.setdefault(_dedupe.key(value.proto), index)
                if first != index:
                    self.pending.append((index, input_id, source, first, 0))
                    yield KEPT_BACK
                    continue
            cost = 0
            if self.budget is not None:
                cost = self.per_input or self._learned
                if self._spent + self._reserved + cost > self.budget:
                    self.budget_reached = True
                    return
                self._reserved += cost
            self.pending.append((index, input_id, source, -1, cost))
            yield value

    def add(self, result: WorkflowResult) -> None:
        """The next result, in input order: its line joins the batch, written when full. A
        result whose request failed at the transport level is held back until the target
        answers again; ``STOP_AFTER_FAILED_REQUESTS`` such requests in a row raise the error.
        The result of a duplicate kept back stands for a copy of its first input's line."""
        index, input_id, source, first, reserved = self.pending.popleft()
        if first >= 0:
            self._copy(index, input_id, source, first)
            return
        used = usage((result.raw,))
        self._reserved -= reserved
        self._spent += used.operations
        if self.budget is not None and self.per_input is None and result.ok:
            self._learned = max(self._learned, used.operations)  # the workflow unread
        entry = _Entry(index, self._line(index, input_id, source, result), result.status.name, used)
        error = result.error
        if isinstance(error, TransportError):
            self._hold(entry, self._unsure)
            if error is not self._last_error:  # the inputs of one request share its error
                self._last_error = error
                self._failed_requests += 1
                if self._failed_requests >= STOP_AFTER_FAILED_REQUESTS:
                    raise error
            return
        self._answered = True
        self._failed_requests = 0
        self._last_error = None
        self._batch += self._unsure
        self._unsure.clear()
        self._hold(entry, self._batch)
        if len(self._batch) >= self.batch_size:
            self.commit()

    def _hold(self, entry: _Entry, where: list[_Entry]) -> None:
        where.append(entry)
        if self.dedupe:
            self._held[entry.index] = entry

    def _copy(self, index: int, input_id: str | None, source: str, first: int) -> None:
        """The line of a duplicate: its first input's line (answered before it, as results
        come in input order) under its own index, id and source, with the same fate (held back
        with it, if it is)."""
        held = self._held.get(first)
        if held is not None:
            line, name = held.line, held.status
            into = self._unsure if any(e is held for e in self._unsure) else self._batch
        else:  # written already: read it back
            line = self._read(first)
            name, into = _head(line).status, self._batch
        self._hold(_Entry(index, _copied(line, index, input_id, source), name, Usage()), into)
        if len(self._batch) >= self.batch_size:
            self.commit()

    def _read(self, index: int) -> bytes:
        offset, length = self._where[2 * index], self._where[2 * index + 1]
        return os.pread(self._file.fileno(), length, offset)

    def finish(self) -> None:
        """Write what is left at the end of the inputs; raises the transport error when every
        request of the run failed at the transport level (nothing was answered)."""
        if self._unsure and not self._answered and self._last_error is not None:
            raise self._last_error
        self._batch += self._unsure
        self._unsure.clear()
        self.commit()

    def commit(self) -> None:
        """Append the batch of lines whole (one write) and count it; then tell ``progress``."""
        batch = self._batch
        if not batch:
            return
        if self._file is None:  # created at the first line: a job that writes none leaves none
            mode = "w+b" if self.overwrite else "a+b"  # readable: duplicates copy lines back
            self._file = self.out.open(mode, buffering=0)
            self._size = self._file.seek(0, os.SEEK_END)
        data = b"".join(entry.line for entry in batch)
        written = 0
        while written < len(data):  # one write nearly always; a cut-short one is finished
            written += self._file.write(data[written:])
        if self.dedupe:  # where each line went, for the duplicates still to come
            for entry in batch:
                self._locate(entry.index, self._size, len(entry.line))
                self._size += len(entry.line)
                self._held.pop(entry.index, None)
        self.written_statuses.update(entry.status for entry in batch)
        for entry in batch:
            self.used += entry.usage
        batch.clear()
        if self._progress is not None:
            self._progress(self.summary())

    def _locate(self, index: int, offset: int, length: int) -> None:
        where = self._where
        if len(where) < 2 * index + 2:
            where.frombytes(bytes(8 * (2 * index + 2 - len(where))))
        where[2 * index], where[2 * index + 1] = offset, length

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _line(self, index: int, input_id: str | None, source: str, result: WorkflowResult) -> bytes:
        load(result)  # converts the whole result in one pass
        status = as_json(result.status)
        status.pop("req_id", None)
        line = {
            "index": index,
            "id": input_id or result.input_id,
            "source": source,
            "job": self.settings,
            "status": status,
            "outputs": as_json(result.outputs),
        }
        return json.dumps(line, separators=(",", ":")).encode() + b"\n"

    # --- the tally -------------------------------------------------------------------------

    def summary(self) -> BulkSummary:
        holds = self.kept_statuses + self.written_statuses
        return BulkSummary(
            total=self.total,
            written=sum(self.written_statuses.values()),
            done=sum(holds.values()),
            failed=sum(n for name, n in holds.items() if name != _SUCCESS),
            statuses=dict(holds.most_common()),
            usage=self.used,
            pace=self._pace(),
            budget_reached=self.budget_reached,
        )


class _Entry:
    """One line to write: its input's index, the line, its status name, and what it used."""

    __slots__ = ("index", "line", "status", "usage")

    def __init__(self, index: int, line: bytes, status: str, usage: Usage) -> None:
        self.index = index
        self.line = line
        self.status = status
        self.usage = usage


def _copied(line: bytes, index: int, input_id: str | None, source: str) -> bytes:
    """``line`` (another input's) for the input ``index``: its own index, id and source."""
    cut = line.index(b',"job":')
    head = {"index": index, "id": input_id or json.loads(line[:cut] + b"}")["id"], "source": source}
    return json.dumps(head, separators=(",", ":")).encode()[:-1] + line[cut:]


def workflow_request(settings: Mapping[str, Any]) -> Any:
    """The ``GetWorkflowRequest`` for a job's workflow."""
    from clarifai_grpc.grpc.api import resources_pb2, service_pb2

    request = service_pb2.GetWorkflowRequest(workflow_id=settings["workflow_id"])
    if settings["user_id"] and settings["app_id"]:
        request.user_app_id.CopyFrom(
            resources_pb2.UserAppIDSet(user_id=settings["user_id"], app_id=settings["app_id"])
        )
    return request


def nodes(response: Any) -> int | None:
    """What one input costs in operations, from a ``GetWorkflow`` answer: the nodes whose
    output comes back (``None`` unless the answer succeeded)."""
    if response.status.code != SUCCESS or not response.workflow.nodes:
        return None
    return sum(not node.suppress_output for node in response.workflow.nodes) or None


def _shown(value: Any) -> str:
    return "none" if value in (None, "", {}) else json.dumps(value)


def settings(
    workflow_id: str,
    user_id: str | None,
    app_id: str | None,
    version_id: str | None,
    output_config: Any,
    sample_ms: int | None,
) -> dict[str, Any]:
    """A job's settings, as its lines record them: what a resume must repeat."""
    from google.protobuf import json_format

    from ._request import check_output_config
    from .inputs import check_sample_ms

    config: dict[str, Any] = {}
    if output_config is not None:
        checked = check_output_config(output_config)
        config = (
            dict(output_config)
            if isinstance(output_config, Mapping)
            else json_format.MessageToDict(checked, preserving_proto_field_name=True)
        )
    found: dict[str, Any] = {
        "workflow_id": workflow_id,
        "user_id": user_id or "",
        "app_id": app_id or "",
        "version_id": version_id or "",
        "output_config": config,
    }
    if sample_ms is not None:
        found["sample_ms"] = check_sample_ms(sample_ms, "video")
    return found
