"""Clients leave nothing behind, and behave across os.fork()."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from clarifai_workflow_predict import AsyncWorkflowClient, WorkflowClient
from clarifai_workflow_predict.testing import LocalWorkflowServer

from .hygiene import open_fds, os_threads, settled, thread_names

URLS = [f"https://example.com/{i}.jpg" for i in range(40)]


def test_200_open_close_cycles_of_each_client_leak_nothing(reliability: Any) -> None:
    with LocalWorkflowServer() as server:
        # Unpaced: a new client's slow start would hold each cycle's second request back.
        def sync_cycle() -> None:
            with WorkflowClient(
                target=server.target, insecure=True, batch_size=20, rate_limit=None
            ) as client:
                assert len(client.predict("General", URLS)) == 40  # two requests: the pool runs

        async def async_cycles(count: int) -> None:
            for _ in range(count):
                async with AsyncWorkflowClient(
                    target=server.target, insecure=True, batch_size=20, rate_limit=None
                ) as client:
                    assert len(await client.predict("General", URLS)) == 40

        sync_cycle()  # warm: gRPC starts its process-wide threads once
        asyncio.run(async_cycles(1))
        # The emulator's pool starts worker threads as load calls for them (more on a busy
        # machine); start them all now, so only a client's threads could be new below.
        server.latency = 0.2
        with WorkflowClient(
            target=server.target, insecure=True, batch_size=1, max_concurrency=40
        ) as wide:
            wide.predict("General", URLS)
        server.latency = 0
        fds, threads, native = open_fds(), thread_names(), os_threads()
        for _ in range(200):
            sync_cycle()
        asyncio.run(async_cycles(200))
        leaked_fds, leaked_threads = settled(fds, threads)
        grown_native = os_threads() - native
    reliability.add(open_close_cycles=400, predictions=400, inputs_sent=400 * 40)
    reliability.add(leaks_found=leaked_fds + len(leaked_threads) + max(0, grown_native))
    assert leaked_fds == 0 and not leaked_threads
    assert grown_native <= 0


FORK_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from clarifai_workflow_predict import AsyncWorkflowClient, WorkflowClient
    from clarifai_workflow_predict.testing import LocalWorkflowServer

    urls = [f"https://example.com/{i}.jpg" for i in range(40)]
    server = LocalWorkflowServer().start()
    parent = WorkflowClient(target=server.target, insecure=True, batch_size=10, timeout=10)
    expected = [r.id for r in parent.predict("General", urls).results]  # the pool now has threads
    loop = asyncio.new_event_loop()  # the async client's loop stays open across the fork
    aio = AsyncWorkflowClient(target=server.target, insecure=True, timeout=10)
    loop.run_until_complete(aio.predict("General", urls[0]))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = {}
        try:
            with WorkflowClient(target=server.target, insecure=True, batch_size=10, timeout=10) as fresh:
                out["new"] = [r.id for r in fresh.predict("General", urls).results] == expected
        except Exception as error:
            out["new"] = f"{type(error).__name__}: {error}"
        try:
            out["carried"] = [r.id for r in parent.predict("General", urls).results] == expected
        except Exception as error:
            out["carried"] = f"{type(error).__name__}: {error}"
        try:
            asyncio.run(aio.predict("General", urls[0]))
            out["carried_async"] = "worked"
        except Exception as error:
            out["carried_async"] = f"{type(error).__name__}: {error}"
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = json.loads(os.read(read, 65536) or b"{}")
    child["parent_after"] = [r.id for r in parent.predict("General", urls).results] == expected
    child["child_exit"] = status
    parent.close()
    server.stop()
    print(json.dumps(child))
    """
)


def test_fork_new_client_in_child_works_and_carried_client_does_not_hang() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["child_exit"] == 0
    assert result["new"] is True  # a client built after fork works
    # A carried client works: its chunk pool and lock are rebuilt in the child (without that,
    # its chunked calls would wait on pool threads that only exist in the parent).
    assert result["carried"] is True
    # The async client belongs to the parent's still-open loop: refused at once, not hung.
    assert result["carried_async"].startswith(
        "RuntimeError: this AsyncWorkflowClient belongs to another event loop"
    )
    assert result["parent_after"] is True
