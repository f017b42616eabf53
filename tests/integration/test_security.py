"""Secrets stay secret; TLS checks certificates; message sizes are bounded."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import logging
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from clarifai_grpc.grpc.api.status import status_code_pb2

from clarifai_workflow_predict import (
    AsyncWorkflowClient,
    AuthenticationError,
    ClarifaiError,
    InputError,
    PredictionError,
    TransportError,
    WorkflowClient,
    _channel,
)
from clarifai_workflow_predict.cli import main
from clarifai_workflow_predict.testing import LocalWorkflowServer

from ..conftest import FAST_RETRY
from ..helpers import Request, Response, echo

SECRET = "pat-3f9a1c7e5b2d4e6f8a0b1c2d3e4f5a6b"
URL = "https://samples.clarifai.com/metro-north.jpg"


def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)


def test_pat_is_never_in_reprs_errors_logs_or_dicts(caplog: pytest.LogCaptureFixture) -> None:
    every_logger_at_debug(caplog)
    texts: list[str] = []
    with LocalWorkflowServer(pat=SECRET) as server:
        with WorkflowClient(SECRET, target=server.target, insecure=True, batch_size=10) as client:
            texts += [repr(client), str(client), repr(server)]
            server.fail_next(2)  # retried, and logged at DEBUG
            prediction = client.predict("General", [URL, "https://fail.invalid/a.jpg"] * 8)
            texts.append(json.dumps(prediction.to_dict()))
            texts.append(repr(prediction))
            try:
                prediction.raise_for_status()
            except PredictionError as error:
                texts += [str(error), repr(error)]
            for call in (
                lambda: client.predict("No-Such-Workflow", URL),
                lambda: client.predict("General", [URL, 3]),
                lambda: client.predict(
                    "General", URL, metadata=[("authorization", f"Key {SECRET}")]
                ),
            ):
                with pytest.raises(ClarifaiError) as caught:
                    call()
                texts += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
        with WorkflowClient("wrong-" + SECRET, target=server.target, insecure=True) as wrong:
            with pytest.raises(AuthenticationError) as caught:
                wrong.predict("General", URL)
            texts += [repr(wrong), str(caught.value)]

        async def run() -> None:
            async with AsyncWorkflowClient(SECRET, target=server.target, insecure=True) as client:
                texts.append(repr(client))
                server.fail_next(1)
                texts.append(repr(await client.predict("General", URL)))

        asyncio.run(run())
    with pytest.raises(InputError) as bad:
        WorkflowClient(SECRET + "\n", target="127.0.0.1:1", insecure=True)
    texts.append(str(bad.value))
    with pytest.raises(InputError) as plaintext:
        WorkflowClient(SECRET, target="203.0.113.7:443", insecure=True)
    texts.append(str(plaintext.value))
    assert "retrying" in caplog.text  # DEBUG logging was on and did log
    for text in [*texts, caplog.text]:
        assert SECRET not in text


def test_cli_output_and_debug_tracebacks_never_show_the_pat(
    capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    every_logger_at_debug(caplog)
    with LocalWorkflowServer(pat=SECRET) as server:
        base = ["--target", server.target, "--insecure", "--pat", SECRET, "--debug"]
        codes = [
            main(["predict", "General", URL, *base]),
            main(["predict", "General", URL, "--json", *base]),
            main(["predict", "No-Such-Workflow", URL, *base]),
            main(["predict", "General", "/no/such/file.png", *base]),
            main(
                [
                    "predict",
                    "General",
                    URL,
                    "--target",
                    server.target,
                    "--insecure",
                    "--pat",
                    "wrong-" + SECRET,
                    "--debug",
                ]
            ),
        ]
    out, err = capsys.readouterr()
    assert codes == [0, 0, 1, 2, 1]  # a missing file is a usage error
    assert "Traceback" in err  # --debug did print tracebacks
    assert SECRET not in out and SECRET not in err and SECRET not in caplog.text


# --- TLS -----------------------------------------------------------------------------------


def self_signed() -> tuple[bytes, bytes]:
    """A certificate for localhost and 127.0.0.1, and its key, made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def tls_server() -> Any:
    cert, key = self_signed()
    seen: list[dict[str, str]] = []

    def handle(request: Request, context: Any) -> Response:
        seen.append(dict(context.invocation_metadata()))
        return echo(request)

    server = grpc.server(futures.ThreadPoolExecutor(4))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "clarifai.api.V2",
                {
                    "PostWorkflowResults": grpc.unary_unary_rpc_method_handler(
                        handle,
                        request_deserializer=Request.FromString,
                        response_serializer=Response.SerializeToString,
                    )
                },
            )
        ]
    )
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    server.start()
    yield f"127.0.0.1:{port}", cert, seen
    server.stop(None)


