"""The benchmark server: answers PostWorkflowResults with pre-serialized bytes, in its own process.

It replies with the workload response matching the request's input count, so it costs almost
nothing per call. Call metadata ``x-bench-latency-ms`` adds that much latency. It prints its
port on the first line of stdout and serves until stdin closes.
"""

from __future__ import annotations

import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
from clarifai_grpc.grpc.api.service_pb2 import PostWorkflowResultsRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workload import response_bytes  # noqa: E402


def main() -> None:
    answers = {n: response_bytes(n) for n in (1, 32)}

    def handle(raw: bytes, context: grpc.ServicerContext) -> bytes:
        for key, value in context.invocation_metadata():
            if key == "x-bench-latency-ms":
                time.sleep(int(value) / 1000)
        return answers[1 if len(PostWorkflowResultsRequest.FromString(raw).inputs) <= 1 else 32]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "clarifai.api.V2",
                {"PostWorkflowResults": grpc.unary_unary_rpc_method_handler(handle)},
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop(None)


if __name__ == "__main__":
    main()
