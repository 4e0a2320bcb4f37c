"""Dedicated capacity: a Karpenter NodePool and EC2NodeClass of the tenant's own on each cluster
of an environment that asks for one (TenantClaim environments[].capacity).

The pool's nodes carry the label and the NoSchedule taint `plinth.dev/dedicated=<team>`. The
tenant's pods get there by a Kyverno mutation in the tenant's namespaces (guardrails.py adds
the node selector and the toleration), and only the tenant's pods do: the taint repels every
other pod, and a validation policy refuses the toleration anywhere but in the tenant's own
namespaces (guardrails.py). Names are `<team>-dedicated`, derived from the team only.

The namespaces' ResourceQuota still applies on a dedicated pool: the quota is the team's
budget in each namespace, the pool's limits are the most nodes it may launch. A team moving
its workloads onto a pool sizes both (docs/tenant.md#dedicated-capacity).
"""

from __future__ import annotations

import re
from decimal import Decimal

from plinth.api.tenant import Architecture, DedicatedCapacity
from plinth.builders import karpenter
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement
from plinth.core.labels import TEAM
from plinth.core.tenancy import Refused

DEDICATED = "plinth.dev/dedicated"
EXPIRE_AFTER = "720h"

_SUFFIXES: dict[str, Decimal | int] = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
# Graviton families: a digit then 'g' (m7g, c7gn, r8g, im4gn).
_GRAVITON = re.compile(r"^[a-z]+[0-9]+g")


def quantity(value: str) -> Decimal:
    """A Kubernetes quantity (the subset the models accept) as a number."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)", value)
    if not m or m.group(2) not in _SUFFIXES:
        raise ValueError(f"not a quantity: {value!r}")
    return Decimal(m.group(1)) * Decimal(_SUFFIXES[m.group(2)])


def pool_name(ctx: Context) -> str:
    """`<team>-dedicated`: NodePools and EC2NodeClasses are cluster-scoped and shared."""
    return ctx.claim.shared_name("dedicated")


def capacity_of(ctx: Context, placement: Placement) -> DedicatedCapacity | None:
    for env in ctx.spec.environments:
        if env.name is placement.environment:
            return env.capacity
    return None


def has_pool(ctx: Context, placement: Placement) -> bool:
    """The tenant has a dedicated pool on this cluster (asked for, and Karpenter is there)."""
    return capacity_of(ctx, placement) is not None and placement.cluster.karpenter is not None


def nodepool_crn(placement: Placement) -> str:
    return f"nodepool-{placement.cluster.name}"


def nodeclass_crn(placement: Placement) -> str:
    return f"nodeclass-{placement.cluster.name}"


def check(ctx: Context) -> None:
    """Refused unless every pool stays within what the platform allows."""
    limits = ctx.claim.platform.capacity
    for env in ctx.spec.environments:
        cap = env.capacity
        if cap is None:
            continue
        where = f"environments[{env.name.value}].capacity"
        for what, asked, allowed in (
            ("instanceFamilies", cap.instance_families, limits.instance_families),
            ("instanceSizes", cap.instance_sizes, limits.instance_sizes),
        ):
            extra = sorted(set(asked) - set(allowed))
            if extra:
                raise Refused(
                    f"{where}.{what}: {', '.join(extra)} not allowed by the platform "
                    f"(allowed: {', '.join(allowed)})"
                )
        for what, asked_q, most in (
            ("cpu", cap.cpu, limits.max_cpu),
            ("memory", cap.memory, limits.max_memory),
        ):
            if quantity(asked_q) > quantity(most):
                raise Refused(f"{where}.{what}: {asked_q} is above the platform's limit {most}")


def families(ctx: Context, cap: DedicatedCapacity) -> list[str]:
    return list(cap.instance_families or ctx.claim.platform.capacity.instance_families)


def sizes(ctx: Context, cap: DedicatedCapacity) -> list[str]:
    return list(cap.instance_sizes or ctx.claim.platform.capacity.instance_sizes)


def _warn_architectures(ctx: Context, placement: Placement, cap: DedicatedCapacity) -> None:
    chosen = families(ctx, cap)
    graviton = [f for f in chosen if _GRAVITON.match(f)]
    for arch, found in (
        (Architecture.ARM64, bool(graviton)),
        (Architecture.AMD64, len(graviton) < len(chosen)),
    ):
        if arch in cap.architectures and not found:
            ctx.out.warnings.append(
                f"environments[{placement.environment.value}].capacity: no instance family "
                f"for {arch.value} among {', '.join(chosen)}; the pool launches none for it"
            )


def build(ctx: Context, placement: Placement) -> None:
    cap = capacity_of(ctx, placement)
    if cap is None:
        return
    kp = placement.cluster.karpenter
    if kp is None:
        ctx.out.warnings.append(
            f"environments[{placement.environment.value}].capacity: cluster "
            f"{placement.cluster.name} has no Karpenter (platform config); the tenant's pods "
            "there run on the shared nodes"
        )
        # A pool that exists stays as it is: dropping it would drain the tenant's nodes
        # because of an edit to the platform config.
        for crn in (nodeclass_crn(placement), nodepool_crn(placement)):
            if crn in ctx.observed:
                ctx.out.wait(crn, f"cluster {placement.cluster.name} lost its Karpenter config")
        return
    _warn_architectures(ctx, placement, cap)
    labels = ctx.labels(placement.environment)
    pc = placement.cluster.kubernetes_provider_config
    name = pool_name(ctx)
    platform_tags = dict(ctx.claim.platform.tags)
    node_class = karpenter.ec2_node_class(
        name,
        labels=labels,
        role=kp.node_role,
        ami_alias=kp.ami_alias,
        subnet_tags=kp.subnet_selector,
        security_group_tags=kp.security_group_selector,
        tags={**platform_tags, "managed-by": "plinth", TEAM: ctx.team, DEDICATED: ctx.team},
    )
    pool = karpenter.node_pool(
        name,
        labels=labels,
        node_class=name,
        node_labels={DEDICATED: ctx.team, TEAM: ctx.team},
        taints=[{"key": DEDICATED, "value": ctx.team, "effect": "NoSchedule"}],
        requirements=[
            karpenter.requirement(karpenter.CAPACITY_TYPE, [t.value for t in cap.capacity_types]),
            karpenter.requirement(karpenter.ARCH, [a.value for a in cap.architectures]),
            karpenter.requirement(karpenter.OS, ["linux"]),
            karpenter.requirement(karpenter.INSTANCE_FAMILY, families(ctx, cap)),
            karpenter.requirement(karpenter.INSTANCE_SIZE, sizes(ctx, cap)),
        ],
        limits={"cpu": cap.cpu, "memory": cap.memory},
        disruption={
            "consolidationPolicy": cap.consolidation.value,
            "consolidateAfter": cap.consolidate_after,
            "budgets": [{"nodes": cap.disruption_budget}],
        },
        expire_after=EXPIRE_AFTER,
    )
    for crn, manifest in ((nodeclass_crn(placement), node_class), (nodepool_crn(placement), pool)):
        ctx.out.add(
            crn,
            k8s.object_(
                ctx.claim,
                name=ctx.name(crn),
                labels=labels,
                manifest=manifest,
                provider_config=pc,
                # Both report Ready once Karpenter resolved them (subnets, AMIs, the class).
                readiness=k8s.Readiness.DERIVE_FROM_OBJECT,
            ),
        )
