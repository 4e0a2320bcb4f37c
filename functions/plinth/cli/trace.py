"""`plinth trace`: a claim, what it composed, and what holds it back, on a live cluster."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

import click

from plinth.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, fail, needs_tools

if TYPE_CHECKING:
    from plinth.tools.trace import Kubectl, Trace


def parse_claim(args: tuple[str, ...]) -> tuple[str, str]:
    """KIND/NAME or KIND NAME, as kubectl takes them."""
    if len(args) == 1 and "/" in args[0]:
        kind, _, name = args[0].partition("/")
    elif len(args) == 2:
        kind, name = args
    else:
        fail("give the claim as KIND/NAME or KIND NAME, e.g. tenantclaim/payments")
    if not kind or not name:
        fail("give the claim as KIND/NAME or KIND NAME, e.g. tenantclaim/payments")
    return kind, name


@click.command(name="trace")
@click.argument("claim", nargs=-1, required=True, metavar="KIND/NAME | KIND NAME")
@click.option(
    "-n", "--namespace", help="The claim's namespace. Default: the context's, else default."
)
@click.option("--kubeconfig", help="As kubectl's (default: $KUBECONFIG, ~/.kube/config).")
@click.option("--context", help="The kubeconfig context to use.")
@click.option(
    "-f",
    "--filename",
    help="Trace from recorded objects instead of a cluster: a YAML or JSON file (a List, as "
    "`kubectl get -o yaml` prints) with the claim, its composite and what it composed.",
)
@click.option(
    "-o", "--output", type=click.Choice(["text", "yaml", "json"]), default="text", show_default=True
)
@click.option("-w", "--watch", is_flag=True, help="Keep watching; print again when it changes.")
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Seconds between --watch polls."
)
@needs_tools
def trace_cmd(
    claim: tuple[str, ...],
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    filename: str | None,
    output: str,
    watch: bool,
    interval: float,
) -> None:
    """Trace a claim: its phase and conditions, every resource it composed with its Synced and
    Ready conditions, and the one thing holding it back, why, and what to do next.

    The causes it names: a Fatal result from the function (an invalid claim), a claim refused
    for reaching into another team's, Crossplane's XR watch circuit breaker, an unhealthy
    function or provider, waiting on an account or a tenant, a composed resource that cannot
    be synced, missing or not ready yet.

    Reads the cluster with kubectl (which must be on PATH), with kubectl's kubeconfig habits.

    \b
    Examples:
      plinth trace tenantclaim/payments -n payments
      plinth trace appclaim checkout -n payments -o yaml
      plinth trace tenantclaims.claims.plinth.dev/search -n search   # the legacy flavor's
      plinth trace accountclaim/payments-dev -n payments --watch
      plinth trace tenantclaim/payments -n payments -f recorded.yaml # offline
    """
    from plinth.tools.trace import (
        Kubectl,
        TraceError,
        build_trace,
        claim_kind,
        format_text,
        read_objects,
    )
    from plinth.tools.trace import watch as watch_trace

    kind, name = parse_claim(claim)
    try:
        claim_kind(kind)
    except TraceError as e:
        fail(str(e))
    kube = Kubectl(kubeconfig, context)
    ns = namespace or (_context_namespace(kube) if not filename else None) or "default"

    def read() -> Trace:
        try:
            if filename:
                return build_trace(recorded_objects(filename), kind, ns, name)
            return build_trace(read_objects(kube, kind, ns, name), kind, ns, name)
        except TraceError as e:
            fail(str(e), EXIT_BAD_INPUT if "not found" in str(e) else EXIT_FAILED)

    def emit(t: Trace) -> None:
        if output == "json":
            click.echo(json.dumps(t.to_dict(), indent=2))
        elif output == "yaml":
            import yaml

            click.echo("---\n" + yaml.safe_dump(t.to_dict(), sort_keys=False), nl=False)
        else:
            click.echo(format_text(t), nl=False)
        sys.stdout.flush()

    if not watch:
        emit(read())
        return
    with contextlib.suppress(KeyboardInterrupt):
        watch_trace(read, emit, interval=interval)


def recorded_objects(filename: str) -> list[dict[str, Any]]:
    from plinth.tools.yamlio import InputError, read_path

    try:
        docs = read_path(filename)
    except InputError as e:
        fail(str(e))
    out: list[dict[str, Any]] = []
    for d in docs:
        if str(d.body.get("kind", "")).endswith("List"):
            out += [i for i in d.body.get("items") or [] if isinstance(i, dict)]
        else:
            out.append(d.body)
    return out


def _context_namespace(kube: Kubectl) -> str | None:
    """The current context's namespace, as kubectl defaults to it."""
    import subprocess

    args = kube.args
    try:
        r = subprocess.run(
            ["kubectl", *args, "config", "view", "--minify", "-o", "jsonpath={..namespace}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None
