"""The ``clarifai-workflow-predict`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the command."""
    print("clarifai-workflow-predict: commands arrive with the CLI work", file=sys.stderr)
    return 2
