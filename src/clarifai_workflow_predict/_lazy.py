"""Results that keep the message they came from: fields converted on first read, fast
constructors, pickling, and a window without garbage collections for full reads.

A class that derives from ``FromRaw`` (a frozen, slotted dataclass with a ``raw`` field) and has
lazy fields (``install``) gets a twin, its *unconverted* class: a subclass that adds no slots, has
the same name, and defines ``__getattr__``. An object with fields not converted yet is of that
twin. Reading an unset slot raises ``AttributeError`` inside CPython, which then calls
``__getattr__``: that converts the field (and the others of its ``Group``) from ``raw``, stores
them in their slots, and returns it; later reads of it are slot reads. When the last group is
converted the object becomes the public class itself, whose attribute reads are plain slot reads,
the cheapest Python has (CPython 3.11 specializes those only for classes without
``__getattr__``: a hook costs every read of the class about twice as much). The twin keeps
``==``, ``hash``, ``repr`` and ``dataclasses.replace`` as the public class has them; ``type()``
is the one place it shows. Conversion is idempotent, so threads that race to the first read each
convert and store equal values: no lock is needed.

``_loaded`` (a slot of ``FromRaw``, not a field) holds one bit per group already converted, so
``load`` can convert what is left of a whole tree without probing slots; it is unset on objects
made by ``__init__``, whose fields are all given.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from dataclasses import MISSING, fields
from typing import Any, Callable, ClassVar, Iterator, TypeVar

from google.protobuf.message import Message

from .errors import FAILURE, ApiError, ClarifaiError

__all__ = [
    "FromRaw",
    "Group",
    "damaged",
    "factory",
    "install",
    "load_groups",
    "loaded",
    "mark_loaded",
    "no_collections",
]

_T = TypeVar("_T")
_new = object.__new__


class Group:
    """Fields converted together: ``fill(obj, raw)`` sets each of ``names`` on ``obj``."""

    __slots__ = ("names", "fill", "bit")

    def __init__(self, names: tuple[str, ...], fill: Callable[[Any, Any], None]) -> None:
        self.names = names
        self.fill = fill
        self.bit = 0  # set by ``install``


class FromRaw:
    """Base of the result classes that keep ``raw``: copying and pickling, and lazy fields
    through the unconverted twin ``install`` makes."""

    __slots__ = ("_loaded",)

    #: Field name to the group that converts it; empty for classes converted whole.
    _GROUPS: ClassVar[dict[str, Group]] = {}
    #: Every group's bit, or-ed.
    _ALL: ClassVar[int] = 0
    #: The public class (itself, or the class an unconverted twin stands for) and its twin.
    _PUBLIC: ClassVar[type]
    _UNCONVERTED: ClassVar[type]

    def __copy__(self) -> Any:
        twin: Any = _new(type(self))
        for name, value in _set_slots(self):
            object.__setattr__(twin, name, value)
        return twin

    def __reduce__(self) -> tuple[Any, ...]:
        # ``raw`` travels as bytes: clarifai-grpc's message classes name a module that cannot
        # be imported, so pickle cannot find them by reference. Unread groups stay unread. The
        # public class travels (pickle finds it by name; the twin has the same name).
        state = {
            name: _freeze(value) if name == "raw" else value for name, value in _set_slots(self)
        }
        return (_rebuild, (getattr(type(self), "_PUBLIC", type(self)), state))


def _first_read(self: Any, name: str) -> Any:
    """The unconverted twin's ``__getattr__``: only reached for a slot not set yet (or an
    attribute that does not exist)."""
    group = self._GROUPS.get(name)
    if group is None:
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    try:
        group.fill(self, self.raw)
    except ClarifaiError:
        raise
    except Exception as exc:  # a damaged message: say so in the library's terms
        raise damaged(self, name, exc) from exc
    mark_loaded(self, group.bit)
    return object.__getattribute__(self, name)


def _unconverted_twin(cls: type) -> type:
    """``cls``'s unconverted twin (see the module's docstring)."""
    names = [f.name for f in fields(cls) if f.compare]  # type: ignore[arg-type]

    def __eq__(self: Any, other: Any) -> Any:  # noqa: N807 - the dataclass's, across the twins
        if not isinstance(other, cls):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in names)

    def __new__(twin: type, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
        # ``dataclasses.replace`` calls ``type(obj)(...)``: make the public class.
        return cls(*args, **kwargs)

    return type(
        cls.__name__,
        (cls,),
        {
            "__slots__": (),
            "__qualname__": cls.__qualname__,
            "__module__": cls.__module__,
            "__getattr__": _first_read,
            "__eq__": __eq__,
            "__hash__": cls.__hash__,
            "__new__": __new__,
        },
    )


_LOADED = FromRaw._loaded.__set__  # type: ignore[attr-defined]
_SET_CLASS = object.__setattr__  # past the frozen dataclass's ``__setattr__``


def _slot_names(cls: type) -> tuple[str, ...]:
    names = _SLOT_NAMES.get(cls)
    if names is None:
        names = _SLOT_NAMES[cls] = (*(f.name for f in fields(cls)), "_loaded")  # type: ignore[arg-type]
    return names


_SLOT_NAMES: dict[type, tuple[str, ...]] = {}


def _set_slots(obj: Any) -> Iterator[tuple[str, Any]]:
    """``(name, value)`` of each slot of ``obj`` that is set, converting nothing."""
    get = object.__getattribute__
    for name in _slot_names(type(obj)):
        try:
            yield name, get(obj, name)
        except AttributeError:
            continue


def _rebuild(cls: type, state: dict[str, Any]) -> Any:
    unconverted = state.get("_loaded", cls._ALL) != cls._ALL  # type: ignore[attr-defined]
    obj: Any = _new(cls._UNCONVERTED if unconverted else cls)  # type: ignore[attr-defined]
    for name, value in state.items():
        object.__setattr__(obj, name, _thaw(value) if name == "raw" else value)
    return obj


class _Serialized:
    """A message as its type's full name and its encoding, for pickling."""

    __slots__ = ("name", "data")

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Serialized, (self.name, self.data))


