"""The optional wildcard certificate for the team's domain, in every namespace.

A Secret is readable only in its own namespace, so each namespace gets its own Certificate.
cert-manager reports a Ready condition, so the Object derives its readiness from it and the
claim is not Ready until the certificate is issued.
"""

from __future__ import annotations

from plinth.builders import certmanager
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement, crn
from plinth.compose.tenant.namespaces import namespace_crn, waiting_for


def build(ctx: Context, placement: Placement, namespace: str) -> None:
    cert = ctx.spec.certificate
    if cert is None:
        return
    labels = ctx.labels(placement.environment)
    name = crn("certificate", placement, namespace)
    ctx.out.add(
        name,
        k8s.object_(
            ctx.claim,
            name=ctx.name(name),
            labels=labels,
            readiness=k8s.Readiness.DERIVE_FROM_OBJECT,
            manifest=certmanager.certificate(
                "wildcard",
                namespace=namespace,
                labels=labels,
                dns_names=[cert.domain, f"*.{cert.domain}"],
                secret_name="wildcard-tls",
                cluster_issuer=placement.cluster.cluster_issuer,
            ),
            provider_config=placement.cluster.kubernetes_provider_config,
        ),
        after=(namespace_crn(placement, namespace),),
        reason=waiting_for(placement, namespace),
    )
