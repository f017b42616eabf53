"""``_channel``'s pure rules: where a target points, what counts as loopback, when a PAT may go
in plaintext, and how channel options merge."""

from __future__ import annotations

import pytest

from clarifai_workflow_predict import InputError
from clarifai_workflow_predict._channel import (
    CHANNEL_OPTIONS,
    channel_options,
    check_plaintext,
    hosts_of,
    is_local,
    is_loopback,
    resolve_target,
)


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("api.clarifai.com", "api.clarifai.com:443"),
        ("api.clarifai.com:443", "api.clarifai.com:443"),
        (" 127.0.0.1:5000 ", "127.0.0.1:5000"),
        ("::1", "[::1]:443"),
        ("[::1]", "[::1]:443"),
        ("[::1]:50051", "[::1]:50051"),
        ("unix:/tmp/s.sock", "unix:/tmp/s.sock"),
        ("dns:///api.clarifai.com:443", "dns:///api.clarifai.com:443"),
    ],
)
def test_targets_resolve_to_host_and_port(given: str, resolved: str) -> None:
    assert resolve_target(given) == resolved


def test_the_target_falls_back_to_the_environment_then_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLARIFAI_GRPC_BASE", "example.com:1")
    assert resolve_target(None) == "example.com:1"
    monkeypatch.delenv("CLARIFAI_GRPC_BASE")
    assert resolve_target(None) == "api.clarifai.com:443"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "https://api.clarifai.com",
        42,
        "127.0.0.1:abc",
        "localhost:",
        "example.com:0",
        "example.com:65536",
        "[::1]:x",
        "host:\u0661\u0662",  # Arabic-Indic digits: isdigit, but no port
        "[::1]x",
    ],
)
def test_bad_targets_are_input_errors(bad: object) -> None:
    with pytest.raises(InputError) as caught:
        resolve_target(bad)  # type: ignore[arg-type]
    assert caught.value.param == "target"


@pytest.mark.parametrize(
    ("target", "hosts", "local"),
    [
        ("127.0.0.1:1", ["127.0.0.1"], True),
        ("127.9.9.9:1", ["127.9.9.9"], True),
        ("localhost:1", ["localhost"], True),
        ("[::1]:1", ["::1"], True),
        ("unix:/tmp/s", ["localhost"], True),
        ("ipv4:127.0.0.1:1,127.0.0.2:1", ["127.0.0.1", "127.0.0.2"], True),
        ("10.0.0.1:1", ["10.0.0.1"], False),
        ("example.com:443", ["example.com"], False),
        ("dns:///example.com:443", ["example.com"], False),
        # gRPC fails over along an address list: one remote address makes it remote.
        ("ipv4:127.0.0.1:1,10.0.0.5:1", ["127.0.0.1", "10.0.0.5"], False),
        ("ipv6:[::1]:1,[2001:db8::1]:1", ["::1", "2001:db8::1"], False),
    ],
)
def test_hosts_and_loopback(target: str, hosts: list[str], local: bool) -> None:
    assert hosts_of(target) == hosts and is_local(target) is local
    assert all(is_loopback(h) for h in hosts) is local


def test_a_pat_goes_in_plaintext_only_to_loopback_or_when_allowed() -> None:
    check_plaintext("127.0.0.1:1", "pat", False)
    check_plaintext("example.com:1", None, False)  # no PAT, nothing to leak
    check_plaintext("example.com:1", "pat", True)
    for remote in ("example.com:1", "ipv4:127.0.0.1:1,10.0.0.5:1"):
        with pytest.raises(InputError) as caught:
            check_plaintext(remote, "pat", False)
        assert caught.value.param == "insecure" and "pat" not in str(caught.value).split()


def test_channel_options_merge_over_the_defaults() -> None:
    merged = dict(channel_options([("grpc.enable_retries", 1), ("my.option", "x")]))
    assert merged["grpc.enable_retries"] == 1 and merged["my.option"] == "x"
    assert set(dict(CHANNEL_OPTIONS)) <= set(merged)
    for bad in ("grpc.x", [("a",)], [(1, 2)]):
        with pytest.raises(InputError):
            channel_options(bad)
