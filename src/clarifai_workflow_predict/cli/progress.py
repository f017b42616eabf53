"""How ``bulk`` shows a job: the progress line while it runs, and the summary at the end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:
    from .. import BulkSummary, Usage


class ProgressLine:
    """One line on a terminal, redrawn after each written batch: the lines the file holds of
    the job's inputs, this run's inputs per second, its operations and tokens, and the client's
    pace while it paces. Shows nothing unless ``shown``."""

    def __init__(
        self, stream: TextIO, shown: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream
        self.shown = shown
        self._clock = clock
        self._started = clock()
        self._width = 0

    def update(self, summary: BulkSummary) -> None:
        """Redraw the line for ``summary``."""
        if not self.shown:
            return
        rate = summary.written / max(self._clock() - self._started, 1e-9)
        pace = "" if summary.pace is None else f"  paced at {summary.pace:,.1f} requests/s"
        line = (
            f"\r{summary.done:,}/{summary.total:,} inputs  {rate:,.0f}/s  "
            f"{used(summary.usage)}{pace}"
        )
        self.stream.write(line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def end(self) -> None:
        """Leave the line as it is, so what follows starts on a line of its own."""
        if self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def used(usage: Usage) -> str:
    """Operations and tokens, as the summary and the progress line show them."""
    tokens = usage.prompt_tokens + usage.completion_tokens
    return f"{usage.operations:,} operations, {tokens:,} tokens"


def summary_text(summary: BulkSummary, out: str) -> str:
    """Two lines: what this run wrote and used; what the file holds, by status."""
    statuses = ", ".join(f"{name} {count:,}" for name, count in summary.statuses.items())
    left = summary.total - summary.done
    return (
        f"this run: wrote {summary.written:,} lines; used {used(summary.usage)} (an estimate)\n"
        f"{out}: {summary.done:,} lines ({statuses or 'none'})"
        + (f"; {left:,} inputs not run yet" if left else "")
    )
