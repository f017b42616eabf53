"""The client's own channel, on both clients: channel options, compression, interceptors, the
user agent, and keepalive (a silently dropped connection is found; a default server never
objects to the pings)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import grpc
import grpc.aio
import pytest

from clarifai_workflow_predict import InputError, TransportError, __version__

from ..clients import Harness, client_for
from ..conftest import PAT
from ..helpers import FakeServer, Response, echo
from ..proxy import Proxy

URLS = [f"https://example.com/transport/{i}.jpg" for i in range(40)]


def test_the_user_agent_names_the_library_and_its_version(harness: Harness) -> None:
    with FakeServer() as server, client_for(harness, server) as client:
        client.predict("General", URLS[0])
    assert server.metadata[0]["user-agent"].startswith(f"clarifai-workflow-predict/{__version__} ")


def test_channel_options_are_merged_over_the_defaults(harness: Harness) -> None:
    with FakeServer() as server:
        small = [("grpc.max_receive_message_length", 200)]
        with client_for(harness, server, channel_options=small, retry=None) as client:
            with pytest.raises(TransportError) as caught:
                client.predict("General", URLS[0])
            options = dict(client.real._options)
    assert caught.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in caught.value.details
    # The rest of the defaults stay: still no gRPC retries, still keepalive.
    assert options["grpc.max_receive_message_length"] == 200
    assert options["grpc.enable_retries"] == 0 and options["grpc.keepalive_time_ms"] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel_options": "grpc.enable_retries=1"}, "sequence of \\(name, value\\) pairs"),
        ({"channel_options": [("grpc.enable_retries",)]}, "pairs"),
        ({"compression": "gzip"}, "grpc.Compression"),
        ({"interceptors": [object()]}, "interceptor"),
    ],
)
def test_bad_transport_arguments_raise_input_error(
    harness: Harness, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        harness.cls(PAT, target="127.0.0.1:1", insecure=True, **kwargs)


def test_transport_arguments_are_refused_with_a_channel_of_the_callers(harness: Harness) -> None:
    channel = harness.channel("127.0.0.1:1")
    interceptor = _AioTagging() if harness.loop else _Tagging()
    for kwargs in (
        {"channel_options": [("grpc.enable_retries", 1)]},
        {"interceptors": [interceptor]},
    ):
        with pytest.raises(InputError, match="channel"):
            harness.cls(PAT, channel=channel, **kwargs)
    harness.close_channel(channel)


def test_compression_shrinks_what_goes_on_the_wire(harness: Harness) -> None:
    texts = ["the same words again and again " * 40 + str(i) for i in range(16)]
    sent = {}
    with FakeServer() as server, Proxy(server.target) as proxy:
        for compression in (None, grpc.Compression.Gzip):
            before = proxy.bytes_up
            with harness.client(
                PAT, target=proxy.target, insecure=True, compression=compression
            ) as client:
                from clarifai_workflow_predict import Input

                assert client.predict("General", [Input.from_text(t) for t in texts]).ok
            sent[compression] = proxy.bytes_up - before
    assert [r.inputs[5].data.text.raw for r in server.requests] == [texts[5]] * 2
    assert sent[grpc.Compression.Gzip] < sent[None] / 4


class _Tagging(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.methods: list[str] = []

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self.methods.append(details.method)
        metadata = [*(details.metadata or ()), ("x-intercepted", "sync")]
        return continuation(details._replace(metadata=metadata), request)


class _AioTagging(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.methods: list[str] = []

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method
        self.methods.append(method.decode() if isinstance(method, bytes) else method)
        metadata = grpc.aio.Metadata(*(details.metadata or ()), ("x-intercepted", "async"))
        return await continuation(details._replace(metadata=metadata), request)


def test_interceptors_wrap_every_call_on_the_clients_channel(harness: Harness) -> None:
    tagging = _AioTagging() if harness.loop else _Tagging()
    with FakeServer() as server, client_for(harness, server, interceptors=[tagging]) as client:
        client.predict("General", URLS[:40])  # two requests
        list(client.predict_iter("General", URLS[:3]))
    assert tagging.methods == ["/clarifai.api.V2/PostWorkflowResults"] * 3
    assert [m["x-intercepted"] for m in server.metadata] == [harness.kind] * 3


# --- keepalive -----------------------------------------------------------------------------


def _across_a_dropped_connection(kind: str) -> dict[str, Any]:
    """Predict once, drop the connection silently, predict again with a long deadline."""
    harness = Harness(kind)
    outcome: dict[str, Any] = {}
    with FakeServer() as server, Proxy(server.target) as proxy:
        with harness.client(PAT, target=proxy.target, insecure=True) as client:
            client.predict("General", URLS[0])
            proxy.freeze()
            started = time.monotonic()
            outcome["ok"] = client.predict("General", URLS[1], timeout=60).ok
            outcome["seconds"] = time.monotonic() - started
        outcome["connections"] = proxy.connections
    harness.close()
    return outcome


def _ping_heavy_run(kind: str, extra: list[tuple[str, Any]], phases: tuple[str, ...]) -> list[str]:
    """Busy, idle and long silent calls, pinging every second (gRPC's floor; the default is
    20 s); returns what went wrong: failed calls, or more than one connection."""
    peers: set[str] = set()

    def handler(request: Any, context: Any, call: int) -> Response:
        peers.add(context.peer())
        url = request.inputs[0].data.image.url
        time.sleep(5.0 if "silent" in url else 0.2)
        return echo(request)

    options = [("grpc.keepalive_time_ms", 1000), *extra]
    problems = []
    harness = Harness(kind)
    with FakeServer(handler) as server:
        client = client_for(
            harness, server, channel_options=options, batch_size=1, max_concurrency=3, retry=None
        )
        with client:
            for phase in phases:
                try:
                    if phase == "busy":
                        results = list(client.predict_iter("General", URLS[:6]))
                        problems += [r.status.description for r in results if not r.ok]
                    elif phase == "idle":
                        harness.sleep(4.0)
                    else:
                        client.predict("General", "https://example.com/silent.jpg", timeout=20)
                except TransportError as error:
                    problems.append(str(error))
    harness.close()
    if len(peers) > 1:
        problems.append(f"{len(peers)} connections")
    return problems


def test_keepalive_finds_a_dropped_connection_and_never_draws_too_many_pings() -> None:
    # Side by side, as each run mostly waits:
    # - with the defaults, both clients give up on a silently dropped connection within about
    #   20 s (an unanswered ping; gRPC alone would wait a minute, this call's whole deadline)
    #   and retry on a new one;
    # - both clients run busy, idle and silent spells against a default server, along with two
    #   clients set up to misbehave, which prove the check can fail: one pinging without limit
    #   through a silent call, one also pinging while idle. The server sends those two away.
    unlimited = ("grpc.http2.max_pings_without_data", 0)
    spells = ("busy", "idle", "silent", "busy")
    runs: dict[str, Callable[[], Any]] = {
        "dropped sync": lambda: _across_a_dropped_connection("sync"),
        "dropped async": lambda: _across_a_dropped_connection("async"),
        "pings sync": lambda: _ping_heavy_run("sync", [], spells),
        "pings async": lambda: _ping_heavy_run("async", [], spells),
        "unlimited": lambda: _ping_heavy_run("sync", [unlimited], ("busy", "silent")),
        "idle pings": lambda: _ping_heavy_run(
            "sync",
            [unlimited, ("grpc.keepalive_permit_without_calls", 1)],
            ("busy", "idle", "busy"),
        ),
    }
    found: dict[str, Any] = {}

    def run(name: str) -> None:
        found[name] = runs[name]()

    threads = [threading.Thread(target=run, args=(name,)) for name in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    for kind in ("sync", "async"):
        dropped = found[f"dropped {kind}"]
        assert dropped["ok"] and dropped["connections"] == 2, (kind, dropped)
        assert dropped["seconds"] < 40, (kind, dropped)
        assert found[f"pings {kind}"] == [], found
    assert found["unlimited"] and found["idle pings"], found
