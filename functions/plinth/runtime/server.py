"""Serving function-plinth over gRPC with the SDK's runtime."""

from __future__ import annotations

from crossplane.function import logging as sdklogging
from crossplane.function import runtime

from plinth.runtime.function import FunctionRunner


def serve(
    *,
    address: str,
    tls_certs_dir: str | None,
    insecure: bool,
    debug: bool = False,
    max_recv_message_size: int = 4,
    max_send_message_size: int | None = None,
    cache_size: int = 256,
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
    runtime.serve(
        FunctionRunner(cache_size=cache_size),
        address,
        # The SDK accepts None with insecure=True; its annotation says otherwise.
        creds=runtime.load_credentials(tls_certs_dir) if tls_certs_dir else None,  # type: ignore[arg-type]
        insecure=insecure,
        options=options,
    )
