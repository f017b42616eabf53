"""The ``bulk`` command's job: inputs from a file to one JSON line per input, resumably.

- Inputs: a text file with one URL or path per line (blank lines and ``#`` comments skipped), or
  a ``.csv`` file with a ``url`` column and an optional ``id`` column. An input's ``index`` is its
  position among the inputs, so it names the same input on every run over the same file.
- Output: one JSON line per input, its keys in this order: ``index``, ``id``, ``source`` (the URL
  or path exactly as read), ``job`` (workflow, owner ids, version and output settings),
  ``status`` and ``outputs``.
- Resume: a rerun first checks that every line in the file belongs to this job (the same input
  at its ``index``, the same ``job``); on any difference it refuses with ``JobMismatch`` and
  leaves the file untouched. Then it runs the inputs that have no line yet (and, with
  ``retry_failed``, those whose line shows a failure, dropping those lines first).
- Writing: lines are appended a request's worth at a time, and each append is counted in the
  same step, with Ctrl-C held off until both are done: an interrupted run never writes a line
  twice and its summary counts exactly the lines it wrote.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, deque
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping

from ._response import rpc_failed
from .errors import InputError
from .inputs import from_source
from .models import WorkflowResult, as_json, load

__all__ = ["Job", "JobMismatch", "TargetDown", "read_inputs"]

_SUCCESS = "SUCCESS"
_NONE, _DONE, _FAILED = 0, 1, 2
# How a mismatch names each ``job`` setting: as the command line sets it.
_SETTING_WORDS = {
    "workflow_id": "workflow",
    "user_id": "--user-id",
    "app_id": "--app-id",
    "version_id": "--version-id",
    "output_config": "output settings (--max-concepts, --min-value)",
    "sample_ms": "--sample-ms",
}
_OUTPUTS_KEY = b',"outputs":'
#: Requests in a row that fail below the API before ``bulk`` stops (see ``TargetDown``).
STOP_AFTER_FAILED_REQUESTS = 3


class JobMismatch(InputError):
    """The output file holds lines of another job; the message names the first difference."""


class TargetDown(Exception):
    """Every request in a row failed at the transport level: the target is unreachable."""


def read_inputs(path: str | os.PathLike[str]) -> Iterator[tuple[int, str | None, str]]:
    """``(index, id or None, source)`` for each input in a text or CSV file."""
    source = Path(path)
    try:
        handle = source.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read inputs file {str(source)!r}: {exc.strerror or exc}", param="inputs"
        ) from exc
    with handle:
        try:
            if source.suffix.lower() == ".csv":
                rows = csv.DictReader(handle)
                if not rows.fieldnames or "url" not in rows.fieldnames:
                    raise InputError(
                        f"{source}: a CSV of inputs needs a 'url' column (and may have 'id')",
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
                f"inputs file {str(source)!r} is not UTF-8 text", param="inputs"
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
    """A non-zero 64-bit key of one input, to compare a line's input with the file's."""
    return (hash((source, input_id)) & 0xFFFF_FFFF_FFFF_FFFF) | 1


class _Interrupts:
    """Ctrl-C as ``KeyboardInterrupt``, except inside ``held()`` blocks (which nest), where it
    waits until the outermost block is done; so a block that writes and counts lines never
    stops halfway."""

    def __init__(self) -> None:
        self._depth = 0
        self._pending = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self._depth:
            self._pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def held(self, *, then_raise: bool = True) -> Iterator[None]:
        """Hold Ctrl-C until the block is done; then raise it, unless the caller is already
        stopping (``then_raise=False``)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending:
            self._pending = False
            if then_raise:
                raise KeyboardInterrupt


