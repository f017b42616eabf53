"""A call's keyword arguments as one frozen object, and ``NOT_GIVEN``, for arguments not given.

The public methods of both clients take the same keyword arguments and pass them on as one
``CallOptions``. A new per-call option is one field here, and its parameter in the public
signatures (which a test pins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._retry import RetryPolicy

__all__ = ["NOT_GIVEN", "CallOptions", "NotGiven"]


class NotGiven:
    """The type of ``NOT_GIVEN``: the default of an argument whose absence differs from
    ``None`` (``retry=None`` turns retries off; not giving ``retry`` keeps the client's)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


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
    retry: RetryPolicy | None | NotGiven = NOT_GIVEN
    favor_clarifai_workflows: bool | None = None
    dedupe: bool = False
