"""`plinth serve`: the function, as Crossplane runs it. Imports the runtime only."""

from __future__ import annotations

from typing import Any

import click
from crossplane.function import cli as sdkcli

from plinth.cli.common import fail
from plinth.runtime.cache import DEFAULT_MAX_BYTES


@click.command(name="serve")
@sdkcli.standard_options
@click.option(
    "--cache-mib",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_BYTES // 2**20,
    show_default=True,
    envvar="PLINTH_CACHE_MIB",
    help="MiB of requests and responses kept to answer identical requests (0 disables).",
)
@click.option(
    "--record",
    metavar="DIR",
    envvar="PLINTH_RECORD",
    help="Write every request and response to DIR, for `plinth replay` and benchmarks.",
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
def serve_cmd(cache_mib: int, record: str | None, **kwargs: Any) -> None:
    """Serve function-plinth over gRPC, as Crossplane runs it.

    \b
    Examples:
      plinth serve --insecure --address 127.0.0.1:9443      # local development
      plinth serve --tls-certs-dir /tls/server               # in a cluster (mTLS)
      plinth serve --insecure --record /tmp/calls            # record traffic to replay
      plinth serve --tls-certs-dir /tls/server --metrics-address :8080 --log-level debug
    """
    from plinth.runtime.server import serve

    if not kwargs.get("insecure") and not kwargs.get("tls_certs_dir"):
        fail("give --tls-certs-dir for mTLS, or --insecure for local development")
    serve(cache_bytes=cache_mib * 1024 * 1024, record=record, **kwargs)
