"""Channels: the target, TLS, channel options, and binding the one method we call.

The client binds ``/clarifai.api.V2/PostWorkflowResults`` itself with ``unary_unary`` rather
than building a ``V2Stub``: the stub binds hundreds of methods (milliseconds) and depends on a
module global that only ``ClarifaiChannel`` sets. ``SyncMethod`` and ``AsyncMethod`` are the
contract between the clients and what they call: a bound method of a channel or stub, ours or
the caller's.
"""

from __future__ import annotations

import os
from typing import Any, Awaitable, Protocol, Sequence

import grpc
from clarifai_grpc.grpc.api import service_pb2

from ._request import MAX_REQUEST_BYTES
from ._version import __version__
from .errors import InputError

__all__ = [
    "DEFAULT_TARGET",
    "METHOD",
    "CHANNEL_OPTIONS",
    "AsyncMethod",
    "SyncMethod",
    "bind",
    "bind_get_workflow",
    "channel_options",
    "check_plaintext",
    "credentials",
    "is_local",
    "is_loopback",
    "resolve_target",
]

Metadata = Sequence[tuple[str, str]]


class SyncMethod(Protocol):
    """``PostWorkflowResults`` bound to a channel: sends one request and returns its response,
    or raises ``grpc.RpcError`` when the RPC fails."""

    def __call__(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        compression: grpc.Compression | None = None,
    ) -> service_pb2.PostWorkflowResultsResponse: ...


class AsyncMethod(Protocol):
    """``SyncMethod`` on ``grpc.aio``: awaiting the call gives the response, or raises
    ``grpc.RpcError``."""

    def __call__(
        self,
        request: service_pb2.PostWorkflowResultsRequest,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        compression: grpc.Compression | None = None,
    ) -> Awaitable[service_pb2.PostWorkflowResultsResponse]: ...


TARGET_ENV = "CLARIFAI_GRPC_BASE"
DEFAULT_TARGET = "api.clarifai.com:443"
METHOD = "/clarifai.api.V2/PostWorkflowResults"

#: Largest response accepted on our channels. Responses carry embeddings and video frames for
#: up to 32 inputs; 256 MiB bounds memory while leaving room for those.
MAX_RECEIVE_BYTES = 256 * 1024 * 1024
#: Largest message sent: the API's request limit plus room for framing.
MAX_SEND_BYTES = MAX_REQUEST_BYTES + 1024 * 1024

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    # Retries are this library's alone: no gRPC retry policy, and no service config from DNS
    # that could add one, so attempts never multiply.
    ("grpc.enable_retries", 0),
    ("grpc.service_config_disable_resolution", 1),
    ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
    ("grpc.max_send_message_length", MAX_SEND_BYTES),
    # The connection is the client's own: not shared with other channels to the same host,
    # so another channel's failed connect (and its backoff) never fails our calls.
    ("grpc.use_local_subchannel_pool", 1),
    # Reconnect within seconds once a server is back; gRPC's default backoff grows to 120 s,
    # failing every call fast with UNAVAILABLE meanwhile.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
    # Find a connection a load balancer or NAT dropped without a word: while calls are in
    # flight, ping after 10 s without incoming traffic, and give up on a connection whose ping
    # goes unanswered for 10 s (gRPC waits a minute), so the call fails and is retried on a new
    # connection within about 20 s instead of at its deadline. No pings while idle, and gRPC's
    # default of at most 2 pings between the requests we send, keep within what a default gRPC
    # server allows: it never answers with GOAWAY too_many_pings.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.ping_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.primary_user_agent", f"clarifai-workflow-predict/{__version__}"),
)

#: Only a bulk job with a budget reads the workflow, to know what one input costs.
GET_WORKFLOW = "/clarifai.api.V2/GetWorkflow"

_SERIALIZE = service_pb2.PostWorkflowResultsRequest.SerializeToString
_DESERIALIZE = service_pb2.PostWorkflowResultsResponse.FromString
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def resolve_target(target: str | None) -> str:
    """``target``, else ``CLARIFAI_GRPC_BASE``, else ``api.clarifai.com:443``; ``:443`` added
    to a target without a port."""
    if target is None:
        target = os.environ.get(TARGET_ENV) or DEFAULT_TARGET
    if not isinstance(target, str) or not target.strip():
        raise InputError(
            f"target must be a non-empty 'host:port' str, got {target!r}", param="target"
        )
    target = target.strip()
    if "://" in target and not target.startswith(("unix://", "dns://", "ipv4:", "ipv6:")):
        raise InputError(
            f"target {target!r} is a URL; gRPC wants 'host:port', e.g. 'api.clarifai.com:443'",
            param="target",
        )
    if target.startswith(("unix:", "dns:", "ipv4:", "ipv6:")):
        return target
    if target.startswith("["):  # [v6]:port or [v6]
        if "]:" in target:
            return _with_port(target, target.partition("]:")[2])
        if not target.endswith("]"):
            raise InputError(
                f"target {target!r}: an IPv6 address in brackets is '[addr]' or '[addr]:port'",
                param="target",
            )
        return target + ":443"
    if target.count(":") > 1:  # a bare IPv6 address
        return f"[{target}]:443"
    return _with_port(target, target.rpartition(":")[2]) if ":" in target else target + ":443"


