"""The PAT: where it comes from, how it is sent, and how it stays out of every string.

Auth is per-call metadata ``("authorization", "Key <pat>")``: it works on any channel, ours or
the caller's, sync or aio, where call credentials and aio interceptors do not. The tuple is
built once per client and reused on every call.
"""

from __future__ import annotations

import os
from typing import Sequence

from .errors import InputError

__all__ = ["Metadata", "auth_metadata", "extra_metadata", "resolve_pat", "env"]

Metadata = tuple[tuple[str, str], ...]

PAT_ENV = "CLARIFAI_PAT"
USER_ID_ENV = "CLARIFAI_USER_ID"
APP_ID_ENV = "CLARIFAI_APP_ID"


def env(value: str | None, name: str) -> str | None:
    """``value``, else the environment variable ``name`` (an empty one counts as unset)."""
    if value is not None:
        return value
    return os.environ.get(name) or None


def resolve_pat(pat: str | None) -> str | None:
    """The PAT from ``pat`` or ``CLARIFAI_PAT``, checked so gRPC never echoes a bad one back."""
    pat = env(pat, PAT_ENV)
    if pat is None:
        return None
    if not isinstance(pat, str):
        raise InputError(f"pat must be a str, got {type(pat).__name__}", param="pat")
    # gRPC rejects metadata values with control characters in an error that quotes the value;
    # refuse them here with a message that does not.
    if not pat or not pat.isascii() or not pat.isprintable() or pat != pat.strip() or " " in pat:
        raise InputError("pat is malformed: a PAT is printable ASCII without spaces", param="pat")
    return pat


def auth_metadata(pat: str | None) -> Metadata:
    """The call metadata carrying ``pat``; empty when there is none."""
    return (("authorization", "Key " + pat),) if pat else ()


def extra_metadata(base: Metadata, extra: Sequence[tuple[str, str]] | None) -> Metadata:
    """``base`` followed by a call's own ``metadata=`` pairs, validated."""
    if not extra:
        return base
    if isinstance(extra, (str, bytes)) or not isinstance(extra, Sequence):
        raise InputError("metadata must be a sequence of (key, value) pairs", param="metadata")
    pairs = []
    for pair in extra:
        if not (
            isinstance(pair, (tuple, list))
            and len(pair) == 2
            and isinstance(pair[0], str)
            and isinstance(pair[1], (str, bytes))
        ):
            raise InputError(
                "metadata must be a sequence of (str key, str value) pairs", param="metadata"
            )
        key = pair[0].lower()
        if key == "authorization":
            raise InputError(
                "metadata may not set 'authorization': pass pat= instead", param="metadata"
            )
        pairs.append((key, pair[1]))
    return base + tuple(pairs)