class Job:
    """One run of ``bulk``: what to predict, where results go, and the tally.

    ``settings`` (workflow id, owner ids, version, output settings and, when set, ``sample_ms``
    for videos) are written into every line as ``job``, and a resume must match them.
    """

    def __init__(
        self,
        inputs: str | os.PathLike[str],
        out: str | os.PathLike[str],
        settings: Mapping[str, Any],
        *,
        retry_failed: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.inputs = Path(inputs)
        self.out = Path(out)
        self.settings = dict(settings)
        self.retry_failed = retry_failed
        self.overwrite = overwrite
        self._job_json = json.dumps(self.settings, separators=(",", ":"), sort_keys=True)
        self.held = Counter[str]()  # statuses of the lines the file keeps from before
        self.wrote = Counter[str]()  # statuses of the lines this run wrote
        self.never_ran = 0  # inputs with no line before this run
        self.to_run = 0
        # Per index: _NONE (to run), _DONE or _FAILED (a line kept); and which had a line.
        self._state = bytearray()
        self._lined = bytearray()
        self._names = Counter[str]()
        self._torn_at: int | None = None
        self._repeated = False

    # --- before the first request ------------------------------------------------------------

    def prepare(self) -> int:
        """Check the output file against this job and the inputs, drop the lines of inputs
        that will run again, and return how many inputs will run. Raises ``JobMismatch`` (the
        file untouched) when the file holds lines of another job or other inputs."""
        if self.overwrite:
            self.out.write_bytes(b"")
        else:
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
            print(f"warning: {self.out}: dropped a torn last line", file=sys.stderr)
        self.held = names
        self.to_run = self.never_ran = 0
        for index, _, _ in read_inputs(self.inputs):
            if not self._kept(index):
                self.to_run += 1
                self.never_ran += not self._had_line(index)
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
                        f"{self.out} line {number} is not a result line written by bulk; "
                        "use another --out, or --overwrite to start the file afresh"
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
                "version of bulk; use another --out, or --overwrite to start afresh"
            )
        if json.dumps(head.job, separators=(",", ":"), sort_keys=True) == self._job_json:
            return
        for name in [*self.settings, *(k for k in head.job if k not in self.settings)]:
            was, now = head.job.get(name), self.settings.get(name)
            if was != now:
                raise JobMismatch(
                    f"{self.out} was written with {_SETTING_WORDS.get(name, name)} "
                    f"{_shown(was)}, but this run has {_shown(now)} (line {number}); use "
                    "another --out, or --overwrite to start the file afresh"
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
                    what = f"source {line_source!r}, but {self.inputs} has {source!r}"
                else:
                    what = f"id {line_id!r}, but {self.inputs} has id {input_id!r}"
                raise JobMismatch(
                    f"{self.out} holds the result for input {index} with {what} at that "
                    "index; use another --out, or --overwrite to start the file afresh"
                )
        beyond = self._state.find(b"\x01", count), self._state.find(b"\x02", count)
        first = min((i for i in beyond if i >= 0), default=-1)
        if first >= 0:
            raise JobMismatch(
                f"{self.out} holds a result for input {first}, but {self.inputs} has only "
                f"{count} inputs; use another --out, or --overwrite to start the file afresh"
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

    def values(self, pending: deque[tuple[int, str | None, str]]) -> Iterator[Any]:
        """The inputs to run, lazily; each one's ``(index, id, source)`` is queued in
        ``pending``, in the order ``predict_iter`` will answer them."""
        for index, input_id, source in read_inputs(self.inputs):
            if not self._kept(index):
                pending.append((index, input_id, source))
                yield input_value(source, input_id, self.settings.get("sample_ms"))

    def run(
        self,
        results: Iterator[WorkflowResult],
        pending: deque[tuple[int, str | None, str]],
        *,
        batch_size: int,
        progress: Progress,
    ) -> bool:
        """Write a line per result, in order; returns False when interrupted (Ctrl-C).

        Raises ``TargetDown`` when ``STOP_AFTER_FAILED_REQUESTS`` requests in a row, or every
        request of the run, failed at the transport level; their inputs get no line, so a
        rerun runs them.
        """
        batch: list[tuple[str, str]] = []  # (line, status name), written and counted together
        unsure: list[tuple[str, str]] = []  # transport failures, until the target answers again
        limit = STOP_AFTER_FAILED_REQUESTS * batch_size
        answered = False
        first_failure: WorkflowResult | None = None
        with _Interrupts() as interrupts, self.out.open("a", encoding="utf-8") as out:
            try:
                for result in results:
                    index, input_id, source = pending.popleft()
                    entry = (self._line(index, input_id, source, result), result.status.name)
                    if rpc_failed(result):
                        unsure.append(entry)
                        first_failure = first_failure or result
                        if len(unsure) >= limit:
                            raise TargetDown(_down(first_failure, STOP_AFTER_FAILED_REQUESTS))
                        continue
                    answered = True
                    first_failure = None
                    batch.extend(unsure)
                    unsure.clear()
                    batch.append(entry)
                    if len(batch) >= batch_size:
                        self._commit(out, batch, interrupts)
                        progress.update(self)
                if unsure and not answered:
                    raise TargetDown(_down(first_failure, None))
                batch.extend(unsure)
                self._commit(out, batch, interrupts)
                return True
            except KeyboardInterrupt:
                with interrupts.held(then_raise=False):  # a second Ctrl-C changes nothing
                    self._commit(out, batch, interrupts)
                return False
            except TargetDown:
                self._commit(out, batch, interrupts)  # what was answered before the streak
                raise
            finally:
                with interrupts.held(then_raise=False):
                    results.close()  # type: ignore[attr-defined]  # cancels requests in flight

    def _commit(self, out: IO[str], batch: list[tuple[str, str]], interrupts: _Interrupts) -> None:
        """Append ``batch`` and count it, as one step Ctrl-C cannot split."""
        if not batch:
            return
        with interrupts.held():
            out.write("".join(line for line, _ in batch))  # one write per batch: lines land whole
            out.flush()
            self.wrote.update(name for _, name in batch)
            batch.clear()

    def _line(self, index: int, input_id: str | None, source: str, result: WorkflowResult) -> str:
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
        return json.dumps(line, separators=(",", ":")) + "\n"

    # --- the tally -------------------------------------------------------------------------

    @property
    def written(self) -> int:
        return sum(self.wrote.values())

    @property
    def failed(self) -> int:
        """Lines in the file now that show a failure."""
        return sum(n for name, n in (self.held + self.wrote).items() if name != _SUCCESS)

    def summary(self) -> str:
        """Two lines: what this run wrote, and what the file holds now."""
        holds = self.held + self.wrote
        left = self.to_run - self.written
        return (
            f"this run: wrote {self.written:,} lines ({_counts(self.wrote)})\n"
            f"{self.out}: {sum(holds.values()):,} lines ({_counts(holds)})"
            + (f"; {left:,} inputs not run yet" if left else "")
        )


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counter.most_common()) or "none"


def _shown(value: Any) -> str:
    return "none" if value in (None, "", {}) else json.dumps(value)


def _down(failure: WorkflowResult | None, requests: int | None) -> str:
    details = failure.status.details if failure is not None else ""
    how = f"{requests} requests in a row" if requests else "every request"
    return f"{how} failed without reaching the API ({details})"


class Progress:
    """A one-line progress bar on a terminal: done, rate, failures, time left, and the client's
    pace while the API's rate limit holds it back (``pace`` returns it, or ``None``)."""

    def __init__(
        self,
        total: int,
        stream: IO[str],
        enabled: bool,
        pace: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.pace = pace
        self.started = time.monotonic()
        self._shown = 0.0
        self._width = 0  # of the last line shown, so a shorter one overwrites it whole

    def update(self, job: Job, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self._shown < 0.2):
            return
        self._shown = now
        done = job.written
        failed = sum(n for name, n in job.wrote.items() if name != _SUCCESS)
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate > 0 else 0
        width = 24
        filled = min(width, int(width * done / self.total)) if self.total else width
        bar = "#" * filled + "." * (width - filled)
        pace = self.pace()
        paced = f"  paced at {pace:,.1f} requests/s" if pace is not None and not final else ""
        line = (
            f"\r[{bar}] {done:,}/{self.total:,} inputs  {rate:,.0f}/s  {failed:,} failed  "
            f"{'done' if final else 'left ' + _clock(left)}{paced}"
        )
        self.stream.write(line.ljust(self._width) + ("\n" if final else ""))
        self._width = len(line)
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
