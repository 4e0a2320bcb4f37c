"""`plinth serve`: the function, as Crossplane runs it. Imports the runtime only."""

from __future__ import annotations

from typing import Any

import click
from crossplane.function import cli as sdkcli

from plinth.cli.common import fail


@click.command(name="serve")
@sdkcli.standard_options
@click.option(
    "--cache-size",
    type=int,
    default=256,
    show_default=True,
    envvar="PLINTH_CACHE_SIZE",
    help="Responses kept for identical requests (0 disables).",
)
def serve_cmd(cache_size: int, **kwargs: Any) -> None:
    """Serve function-plinth over gRPC, as Crossplane runs it.

    \b
    Examples:
      plinth serve --insecure --address 127.0.0.1:9443      # local development
      plinth serve --tls-certs-dir /tls/server               # in a cluster (mTLS)
    """
    from plinth.runtime.server import serve

    if not kwargs.get("insecure") and not kwargs.get("tls_certs_dir"):
        fail("give --tls-certs-dir for mTLS, or --insecure for local development")
    serve(cache_size=cache_size, **kwargs)
