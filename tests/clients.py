"""One face for both clients, so every behaviour test runs on ``WorkflowClient`` and on
``AsyncWorkflowClient`` alike: ``Harness("async")`` runs each coroutine to completion on an
event loop of its own; ``Harness("sync")`` calls straight through."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import grpc
import grpc.aio

from clarifai_workflow_predict import AsyncWorkflowClient, WorkflowClient

from .conftest import FAST_RETRY, PAT


class Harness:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.loop = asyncio.new_event_loop() if kind == "async" else None

    @property
    def cls(self) -> type:
        return AsyncWorkflowClient if self.loop else WorkflowClient

    def run(self, value: Any) -> Any:
        """``value``, or what the coroutine ``value`` returns."""
        return self.loop.run_until_complete(value) if self.loop else value

    def client(self, *args: Any, **kwargs: Any) -> Client:
        return Client(self, self.cls(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        """Wait; on the async harness the event loop runs meanwhile, as in a live service."""
        self.run(asyncio.sleep(seconds)) if self.loop else time.sleep(seconds)

    def channel(self, target: str) -> Any:
        """A plaintext channel of the kind this harness's client takes."""
        if not self.loop:
            return grpc.insecure_channel(target)

        async def make() -> grpc.aio.Channel:
            return grpc.aio.insecure_channel(target)

        return self.run(make())

    def close_channel(self, channel: Any) -> None:
        self.run(channel.close())

    def close(self) -> None:
        if self.loop:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


class Client:
    """A client of either kind, called synchronously."""

    def __init__(self, harness: Harness, real: Any) -> None:
        self.harness = harness
        self.real = real

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        return self.harness.run(self.real.predict(*args, **kwargs))

    def predict_request(self, *args: Any, **kwargs: Any) -> Any:
        return self.harness.run(self.real.predict_request(*args, **kwargs))

    def predict_iter(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The results one by one, as the real stream yields them (lazily, for both kinds)."""
        stream = self.real.predict_iter(*args, **kwargs)
        if not self.harness.loop:
            yield from stream
            return
        try:
            while True:
                try:
                    yield self.harness.run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self.harness.run(stream.aclose())

    def with_options(self, **kwargs: Any) -> Client:
        return Client(self.harness, self.real.with_options(**kwargs))

    def close(self) -> None:
        self.harness.run(self.real.close())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self.real)


def client_for(harness: Harness, server: Any, **kwargs: Any) -> Client:
    """A plaintext client of ``harness``'s kind for a test ``server``, with fast retries."""
    kwargs.setdefault("retry", FAST_RETRY)
    return harness.client(PAT, target=server.target, insecure=True, **kwargs)
