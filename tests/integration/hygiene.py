"""What a client could leave behind: Python threads, OS threads (gRPC's own), file descriptors."""

from __future__ import annotations

import os
import threading


def thread_names() -> set[tuple[int | None, str]]:
    """The Python threads alive now."""
    return {(t.ident, t.name) for t in threading.enumerate()}


def os_threads() -> int:
    """All of this process's threads, gRPC's C threads included."""
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    """This process's open file descriptors (sockets, pipes, eventfds, files)."""
    return len(os.listdir("/proc/self/fd"))


def settled(
    fds_before: int, threads_before: set[tuple[int | None, str]], wait: float = 3.0
) -> tuple[int, set[tuple[int | None, str]]]:
    """File descriptors and Python threads beyond the ``before`` counts, once gRPC has had
    ``wait`` seconds to finish closing connections and stop its pollers in the background."""
    import gc
    import time

    deadline = time.monotonic() + wait
    while True:
        gc.collect()
        extra_fds = open_fds() - fds_before
        extra_threads = thread_names() - threads_before
        if (extra_fds <= 0 and not extra_threads) or time.monotonic() > deadline:
            return max(0, extra_fds), extra_threads
        time.sleep(0.05)
