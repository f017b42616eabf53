"""The command as a separate process, and what its tests read back from it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..conftest import PAT

URL = "https://samples.clarifai.com/metro-north.jpg"
MAIN = Path(__file__).resolve().parents[2] / "src" / "clarifai_workflow_predict" / "__main__.py"


def where(server: Any) -> list[str]:
    """The options that point the command at ``server``."""
    return ["--target", server.target, "--insecure", "--pat", PAT]


def urls(count: int, start: int = 0) -> list[str]:
    return [f"https://example.com/bulk/{i}.jpg" for i in range(start, start + count)]


def environment() -> dict[str, str]:
    """This environment without the ``GRPC_VERBOSITY`` the test run sets: the command quiets
    gRPC's logs itself."""
    return {name: value for name, value in os.environ.items() if name != "GRPC_VERBOSITY"}


def start(*argv: str, **kwargs: Any) -> subprocess.Popen[str]:
    """``python -m clarifai_workflow_predict *argv``, started, its output piped."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-m", "clarifai_workflow_predict", *argv],
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        **kwargs,
    )


def finished(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m clarifai_workflow_predict *argv``, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "clarifai_workflow_predict", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(),
    )


def lines(out: Path) -> list[dict[str, Any]]:
    """The JSON lines of a bulk output file."""
    return [json.loads(line) for line in out.read_text().splitlines()]


def wrote(err: str) -> int:
    """The count the closing summary gives for this run's lines."""
    match = re.search(r"this run: wrote ([\d,]+) lines", err)
    assert match, err
    return int(match[1].replace(",", ""))


def traceback_in_the_command(err: str) -> bool:
    """Whether ``err`` holds a traceback from the command's own code: its modules, once
    ``__main__`` has its SIGINT handler in place. One from before comes from Python's own
    start-up (``site``, ``runpy``, the package's ``__init__``), which no handler can reach."""
    lines = MAIN.read_text().splitlines()
    handled_from = next(n for n, line in enumerate(lines, 1) if "signal.signal(" in line)
    for path, number in re.findall(r'File "([^"]+)", line (\d+)', err):
        if "clarifai_workflow_predict/cli/" in path:
            return True
        if path.endswith("clarifai_workflow_predict/__main__.py") and int(number) > handled_from:
            return True
    return False
