"""How many objects a prediction holds for Python's garbage collector to walk."""

from __future__ import annotations

import gc
from typing import Any


def tracked_objects(root: Any) -> int:
    """How many GC-tracked objects ``root`` holds (itself and its protobufs included; classes,
    which every prediction shares, left out)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or not gc.is_tracked(obj) or isinstance(obj, type):
            continue
        seen.add(id(obj))
        stack.extend(gc.get_referents(obj))
    return len(seen)
