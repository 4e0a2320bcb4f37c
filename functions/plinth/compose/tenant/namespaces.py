"""The tenant's Namespaces, labelled for the tenant and for Pod Security Admission, and what
keeps the prod ones when the claim is deleted or an edit would drop one (protect: the rules are
plinth.core.protection's, the table docs/deletion.md)."""

from __future__ import annotations

from plinth.api.base import Environment
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement, crn
from plinth.core import protection

PSA = "pod-security.kubernetes.io"


def namespace_crn(placement: Placement, namespace: str) -> str:
    return crn("namespace", placement, namespace)


def waiting_for(placement: Placement, namespace: str) -> str:
    """Why what lives in a namespace waits for it: created before its namespace exists, an
    Object fails, and provider-kubernetes retries it with a doubling backoff (a write and a
    watch event each time)."""
    return f"waiting for the namespace {namespace} on {placement.cluster.name}"


def build(ctx: Context, placement: Placement, namespace: str) -> None:
    labels = ctx.labels(placement.environment)
    ns_labels = {
        **labels,
        f"{PSA}/enforce": ctx.spec.pod_security.value,
        f"{PSA}/enforce-version": "latest",
        # Always warn and audit at restricted, so a baseline opt-out shows what is left to fix.
        f"{PSA}/warn": "restricted",
        f"{PSA}/audit": "restricted",
    }
    name = namespace_crn(placement, namespace)
    ctx.out.add(
        name,
        k8s.object_(
            ctx.claim,
            name=ctx.name(name),
            labels=labels,
            manifest=k8s.namespace(namespace, ns_labels),
            provider_config=placement.cluster.kubernetes_provider_config,
        ),
    )


def protect(ctx: Context) -> None:
    """Once every namespace is planned: prod namespaces, with the policies that keep what runs
    in them isolated and reachable, outlive the claim; an edit that would delete one (removing
    prod or one of its namespaces, moving it to another cluster) is refused."""
    with_prod = any(e.name is Environment.PROD for e in ctx.spec.environments)
    protection.protect(ctx.out, on=ctx.spec.deletion_protection, with_prod=with_prod)
