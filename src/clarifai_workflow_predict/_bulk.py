"""The ``bulk`` command's job: inputs from a file to one JSON line per input, resumably.

- Inputs: a text file with one URL or path per line (blank lines and ``#`` comments skipped), or
  a ``.csv`` file with a ``url`` column and an optional ``id`` column. An input's ``index`` is its
  position among the inputs, so it names the same input on every run over the same file.
- Output: one JSON line per input: ``index``, ``id``, ``status`` and ``outputs``.
- Resume: a rerun keeps the lines of inputs that succeeded and predicts every other input (with
  ``retry_failed``, only those with a failed line). The kept lines are rewritten first,
  atomically, so the file always holds exactly one line per input it covers; new lines are
  appended a request's worth at a time and flushed, so an interrupted run leaves a valid file.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InputError
from .inputs import Input
from .models import WorkflowResult, to_dict

__all__ = ["Job", "read_inputs"]

_SUCCESS = "SUCCESS"


def read_inputs(path: str | os.PathLike[str]) -> Iterator[tuple[int, str | None, str]]:
    """``(index, id or None, url or path)`` for each input in a text or CSV file."""
    source = Path(path)
    try:
        handle = source.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read inputs file {str(source)!r}: {exc.strerror or exc}") from exc
    with handle:
        if source.suffix.lower() == ".csv":
            rows = csv.DictReader(handle)
            if not rows.fieldnames or "url" not in rows.fieldnames:
                raise InputError(
                    f"{source}: a CSV of inputs needs a 'url' column (and may have 'id')"
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


def input_value(raw: str, input_id: str | None) -> Any:
    """What to predict for one line: an ``Input`` with its id, or the raw value when it is not a
    valid input, so ``predict_iter`` reports that input's own error in its result."""
    is_url = raw.lower().startswith(("http://", "https://"))
    try:
        return (
            Input.from_url(raw, id=input_id) if is_url else Input.from_file(Path(raw), id=input_id)
        )
    except InputError:
        return raw if is_url else Path(raw)


class _Bits:
    """A growable set of small non-negative ints (input indexes), one bit each."""

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, n: int) -> None:
        byte = n >> 3
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits) + 1024))
        self._bits[byte] |= 1 << (n & 7)

    def __contains__(self, n: int) -> bool:
        byte = n >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (n & 7)))


# The start of a line as ``Job.record`` writes it: enough to know an input's index and status
# without parsing its outputs. Lines in any other shape are parsed whole.
_HEAD = re.compile(
    rb'\{"index":(\d+),"id":(?:null|"(?:[^"\\]|\\.)*"),"status":\{"code":-?\d+,"name":"([^"\\]*)"'
)


def _scan(path: Path) -> Iterator[tuple[int, str, bytes]]:
    """``(index, status name, line)`` of each whole result line of an output file; a torn line
    (an interrupted write) is skipped."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            head = _HEAD.match(line)
            if head is not None and line.endswith(b"}\n"):
                yield int(head[1]), head[2].decode(), line
                continue
            try:
                record = json.loads(line)
                index, name = record["index"], record["status"]["name"]
                if type(index) is not int or index < 0 or not isinstance(name, str):
                    raise ValueError("not a result line")
            except (ValueError, KeyError, TypeError):
                print(
                    f"warning: {path}:{number}: skipping a line that is not a whole result",
                    file=sys.stderr,
                )
                continue
            yield index, name, line if line.endswith(b"\n") else line + b"\n"


class Job:
    """One run of ``bulk``: what to predict, where results go, and the tally."""

    def __init__(
        self, inputs: str | os.PathLike[str], out: str | os.PathLike[str], *, retry_failed: bool
    ) -> None:
        self.inputs = Path(inputs)
        self.out = Path(out)
        self.retry_failed = retry_failed
        self.statuses: Counter[str] = Counter()  # over the whole output file
        self.kept = 0
        self.written = 0
        self.failed = 0
        self._run = _Bits()  # indexes to predict this time

    def prepare(self) -> int:
        """Keep the output file's successes (rewritten atomically, one line per input), and choose
        what to run: every input without a success, or with ``retry_failed`` only those that
        failed. Returns how many inputs will run."""
        succeeded, failed = self._keep_successes()
        total = 0
        for index, _, _ in read_inputs(self.inputs):
            if index not in succeeded and (index in failed or not self.retry_failed):
                self._run.add(index)
                total += 1
        return total

    def _keep_successes(self) -> tuple[_Bits, _Bits]:
        succeeded, failed = _Bits(), _Bits()
        if not self.out.exists():
            return succeeded, failed
        fd, temp = tempfile.mkstemp(prefix=f".{self.out.name}.", dir=self.out.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                for index, name, line in _scan(self.out):
                    if name != _SUCCESS:
                        failed.add(index)
                    elif index not in succeeded:
                        succeeded.add(index)
                        handle.write(line)
                        self.kept += 1
            os.replace(temp, self.out)
        except BaseException:
            os.unlink(temp)
            raise
        self.statuses[_SUCCESS] += self.kept
        return succeeded, failed

    def values(self, pending: deque[tuple[int, str | None]]) -> Iterator[Any]:
        """The inputs to run, lazily; each one's ``(index, id)`` is queued in ``pending``."""
        for index, input_id, raw in read_inputs(self.inputs):
            if index in self._run:
                pending.append((index, input_id))
                yield input_value(raw, input_id)

    def record(self, index: int, input_id: str | None, result: WorkflowResult) -> str:
        """The JSON line for one result, counted in the tally."""
        name = result.status.name
        self.statuses[name] += 1
        self.written += 1
        if name != _SUCCESS:
            self.failed += 1
        status = to_dict(result.status)
        status.pop("req_id", None)
        line = {
            "index": index,
            "id": input_id or result.input_id,
            "status": status,
            "outputs": [to_dict(o) for o in result.outputs],
        }
        return json.dumps(line, separators=(",", ":")) + "\n"

    def summary(self) -> str:
        counts = ", ".join(f"{name} {count:,}" for name, count in self.statuses.most_common())
        this_run = f"{self.written:,} predicted this run ({self.failed:,} failed)"
        return f"{this_run}, {self.kept:,} kept from before; {self.out}: {counts or 'empty'}"


class Progress:
    """A one-line progress bar on a terminal: done, rate, failures, time left."""

    def __init__(self, total: int, stream: IO[str], enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self._shown = 0.0

    def update(self, done: int, failed: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self._shown < 0.2):
            return
        self._shown = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate > 0 else 0
        width = 24
        filled = int(width * done / self.total) if self.total else width
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"\r[{bar}] {done:,}/{self.total:,} inputs  {rate:,.0f}/s  {failed:,} failed  "
            f"{'done' if final else 'left ' + _clock(left)}"
        )
        self.stream.write(line + ("\n" if final else ""))
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
