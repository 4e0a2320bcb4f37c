"""The tenant's Namespaces, labelled for the tenant and for Pod Security Admission."""

from __future__ import annotations

from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement, crn

PSA = "pod-security.kubernetes.io"


def namespace_crn(placement: Placement, namespace: str) -> str:
    return crn("namespace", placement, namespace)


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
