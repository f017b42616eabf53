"""Duplicates sent once (``dedupe=True``): inputs with the same data and settings, their ids
aside, share one key, a digest of their encoding (never the bytes themselves); a call sends the
first of them and gives each later one a copy of its result, under the later one's own id.

Off by default: a generative model may answer the same prompt differently each time.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any

from clarifai_grpc.grpc.api import resources_pb2

__all__ = ["key", "own_id"]

_Input = resources_pb2.Input


def key(item: Any) -> int:
    """The key of one input (an image URL ``str`` or an ``Input`` proto): a 64-bit digest of
    its encoding with its id cleared."""
    if type(item) is str:
        proto = _Input()
        proto.data.image.url = item
    elif item.id:
        proto = _Input()
        proto.CopyFrom(item)
        proto.id = ""
    else:
        proto = item
    digest = blake2b(proto.SerializeToString(deterministic=True), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def own_id(item: Any) -> str:
    """The id an input carries itself (``""``: the API assigns one)."""
    return "" if type(item) is str else str(item.id)