def _freeze(value: Any) -> Any:
    if isinstance(value, Message):
        return _Serialized(value.DESCRIPTOR.full_name, value.SerializeToString())
    if isinstance(value, tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, _Serialized):
        from google.protobuf import descriptor_pool, message_factory

        descriptor = descriptor_pool.Default().FindMessageTypeByName(value.name)
        return message_factory.GetMessageClass(descriptor).FromString(value.data)
    if isinstance(value, tuple):
        return tuple(_thaw(item) for item in value)
    return value


def install(cls: type, groups: list[Group]) -> None:
    """Make ``cls``'s fields in ``groups`` lazy: each group gets its bit, each name its group,
    and ``cls`` its unconverted twin (``cls._UNCONVERTED``)."""
    table: dict[str, Group] = {}
    for bit, group in enumerate(groups):
        group.bit = 1 << bit
        for name in group.names:
            table[name] = group
    cls._GROUPS = table  # type: ignore[attr-defined]
    cls._ALL = (1 << len(groups)) - 1  # type: ignore[attr-defined]
    cls._PUBLIC = cls  # type: ignore[attr-defined]
    cls._UNCONVERTED = _unconverted_twin(cls)  # type: ignore[attr-defined]


def loaded(obj: Any) -> int | None:
    """The bits of the groups of ``obj`` converted so far; ``None`` when ``__init__`` made it
    (every field given)."""
    try:
        return obj._loaded  # type: ignore[no-any-return]
    except AttributeError:
        return None


def mark_loaded(obj: Any, bits: int) -> None:
    """Record that the groups in ``bits`` of ``obj`` are converted; once all are, ``obj``
    becomes its public class."""
    done = obj._loaded | bits
    _LOADED(obj, done)
    if done == obj._ALL:
        _SET_CLASS(obj, "__class__", obj._PUBLIC)


def load_groups(obj: Any, only: int = -1) -> None:
    """Convert every group of ``obj`` (among ``only``) not converted yet; a no-op on objects
    ``__init__`` made."""
    done = loaded(obj)
    if done is None:
        return
    missing = obj._ALL & ~done & only
    if missing:
        raw = obj.raw
        for group in obj._GROUPS.values():
            if missing & group.bit:
                missing &= ~group.bit
                _fill(obj, group, raw)


def _fill(obj: Any, group: Group, raw: Any) -> None:
    """Convert ``group`` of ``obj`` from ``raw``; a damaged message raises ``ApiError``."""
    try:
        group.fill(obj, raw)
    except ClarifaiError:
        raise
    except Exception as exc:  # a damaged message: say so in the library's terms
        raise damaged(obj, group.names[0], exc) from exc
    mark_loaded(obj, group.bit)


