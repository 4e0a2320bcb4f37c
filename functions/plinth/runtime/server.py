"""Serving function-plinth over gRPC: the SDK's runtime, with the v1 method on raw bytes."""

from __future__ import annotations

import asyncio
import gc
import signal
from pathlib import Path
from typing import Any

import grpc
from crossplane.function import logging as sdklogging
from crossplane.function import runtime
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1
from grpc_reflection.v1alpha import reflection

from plinth.runtime.cache import DEFAULT_MAX_BYTES
from plinth.runtime.function import FunctionRunner

V1_SERVICE = fnv1.DESCRIPTOR.services_by_name["FunctionRunnerService"].full_name


def raw_v1_handler(runner: FunctionRunner) -> grpc.GenericRpcHandler:  # type: ignore[type-arg]
    """RunFunction (v1) with the request and response as bytes: a cache hit neither parses
    the request nor serializes the response, and the cache key is the bytes Crossplane sent."""

    async def run(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return runner.run_bytes(request)

    return grpc.method_handlers_generic_handler(
        V1_SERVICE, {"RunFunction": grpc.unary_unary_rpc_method_handler(run)}
    )


def serve(
    *,
    address: str,
    tls_certs_dir: str | None,
    insecure: bool,
    debug: bool = False,
    max_recv_message_size: int = 4,
    max_send_message_size: int | None = None,
    cache_bytes: int = DEFAULT_MAX_BYTES,
    record: str | None = None,
) -> None:
    sdklogging.configure(level=sdklogging.Level.DEBUG if debug else sdklogging.Level.INFO)
    send = max_send_message_size or max_recv_message_size
    options = [
        ("grpc.max_receive_message_length", max_recv_message_size * 1024 * 1024),
        ("grpc.max_send_message_length", send * 1024 * 1024),
        # gRPC enables SO_REUSEPORT by default, which lets a second server silently share a
        # port with the first; a port conflict must be an error instead.
        ("grpc.so_reuseport", 0),
    ]
    if not insecure and not tls_certs_dir:
        raise ValueError("no credentials: give tls_certs_dir, or insecure=True")
    recorder = None
    if record:
        from plinth.runtime.record import Recorder

        recorder = Recorder(Path(record))
    runner = FunctionRunner(cache_bytes=cache_bytes, recorder=recorder)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((raw_v1_handler(runner),))
    # Crossplane before v1.17 calls v1beta1; the SDK's adapter converts its messages.
    grpcv1beta1.add_FunctionRunnerServiceServicer_to_server(  # type: ignore[no-untyped-call]
        runtime.BetaFunctionRunner(wrapped=runner), server
    )
    reflection.enable_server_reflection(runtime.SERVICE_NAMES, server)
    # As the SDK: --insecure wins over certificates.
    if insecure:
        server.add_insecure_port(address)
    else:
        server.add_secure_port(address, runtime.load_credentials(str(tls_certs_dir)))
    loop.add_signal_handler(
        signal.SIGTERM,
        lambda: asyncio.ensure_future(server.stop(grace=runtime.SHUTDOWN_GRACE_PERIOD_SECONDS)),
    )

    async def start() -> None:
        await server.start()
        # Everything imported and built so far (modules, models, schemas) lives as long as
        # the process: move it out of the collector's generations, so a collection on the hot
        # path walks only what requests allocate (no multi-millisecond pauses at p99).
        gc.collect()
        gc.freeze()
        await server.wait_for_termination()

    try:
        loop.run_until_complete(start())
    finally:
        loop.run_until_complete(server.stop(grace=runtime.SHUTDOWN_GRACE_PERIOD_SECONDS))
        loop.close()
