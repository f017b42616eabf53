"""``Input``: one thing to send through a workflow, validated when it is made.

``predict`` also takes plain values and turns them into inputs with ``coerce``: an ``http(s)://``
URL ``str`` (an image URL), ``bytes`` (image bytes), an ``os.PathLike`` (a file, its kind from its
suffix) or a ``resources_pb2.Input`` (sent as is). ``Input.from_parts`` puts several of those,
and text, into one multimodal input.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Mapping, Sequence

from clarifai_grpc.grpc.api import resources_pb2

from .errors import InputError

__all__ = [
    "Input",
    "Kind",
    "MAX_IMAGE_BYTES",
    "check_sample_ms",
    "check_url",
    "coerce",
    "from_source",
]

Kind = Literal["image", "video", "audio", "text"]
#: Every ``Input.kind``: the media kinds, and ``"multimodal"`` for ``from_parts``.
KINDS: tuple[str, ...] = ("image", "video", "audio", "text", "multimodal")
#: The largest ``sample_ms`` the API takes (an unsigned 32-bit field).
_MAX_SAMPLE_MS = 2**32 - 1

#: The API's limit for one image: larger ones fail here, before anything is sent.
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_Input = resources_pb2.Input
_Data = resources_pb2.Data
_MEDIA = {"image": resources_pb2.Image, "video": resources_pb2.Video, "audio": resources_pb2.Audio}


class Input:
    """One workflow input: make it with ``from_url``, ``from_bytes``, ``from_file``,
    ``from_text`` or ``from_parts``.

    Each takes ``id=`` (the input's id, echoed back as ``WorkflowResult.input_id``) and
    ``metadata=`` (a JSON-like dict, sent as the input's ``Struct`` metadata). ``proto`` is the
    ``resources_pb2.Input`` that will be sent; treat it as read-only, since an ``Input`` may be
    sent many times.
    """

    __slots__ = ("kind", "proto", "size")

    kind: str
    proto: resources_pb2.Input
    size: int

    def __init__(self, proto: resources_pb2.Input, kind: str) -> None:
        if not isinstance(proto, _Input):
            raise InputError(
                f"Input() takes a resources_pb2.Input, got {type(proto).__name__}; "
                "use Input.from_url/from_bytes/from_file/from_text",
                param="proto",
            )
        if kind not in KINDS:
            raise InputError(
                f"unknown input kind {kind!r}; expected one of {', '.join(KINDS)}", param="kind"
            )
        self.kind = kind
        self.proto = proto
        self.size = proto.ByteSize()

    @classmethod
    def from_url(
        cls,
        url: str,
        kind: Kind = "image",
        *,
        id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        sample_ms: int | None = None,
    ) -> Input:
        """An input the API downloads from an ``http(s)://`` URL. For a video, ``sample_ms``
        is the interval between the frames the workflow sees, in milliseconds."""
        check_url(url)
        data = _Data(text=resources_pb2.Text(url=url)) if kind == "text" else _media(kind, url=url)
        return cls._make(data, kind, id, metadata, sample_ms)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        kind: Kind = "image",
        *,
        id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Input:
        """An input sent inline: image, video or audio bytes, or UTF-8 text."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InputError(f"from_bytes() takes bytes, got {type(data).__name__}", param="data")
        raw = bytes(data)
        if not raw:
            raise InputError("from_bytes() got no bytes", param="data")
        if kind == "text":
            return cls._make(
                _Data(text=resources_pb2.Text(raw=_decode(raw, "bytes"))), kind, id, metadata
            )
        if kind == "image" and len(raw) > MAX_IMAGE_BYTES:
            raise InputError(_too_big(len(raw)), param="data")
        return cls._make(_media(kind, base64=raw), kind, id, metadata)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        kind: Kind | None = None,
        *,
        id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        sample_ms: int | None = None,
    ) -> Input:
        """An input read from a file now; ``kind`` defaults to what the file's suffix says. For
        a video, ``sample_ms`` is the interval between the frames the workflow sees."""
        try:
            name = os.fspath(path)
        except TypeError:
            raise InputError(
                f"from_file() takes a path, got {type(path).__name__}", param="path"
            ) from None
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        try:
            with open(name, "rb") as f:
                resolved: str = kind or kind_of(name)
                size = os.fstat(f.fileno()).st_size
                if resolved == "image" and size > MAX_IMAGE_BYTES:
                    raise InputError(f"{name}: {_too_big(size)}", param="path")
                raw = f.read()
        except InputError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            reason = getattr(exc, "strerror", None) or exc
            raise InputError(f"cannot read input file {name!r}: {reason}", param="path") from exc
        if resolved == "text":
            data = _Data(text=resources_pb2.Text(raw=_decode(raw, name)))
            return cls._make(data, resolved, id, metadata, sample_ms)
        if not raw:
            raise InputError(f"input file {name!r} is empty", param="path")
        return cls._make(_media(resolved, base64=raw), resolved, id, metadata, sample_ms)

    @classmethod
    def from_text(
        cls, text: str, *, id: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Input:
        """A text input, sent inline."""
        if not isinstance(text, str):
            raise InputError(f"from_text() takes a str, got {type(text).__name__}", param="text")
        if not text:
            raise InputError("from_text() got an empty string", param="text")
        return cls._make(_Data(text=resources_pb2.Text(raw=text)), "text", id, metadata)

    @classmethod
    def from_parts(
        cls,
        parts: Sequence[Any],
        *,
        id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Input:
        """One multimodal input whose ``data.parts`` holds each part, in order: a prompt with
        images, for workflows that start with a multimodal model.

        A part is anything ``predict`` takes as an input (an ``Input``, an ``http(s)://`` URL
        ``str`` for an image, bytes, a path, a ``resources_pb2.Input``) or any other ``str``,
        which is text (a ``str`` with ``://`` and no spaces must be an ``http(s)`` URL).
        ``from_parts(["What is in this image?", "https://.../a.jpg"])``.
        """
        if isinstance(parts, (str, bytes, Mapping)) or not isinstance(parts, Sequence):
            raise InputError(
                f"from_parts() takes a list of parts, got {type(parts).__name__}", param="parts"
            )
        if not parts:
            raise InputError("from_parts() got no parts", param="parts")
        data = _Data()
        for index, part in enumerate(parts):
            proto = _part(part, index)
            data.parts.add(id=proto.id, data=proto.data)
        return cls._make(data, "multimodal", id, metadata)

    @classmethod
    def _make(
        cls,
        data: resources_pb2.Data,
        kind: str,
        id: str | None,
        metadata: Mapping[str, Any] | None,
        sample_ms: int | None = None,
    ) -> Input:
        proto = _Input(data=data)
        if sample_ms is not None:
            proto.settings.sample_rate_ms = check_sample_ms(sample_ms, kind)
        if id is not None:
            if not isinstance(id, str):
                raise InputError(f"input id must be a str, got {type(id).__name__}", param="id")
            proto.id = id
        if metadata is not None:
            _set_metadata(proto, metadata)
        return cls(proto, kind)

    @property
    def id(self) -> str:
        """The input id, or ``""`` when the API is to assign one."""
        return self.proto.id

    def __repr__(self) -> str:
        data = self.proto.data
        if self.kind == "multimodal":
            what = f"parts=[{', '.join(_describe(part.data) for part in data.parts)}]"
        else:
            what = _describe(data, self.kind)
        every = self.proto.settings.sample_rate_ms
        sampled = f", sample_ms={every}" if every else ""
        ident = f", id={self.proto.id!r}" if self.proto.id else ""
        return f"Input(kind={self.kind!r}, {what}{sampled}{ident})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Input):
            return NotImplemented
        return self.kind == other.kind and self.proto == other.proto

    __hash__ = None  # type: ignore[assignment]  # equal by a mutable protobuf


def from_source(source: str, *, id: str | None = None, sample_ms: int | None = None) -> Input:
    """An input from text as a person types it on a command line or in a list of inputs.

    Anything with ``://`` is a URL (only ``http``/``https`` are accepted, its kind from its suffix
    and an image when the suffix says nothing); everything else is a file path. So ``ftp://...``
    or ``htps://...`` is refused as a URL instead of being looked up as a file. ``sample_ms``
    applies to videos and is ignored for other kinds.
    """
    if "://" in source:
        check_url(source)
        kind = _url_kind(source)
        every = sample_ms if kind == "video" else None
        return Input.from_url(source, kind, id=id, sample_ms=every)
    if sample_ms is not None and _suffix_kind(source) == "video":
        return Input.from_file(source, id=id, sample_ms=sample_ms)
    return Input.from_file(source, id=id)


def _url_kind(url: str) -> Kind:
    from urllib.parse import urlsplit

    major = _suffix_kind(urlsplit(url).path)
    return major if major in ("video", "audio") else "image"  # type: ignore[return-value]


def _mime(path: str) -> str:
    """The MIME type a path's suffix implies, or ``""``."""
    import mimetypes  # only file and URL inputs need it

    return mimetypes.guess_type(path, strict=False)[0] or ""


def _suffix_kind(path: str) -> str:
    """The major MIME type a path's suffix implies (``"video"``, ``"image"``...), or ``""``."""
    return _mime(path).split("/", 1)[0]


def coerce(value: Any, index: int) -> tuple[resources_pb2.Input, int]:
    """One input value as ``(proto, approximate encoded size)``; ``InputError`` if it is not one.

    ``index`` is the value's position, named in the error.
    """
    cls = type(value)
    if cls is str:
        check_url(value, index)
        proto = _Input()
        proto.data.image.url = value
        return proto, len(value) + 16
    if cls is Input:
        return value.proto, value.size
    if cls is _Input:
        return value, _proto_size(value, index)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _wrap(index, Input.from_bytes, value)
    if isinstance(value, os.PathLike):
        return _wrap(index, Input.from_file, value)
    if isinstance(value, Input):
        return value.proto, value.size
    if isinstance(value, str):
        return coerce(str(value), index)
    raise InputError(
        f"inputs[{index}]: expected an Input, an http(s) URL str, bytes, a path "
        f"(os.PathLike) or a resources_pb2.Input, got {cls.__name__}",
        param=f"inputs[{index}]",
    )


def check_url(url: Any, index: int | None = None) -> None:
    """``InputError`` unless ``url`` is an absolute ``http://`` or ``https://`` URL."""
    where = "" if index is None else f"inputs[{index}]: "
    param = "url" if index is None else f"inputs[{index}]"
    if not isinstance(url, str):
        raise InputError(f"{where}a URL must be a str, got {type(url).__name__}", param=param)
    head = url[:8].lower()
    rest = url[8:] if head == "https://" else url[7:] if head.startswith("http://") else None
    if rest is None:
        hint = (
            " (a local file? pass a pathlib.Path or Input.from_file; text? Input.from_text)"
            if "://" not in url
            else ""
        )
        raise InputError(f"{where}not an http(s) URL: {_clip(url)!r}{hint}", param=param)
    if not rest or rest[0] in "/?#" or not url.isprintable() or " " in url:
        raise InputError(f"{where}not a valid http(s) URL: {_clip(url)!r}", param=param)


def kind_of(path: str) -> str:
    """The input kind a file's suffix implies; ``InputError`` when it implies none."""
    mime = _mime(path)
    major = mime.split("/", 1)[0]
    if major in _MEDIA or major == "text":
        return major
    if mime in ("application/json", "application/xml"):
        return "text"
    raise InputError(
        f"cannot tell the kind of input {path!r} from its suffix; pass "
        "Input.from_file(path, kind='image'|'video'|'audio'|'text')",
        param="kind",
    )


def _part(value: Any, index: int) -> resources_pb2.Input:
    """Part ``index`` of ``from_parts``, as an input proto; ``InputError`` naming it if it is
    not one."""
    if type(value) is str and not _looks_like_url(value):
        if not value:
            raise InputError(
                f"parts[{index}]: an empty str; give text, or leave the part out",
                param=f"parts[{index}]",
            )
        proto = _Input()
        proto.data.text.raw = value
        return proto
    try:
        proto, _ = coerce(value, index)
    except InputError as exc:
        raise InputError(
            str(exc).replace(f"inputs[{index}]", f"parts[{index}]", 1), param=f"parts[{index}]"
        ) from exc
    if proto.data.parts:
        raise InputError(
            f"parts[{index}]: a multimodal input; parts cannot nest", param=f"parts[{index}]"
        )
    if proto.HasField("settings"):
        raise InputError(
            f"parts[{index}]: has settings (sample_ms), which only a whole input can carry",
            param=f"parts[{index}]",
        )
    return proto


def _looks_like_url(text: str) -> bool:
    """True for a str meant as a URL: ``http(s)://...``, or a scheme and no spaces (a typo such
    as ``htps://``, refused as a URL rather than sent as text)."""
    return text[:8].lower().startswith(("http://", "https://")) or (
        "://" in text and not any(c.isspace() for c in text)
    )


def check_sample_ms(value: Any, kind: str) -> int:
    """``value``, a video's frame interval in milliseconds, checked; ``InputError`` otherwise."""
    if kind != "video":
        raise InputError(f"sample_ms is for video inputs; this input is {kind}", param="sample_ms")
    if type(value) is not int or not 0 < value <= _MAX_SAMPLE_MS:
        raise InputError(
            f"sample_ms must be a whole number of milliseconds > 0, got {value!r}",
            param="sample_ms",
        )
    return value


def _describe(data: resources_pb2.Data, kind: str | None = None) -> str:
    """A short description of an input's content, for reprs; a part's (no ``kind``) says its
    kind too."""
    part = kind is None
    if kind is None:
        kind = next((k for k in ("image", "video", "audio") if data.HasField(k)), "text")
    media = data.text if kind == "text" else getattr(data, kind)
    if media.url:
        what = f"url={media.url!r}"
    elif kind == "text":
        return repr(_clip(media.raw)) if part else f"text={_clip(media.raw)!r}"
    else:
        what = f"bytes={len(media.base64)}"
    return f"{kind} {what}" if part else what


def _media(kind: str, **fields: Any) -> resources_pb2.Data:
    media = _MEDIA.get(kind)
    if media is None:
        raise InputError(
            f"unknown input kind {kind!r}; expected one of {', '.join(KINDS)}", param="kind"
        )
    return _Data(**{kind: media(**fields)})


def _set_metadata(proto: resources_pb2.Input, metadata: Mapping[str, Any]) -> None:
    if not isinstance(metadata, Mapping):
        raise InputError(
            f"input metadata must be a dict, got {type(metadata).__name__}", param="metadata"
        )
    try:
        proto.data.metadata.update(metadata)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(
            "input metadata must be JSON-like (str keys; str, number, bool, None, list, "
            f"dict values): {exc}",
            param="metadata",
        ) from exc


def _proto_size(proto: resources_pb2.Input, index: int) -> int:
    image = proto.data.image.base64
    if len(image) > MAX_IMAGE_BYTES:
        raise InputError(f"inputs[{index}]: {_too_big(len(image))}", param=f"inputs[{index}]")
    return proto.ByteSize()


def _wrap(index: int, make: Any, value: Any) -> tuple[resources_pb2.Input, int]:
    try:
        made = make(value)
    except InputError as exc:
        raise InputError(f"inputs[{index}]: {exc}", param=f"inputs[{index}]") from exc
    return made.proto, made.size


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"text input {where!r} is not UTF-8: {exc.reason}",
            param="data" if where == "bytes" else "path",
        ) from exc


def _too_big(size: int) -> str:
    return f"image is {size} bytes, over the API's limit of {MAX_IMAGE_BYTES} bytes (20 MiB)"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