def damaged(obj: Any, name: str, exc: Exception) -> ApiError:
    """The error for a field of ``obj`` that its damaged message cannot give."""
    return ApiError(
        FAILURE,
        f"malformed response: cannot read {type(obj).__name__}.{name}",
        f"{type(exc).__name__}: {exc}",
    )


# --- fast constructors ------------------------------------------------------------------------


def _mutable_twin(cls: type) -> type:
    """A plain class with ``cls``'s slots and bases. Objects are filled as twins, with ordinary
    attribute stores, then made ``cls`` by assigning their ``__class__`` (the layouts match): a
    frozen dataclass refuses stores, and setting its slots through their descriptors instead
    costs nearly twice as much."""
    return type(f"{cls.__name__}Twin", cls.__bases__, {"__slots__": cls.__slots__})  # type: ignore[attr-defined]


def factory(
    cls: type[_T],
    reads: dict[str, str] | None = None,
    *,
    finish: bool = True,
    many: bool = False,
    whole: bool = False,
    using: dict[str, Any] | None = None,
    params: str = "m",
) -> Callable[..., Any]:
    """A fast constructor of ``cls`` that skips ``__init__``.

    Without ``reads`` it takes every field positionally (``raw`` last, where the class has it).
    With ``reads`` (field name to an expression of one message ``m``, like ``"m.id"``) it
    converts that message in one call; fields not read get their default, or stay unset (to be
    converted on first read) when the name is in ``cls``'s lazy groups, unless ``whole`` (then
    every field is set and the object counts as converted); ``using`` names what the
    expressions call and ``params`` what it takes (``"m"``). With ``many=True`` it
    converts each message of a repeated field into a tuple, in one loop (no call per message).
    With ``finish=False`` it returns the unfinished twin, for the caller to fill in the rest and
    then finish with ``obj.__class__ = cls``.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {
        **(using or {}),
        "_new": _new,
        "_twin": _mutable_twin(cls),
        "_cls": cls,
    }
    groups = getattr(cls, "_GROUPS", {})
    lazy = {} if whole else groups
    if lazy and reads is not None:  # fields left for their first read: start unconverted
        namespace["_cls"] = cls._UNCONVERTED  # type: ignore[attr-defined]
    stores: list[str] = []
    if reads is None:
        params = ", ".join(names)  # every field, in order
        stores = [f"o.{name} = {name}" for name in names]
    else:
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in reads:
                stores.append(f"o.{f.name} = {reads[f.name]}")
            elif f.name in lazy:
                continue
            elif f.default is not MISSING:
                namespace[f"_d_{f.name}"] = f.default
                stores.append(f"o.{f.name} = _d_{f.name}")
            else:
                raise TypeError(f"{cls.__name__}.{f.name} has no default: read it")
        if groups:
            stores.append(f"o._loaded = {cls._ALL if whole else 0}")  # type: ignore[attr-defined]
    body = ["o = _new(_twin)", *stores, *(["o.__class__ = _cls"] if finish else [])]
    if many:
        lines = ["out = []", "append = out.append", "for m in ms:"]
        lines += [f"    {line}" for line in (*body, "append(o)")] + ["return tuple(out)"]
        params = "ms"
    else:
        lines = [*body, "return o"]
    source = f"def make({params}, *, _new=_new, _twin=_twin, _cls=_cls):\n" + "".join(
        f"    {line}\n" for line in lines
    )
    exec(source, namespace)  # noqa: S102 - source built above from field names and reads only
    make: Callable[..., Any] = namespace["make"]
    make.__qualname__ = f"{cls.__name__}.<fast constructor>"
    return make


# --- a window without collections -------------------------------------------------------------

_window = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def no_collections() -> Iterator[None]:
    """No garbage collections while the block runs, for building one whole response.

    Building a fully read 32-input prediction makes a few thousand objects that all survive;
    a collection in the middle only walks them to find nothing to free, and promotes them to
    an older generation, which brings the next full collection closer. The window is shared by
    threads and nests: collections stop when the first block starts and resume, if they were
    enabled then, when the last block ends. The objects made inside still count towards the
    next collection, which runs at the first allocation after the window.
    """
    global _depth, _was_enabled
    with _window:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _window:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