def _with_port(target: str, port: str) -> str:
    """``target``, once its ``port`` is a port number (gRPC would only fail to connect)."""
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise InputError(
            f"target {target!r} has no valid port: {port!r} is not a number from 1 to 65535",
            param="target",
        )
    return target


def hosts_of(target: str) -> list[str]:
    """Every host a resolved target names: one, or each of an ``ipv4:``/``ipv6:`` address list,
    which gRPC tries in turn (``unix:`` sockets give ``"localhost"``)."""
    if target.startswith("unix:"):
        return ["localhost"]
    addresses = [target]
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if target.startswith(scheme):
            addresses = target[len(scheme) :].split(",")
            break
    return [a[1 : a.index("]")] if a.startswith("[") else a.rsplit(":", 1)[0] for a in addresses]


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``."""
    if host.lower() in _LOCAL_NAMES:
        return True
    import ipaddress  # only plaintext targets need it

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local(target: str) -> bool:
    """True when every host ``target`` names is loopback: gRPC may fail over to any of them."""
    return all(is_loopback(host) for host in hosts_of(target))


def check_plaintext(target: str, pat: str | None, allowed: bool) -> None:
    """Refuse to send a PAT in plaintext to a host that is not loopback, unless ``allowed``."""
    if pat and not allowed and not is_local(target):
        raise InputError(
            f"insecure=True would send the PAT in plaintext to {target!r}, which is not a "
            "loopback address; use TLS, or pass allow_insecure_pat=True if the network "
            "between you and it is trusted",
            param="insecure",
        )


def credentials(
    root_certificates: bytes | str | os.PathLike[str] | None,
) -> grpc.ChannelCredentials:
    """TLS credentials: gRPC's root certificates, or ``root_certificates`` (PEM bytes or a path)."""
    if root_certificates is None:
        return grpc.ssl_channel_credentials()
    if isinstance(root_certificates, (bytes, bytearray)):
        pem = bytes(root_certificates)
    elif isinstance(root_certificates, (str, os.PathLike)):
        try:
            with open(root_certificates, "rb") as f:
                pem = f.read()
        except OSError as exc:
            raise InputError(
                f"cannot read root_certificates {os.fspath(root_certificates)!r}: "
                f"{exc.strerror or exc}",
                param="root_certificates",
            ) from exc
    else:
        raise InputError(
            "root_certificates must be PEM bytes or a path, "
            f"got {type(root_certificates).__name__}",
            param="root_certificates",
        )
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise InputError("root_certificates holds no PEM certificate", param="root_certificates")
    return grpc.ssl_channel_credentials(root_certificates=pem)


def channel_options(extra: Any) -> tuple[tuple[str, Any], ...]:
    """``CHANNEL_OPTIONS`` with ``extra`` (channel arguments as ``(name, value)`` pairs) merged
    over them: a name given in ``extra`` replaces the default."""
    if isinstance(extra, (str, bytes)) or not isinstance(extra, Sequence):
        raise InputError(
            "channel_options must be a sequence of (name, value) pairs", param="channel_options"
        )
    merged = dict(CHANNEL_OPTIONS)
    for pair in extra:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise InputError(
                f"channel_options must be (str name, value) pairs, got {pair!r:.60}",
                param="channel_options",
            )
        merged[pair[0]] = pair[1]
    return tuple(merged.items())


def open_channel(
    module: Any,
    target: str,
    creds: grpc.ChannelCredentials | None,
    options: tuple[tuple[str, Any], ...],
    interceptors: Sequence[Any],
) -> Any:
    """A new channel from ``module`` (``grpc`` or ``grpc.aio``): TLS with ``creds``, plaintext
    without, with ``options`` and the client ``interceptors``."""
    if module is grpc:
        channel = (
            grpc.insecure_channel(target, options=options)
            if creds is None
            else grpc.secure_channel(target, creds, options=options)
        )
        return grpc.intercept_channel(channel, *interceptors) if interceptors else channel
    extra = {"interceptors": list(interceptors)} if interceptors else {}
    if creds is None:
        return module.insecure_channel(target, options=options, **extra)
    return module.secure_channel(target, creds, options=options, **extra)


def bind(channel: Any, *, ours: bool) -> Any:
    """The ``PostWorkflowResults`` multicallable on ``channel``, bound once and cached by callers.

    On our own channels the method is registered, which saves gRPC interning its name per call;
    a caller's channel may be a wrapper or test double, so it gets the plain form.
    """
    if ours:
        return channel.unary_unary(
            METHOD,
            request_serializer=_SERIALIZE,
            response_deserializer=_DESERIALIZE,
            _registered_method=True,
        )
    return channel.unary_unary(
        METHOD, request_serializer=_SERIALIZE, response_deserializer=_DESERIALIZE
    )


def bind_get_workflow(where: Any) -> Any:
    """The ``GetWorkflow`` method of a ``V2Stub``, or bound on a channel; ``None`` for anything
    else."""
    method = getattr(where, "GetWorkflow", None)
    if callable(method):
        return method
    if callable(getattr(where, "unary_unary", None)):
        return where.unary_unary(
            GET_WORKFLOW,
            request_serializer=service_pb2.GetWorkflowRequest.SerializeToString,
            response_deserializer=service_pb2.SingleWorkflowResponse.FromString,
        )
    return None
