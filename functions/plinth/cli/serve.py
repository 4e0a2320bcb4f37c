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
@click.option(
    "--metrics-address",
    default="",
    envvar="PLINTH_METRICS_ADDRESS",
    help="Serve Prometheus metrics at HOST:PORT/metrics (:8080 is the port Crossplane's "
    "function Deployment names `metrics`); off when empty, the default.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    envvar="PLINTH_LOG_LEVEL",
    help="JSON log lines at this level and above (--debug is --log-level debug).",
)
def serve_cmd(cache_size: int, **kwargs: Any) -> None:
    """Serve function-plinth over gRPC, as Crossplane runs it.

    \b
    Examples:
      plinth serve --insecure --address 127.0.0.1:9443      # local development
      plinth serve --tls-certs-dir /tls/server               # in a cluster (mTLS)
      plinth serve --tls-certs-dir /tls/server --metrics-address :8080 --log-level debug
    """
    from plinth.runtime.server import serve

    if not kwargs.get("insecure") and not kwargs.get("tls_certs_dir"):
        fail("give --tls-certs-dir for mTLS, or --insecure for local development")
    serve(cache_size=cache_size, **kwargs)