def test_default_roots_reject_a_self_signed_server(tls_server: Any) -> None:
    target, _, seen = tls_server
    before = len(seen)
    with WorkflowClient(SECRET, target=target, retry=None, timeout=10) as client:
        with pytest.raises(TransportError) as caught:
            client.predict("General", URL)
    assert caught.value.grpc_code is grpc.StatusCode.UNAVAILABLE
    assert len(seen) == before  # the PAT never reached the server


def test_root_certificates_accept_it_as_bytes_or_path(tls_server: Any, tmp_path: Path) -> None:
    target, cert, seen = tls_server
    pem = tmp_path / "ca.pem"
    pem.write_bytes(cert)
    for roots in (cert, pem, str(pem)):
        with WorkflowClient(SECRET, target=target, root_certificates=roots, retry=None) as client:
            assert client.predict("General", URL).results[0].outputs[0].concepts[0].name == URL
    assert seen[-1]["authorization"] == f"Key {SECRET}"

    async def run() -> str:
        async with AsyncWorkflowClient(SECRET, target=target, root_certificates=cert) as client:
            return (await client.predict("General", URL)).results[0].outputs[0].concepts[0].name

    assert asyncio.run(run()) == URL


def test_plaintext_pat_to_a_remote_host_needs_the_named_opt_in() -> None:
    for target in ("203.0.113.7:50051", "api.clarifai.com", "[2001:db8::1]:443"):
        with pytest.raises(InputError, match="allow_insecure_pat"):
            WorkflowClient(SECRET, target=target, insecure=True)
        with pytest.raises(InputError, match="allow_insecure_pat"):
            AsyncWorkflowClient(SECRET, target=target, insecure=True)
        WorkflowClient(SECRET, target=target, insecure=True, allow_insecure_pat=True).close()


# --- message size --------------------------------------------------------------------------


def test_receive_limit_is_set_and_an_oversized_response_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = dict(_channel.CHANNEL_OPTIONS)
    assert options["grpc.max_receive_message_length"] == 256 * 1024 * 1024
    assert options["grpc.max_send_message_length"] >= 128 * 1024 * 1024
    small = tuple(
        (k, 64 * 1024 if k == "grpc.max_receive_message_length" else v)
        for k, v in _channel.CHANNEL_OPTIONS
    )
    monkeypatch.setattr(_channel, "CHANNEL_OPTIONS", small)
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(target=server.target, insecure=True) as client,
    ):
        assert client.predict("General", URL).ok  # a small response fits
        with pytest.raises(TransportError) as caught:
            client.predict("General", [f"https://x.org/{i}.jpg" for i in range(32)])  # ~100 KiB
        assert caught.value.grpc_code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert len(server.requests) == 2  # one call each: the oversized answer was not resent


def test_throttling_resource_exhausted_is_still_retried() -> None:
    with (
        LocalWorkflowServer() as server,
        WorkflowClient(
            target=server.target, insecure=True, retry=FAST_RETRY, rate_limit=None
        ) as client,
    ):
        server.fail_next(1, grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert client.predict("General", URL).ok and len(server.requests) == 2
        server.fail_next(1, status_code=status_code_pb2.CONN_THROTTLED)
        assert client.predict("General", URL).ok and len(server.requests) == 4
