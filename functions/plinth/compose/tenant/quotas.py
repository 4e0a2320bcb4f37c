"""ResourceQuota and LimitRange of every namespace, by t-shirt size with overrides."""

from __future__ import annotations

from plinth.api.tenant import QuotaSize
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement, crn
from plinth.compose.tenant.namespaces import namespace_crn, waiting_for

# cpu, memory, pods, storage, persistent volume claims
SIZES: dict[QuotaSize, tuple[str, str, int, str, int]] = {
    QuotaSize.SMALL: ("4", "8Gi", 50, "50Gi", 10),
    QuotaSize.MEDIUM: ("16", "32Gi", 150, "200Gi", 30),
    QuotaSize.LARGE: ("64", "128Gi", 500, "1Ti", 100),
}


def hard(ctx: Context) -> dict[str, str]:
    q = ctx.spec.quota
    cpu, memory, pods, storage, pvcs = SIZES[q.size]
    return {
        "requests.cpu": q.cpu or cpu,
        "requests.memory": q.memory or memory,
        "limits.memory": q.memory or memory,
        "pods": str(q.pods or pods),
        "requests.storage": q.storage or storage,
        "persistentvolumeclaims": str(pvcs),
        # Tenants reach the outside through the shared ingress controller, not their own
        # load balancers or node ports.
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


# Defaults for containers that state no requests or limits: a quota on requests makes
# Kubernetes reject such pods otherwise. No default CPU limit: throttling hurts more than it
# protects on shared nodes.
LIMITS = [
    {
        "type": "Container",
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "default": {"memory": "512Mi"},
    }
]


def build(ctx: Context, placement: Placement, namespace: str) -> None:
    labels = ctx.labels(placement.environment)
    pc = placement.cluster.kubernetes_provider_config
    gate, reason = namespace_crn(placement, namespace), waiting_for(placement, namespace)
    quota = crn("quota", placement, namespace)
    ctx.out.add(
        quota,
        k8s.object_(
            ctx.claim,
            name=ctx.name(quota),
            labels=labels,
            manifest=k8s.resource_quota("tenant-quota", namespace, labels, hard(ctx)),
            provider_config=pc,
        ),
        after=(gate,),
        reason=reason,
    )
    limits = crn("limits", placement, namespace)
    ctx.out.add(
        limits,
        k8s.object_(
            ctx.claim,
            name=ctx.name(limits),
            labels=labels,
            manifest=k8s.limit_range("tenant-limits", namespace, labels, LIMITS),
            provider_config=pc,
        ),
        after=(gate,),
        reason=reason,
    )
