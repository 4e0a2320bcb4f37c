"""`plinth access`: the commands a developer runs to reach a tenant's namespaces.

They come from the TenantClaim's status, read from a rendered file (`plinth render` output) or,
when the `kubernetes` package is installed, from the live management cluster.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from plinth.api.catalog import TENANT
from plinth.api.flavor import FLAVORS, Flavor
from plinth.cli.common import needs_tools

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def from_documents(docs: list[dict[str, Any]], name: str | None) -> list[dict[str, Any]]:
    """The tenant claims (or XTenants) among `docs`, optionally only the one named `name`."""
    return [
        d
        for d in docs
        if d.get("kind") in (TENANT.kind, TENANT.legacy_xr_kind)
        and (name is None or (d.get("metadata") or {}).get("name") == name)
    ]


def from_cluster(name: str, namespace: str) -> dict[str, Any]:
    """The live TenantClaim, from whichever flavor's group serves it."""
    try:
        from kubernetes import client, config  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from kubernetes.client.rest import ApiException  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise click.UsageError(
            "reading a live cluster needs the kubernetes package (pip install kubernetes); "
            "or pass -f with `plinth render` output"
        ) from None
    config.load_kube_config()
    api = client.CustomObjectsApi()
    for flavor in (Flavor.V2, Flavor.LEGACY):
        try:
            obj: dict[str, Any] = api.get_namespaced_custom_object(
                FLAVORS[flavor].group, "v1alpha1", namespace, TENANT.plural, name
            )
            return obj
        except ApiException as e:
            if e.status != 404:
                raise
    raise click.UsageError(f"TenantClaim {namespace}/{name} not found")


def lines(
    tenant: dict[str, Any], environment: str | None = None, role: str | None = None
) -> list[str]:
    """The access commands of one tenant, grouped by environment and cluster."""
    status = tenant.get("status") or {}
    out: list[str] = []
    for c in status.get("clusters") or []:
        if environment and c.get("environment") != environment:
            continue
        for a in c.get("access") or []:
            if role and a.get("role") != role:
                continue
            out.append(
                f"# {c['environment']} / {c['cluster']} ({c['region']}), {a['role']}: "
                f"namespaces {', '.join(c.get('namespaces') or [])}"
            )
            out.extend(a.get("commands") or [])
            out.append("")
    return out


@click.command(name="access")
@click.argument("name", required=False)
@click.option("-f", "--filename", help="Rendered status (plinth render output), or - for stdin.")
@click.option("-n", "--namespace", default="default", show_default=True, help="Claim namespace.")
@click.option("--environment", type=click.Choice(["dev", "staging", "prod"]), help="Only this one.")
@click.option("--role", type=click.Choice(["admin", "edit", "view"]), help="Only this level.")
@needs_tools
def access_cmd(
    name: str | None,
    filename: str | None,
    namespace: str,
    environment: str | None,
    role: str | None,
) -> None:
    """Print the commands that give you access to a tenant's namespaces.

    \b
    Examples:
      plinth render examples/tenant-search.yaml | plinth access -f -
      plinth access search -n search --environment prod --role edit   # live cluster
    """
    if filename:
        from plinth.tools.yamlio import InputError, read_paths

        try:
            docs = [d.body for d in read_paths([filename])]
        except InputError as e:
            _fail(str(e))
            return
        tenants = from_documents(docs, name)
        if not tenants:
            _fail(f"no TenantClaim{' ' + repr(name) if name else ''} in {filename}")
    elif name:
        tenants = [from_cluster(name, namespace)]
    else:
        raise click.UsageError("give a TenantClaim name, or -f with rendered output")
    printed = False
    for t in tenants:
        text = lines(t, environment, role)
        if not text:
            msg = (t.get("status") or {}).get("message") or "no access granted yet"
            click.echo(f"# {(t.get('metadata') or {}).get('name')}: {msg}", err=True)
            continue
        printed = True
        click.echo("\n".join(text).rstrip())
    if not printed:
        sys.exit(EXIT_FAILED)
