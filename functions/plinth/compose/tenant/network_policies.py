"""NetworkPolicies: default deny in and out first, then the allow rules.

The allow rules (and everything that lets people or Argo CD put workloads in the namespace)
are composed only after the default-deny policy is observed ready, so no namespace ever runs
a pod with traffic open by default: isolation comes first, access second.
"""

from __future__ import annotations

from typing import Any

from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement, crn
from plinth.compose.tenant.namespaces import namespace_crn, waiting_for

NAME_LABEL = "kubernetes.io/metadata.name"
DENY = "default-deny"


def deny_crn(placement: Placement, namespace: str) -> str:
    return crn("netpol", placement, namespace, DENY)


def _in_namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAME_LABEL: name}}}


def policies(ctx: Context, placement: Placement) -> dict[str, dict[str, Any]]:
    """The allow rules by name, in the order a reader reasons about them."""
    out: dict[str, dict[str, Any]] = {
        "allow-same-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            **_in_namespace("kube-system"),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        "allow-from-ingress": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_in_namespace(placement.cluster.ingress_namespace)]}],
        },
    }
    if ctx.spec.egress:
        rules = []
        for e in ctx.spec.egress:
            rule: dict[str, Any] = {"to": [{"ipBlock": {"cidr": e.cidr}}]}
            if e.ports:
                rule["ports"] = [{"protocol": e.protocol, "port": p} for p in e.ports]
            rules.append(rule)
        out["allow-egress"] = {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules}
    return out


def build(ctx: Context, placement: Placement, namespace: str) -> None:
    labels = ctx.labels(placement.environment)
    pc = placement.cluster.kubernetes_provider_config
    deny = deny_crn(placement, namespace)
    ctx.out.add(
        deny,
        k8s.object_(
            ctx.claim,
            name=ctx.name(deny),
            labels=labels,
            manifest=k8s.network_policy(
                DENY,
                namespace,
                labels,
                {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            ),
            provider_config=pc,
        ),
        after=(namespace_crn(placement, namespace),),
        reason=waiting_for(placement, namespace),
    )
    reason = (
        f"waiting for the default-deny NetworkPolicy in {namespace} on "
        f"{placement.cluster.name} before allowing any traffic"
    )
    for policy, spec in policies(ctx, placement).items():
        name = crn("netpol", placement, namespace, policy)
        ctx.out.add(
            name,
            k8s.object_(
                ctx.claim,
                name=ctx.name(name),
                labels=labels,
                manifest=k8s.network_policy(policy, namespace, labels, spec),
                provider_config=pc,
            ),
            after=(deny,),
            reason=reason,
        )
