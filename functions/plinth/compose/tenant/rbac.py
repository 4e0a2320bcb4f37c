"""RoleBindings of the members' groups to admin/edit/view, and the deployer ServiceAccount.

Every binding is a RoleBinding inside one of the tenant's namespaces: a ClusterRole bound by a
RoleBinding grants nothing outside that namespace. Like the allow rules, they wait for the
namespace's default-deny NetworkPolicy.
"""

from __future__ import annotations

from plinth.api.tenant import MemberRole
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context, Placement, crn
from plinth.compose.tenant.network_policies import deny_crn

DEPLOYER = "deployer"


def group_of(team: str, level: MemberRole) -> str:
    """The Kubernetes group the tenant's EKS access entry for `level` puts its sessions in."""
    return f"plinth:{team}:{level.value}"


def build(ctx: Context, placement: Placement, namespace: str) -> None:
    labels = ctx.labels(placement.environment)
    pc = placement.cluster.kubernetes_provider_config
    gate = deny_crn(placement, namespace)
    reason = (
        f"waiting for the default-deny NetworkPolicy in {namespace} on "
        f"{placement.cluster.name} before granting access"
    )
    for level in ctx.levels:
        name = crn("rolebinding", placement, namespace, level.value)
        ctx.out.add(
            name,
            k8s.object_(
                ctx.claim,
                name=ctx.name(name),
                labels=labels,
                manifest=k8s.role_binding(
                    f"plinth-{level.value}",
                    namespace,
                    labels,
                    cluster_role=level.value,
                    subjects=[k8s.group_subject(group_of(ctx.team, level))],
                ),
                provider_config=pc,
            ),
            after=(gate,),
            reason=reason,
        )
    sa = crn("serviceaccount", placement, namespace, DEPLOYER)
    ctx.out.add(
        sa,
        k8s.object_(
            ctx.claim,
            name=ctx.name(sa),
            labels=labels,
            manifest=k8s.service_account(DEPLOYER, namespace, labels),
            provider_config=pc,
        ),
        after=(gate,),
        reason=reason,
    )
    binding = crn("rolebinding", placement, namespace, DEPLOYER)
    ctx.out.add(
        binding,
        k8s.object_(
            ctx.claim,
            name=ctx.name(binding),
            labels=labels,
            manifest=k8s.role_binding(
                DEPLOYER,
                namespace,
                labels,
                cluster_role="edit",
                subjects=[k8s.service_account_subject(DEPLOYER, namespace)],
            ),
            provider_config=pc,
        ),
        after=(gate,),
        reason=reason,
    )
