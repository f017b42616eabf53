"""A call's keyword arguments as one frozen object, and ``UNSET``, for arguments not given.

The public methods of both clients take the same keyword arguments; each passes them on as
``CallOptions.of(locals())``. A new per-call option is one field here (and its parameter in the
public signatures, which a test pins).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any, Mapping

__all__ = ["UNSET", "CallOptions"]


class _Unset:
    """The default of an argument whose absence differs from ``None`` (``retry=None`` turns
    retries off; not giving ``retry`` keeps the client's)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True, slots=True)
class CallOptions:
    """One call's keyword arguments, as given."""

    user_id: str | None = None
    app_id: str | None = None
    version_id: str | None = None
    output_config: Any = None
    node_runner_selectors: Any = None
    workflow_state_id: str | None = None
    timeout: float | None = None
    metadata: Any = None
    retry: Any = UNSET
    favor_clarifai_workflows: bool | None = None

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> CallOptions:
        """The options among a public method's arguments (its ``locals()``)."""
        try:
            return cls(*_ALL(arguments))  # predict and predict_iter take every option
        except KeyError:
            return cls(**{name: arguments[name] for name in _NAMES if name in arguments})


_NAMES = tuple(f.name for f in fields(CallOptions))
_ALL = itemgetter(*_NAMES)
