"""Human access: an IAM role per access level in the team's account, and on every cluster an
EKS AccessEntry for it with a namespace-scoped AccessPolicyAssociation.

Phases: the roles wait for the team's account; an access entry waits for its role, an
association for its entry (EKS rejects an entry for a principal that does not exist yet).
"""

from __future__ import annotations

import json
from typing import Any

from plinth.api.tenant import MemberRole
from plinth.builders import aws
from plinth.builders.common import ProviderConfigRef
from plinth.compose.tenant.context import Context, Placement
from plinth.compose.tenant.rbac import group_of
from plinth.core.labels import aws_tags
from plinth.core.naming import aws_name

POLICIES = {
    MemberRole.ADMIN: "AmazonEKSAdminPolicy",
    MemberRole.EDIT: "AmazonEKSEditPolicy",
    MemberRole.VIEW: "AmazonEKSViewPolicy",
}


def role_crn(level: MemberRole) -> str:
    return f"role-{level.value}"


def entry_crn(placement: Placement, level: MemberRole) -> str:
    return f"access-entry-{placement.cluster.name}-{level.value}"


def association_crn(placement: Placement, level: MemberRole) -> str:
    return f"access-policy-{placement.cluster.name}-{level.value}"


def role_name(ctx: Context, level: MemberRole) -> str:
    return aws_name("iam.Role", "plinth", ctx.team, level.value)


def trust_policy(ctx: Context, level: MemberRole, account_id: str) -> dict[str, Any]:
    members = [m for m in ctx.spec.members if m.role == level]
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    root = f"arn:{ctx.partition}:iam::{account_id}:root"
    statements: list[dict[str, Any]] = []
    roles = sorted(m.role_arn for m in members if m.role_arn)
    if roles:
        statements.append({"Effect": "Allow", "Principal": {"AWS": roles}, "Action": actions})
    sets = sorted(m.permission_set for m in members if m.permission_set)
    if sets:
        # Identity Center signs a group's members in with a role named after the permission
        # set; its path and suffix are generated, so match them with wildcards.
        arns = [
            f"arn:{ctx.partition}:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/*"
            f"AWSReservedSSO_{s}_*"
            for s in sets
        ]
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": actions,
                "Condition": {"ArnLike": {"aws:PrincipalArn": arns}},
            }
        )
    if not members:
        # No members listed: the team's own account decides who may assume its edit role.
        statements.append({"Effect": "Allow", "Principal": {"AWS": root}, "Action": actions})
    return {"Version": "2012-10-17", "Statement": statements}


def role_arns(ctx: Context) -> dict[MemberRole, str]:
    if ctx.account is None:
        return {}
    return {lvl: ctx.account.role_arn(ctx.partition, role_name(ctx, lvl)) for lvl in ctx.levels}


def build(ctx: Context) -> None:
    labels = ctx.labels()
    tags = aws_tags(ctx.claim, labels)
    arns = role_arns(ctx)
    for level in ctx.levels:
        crn = role_crn(level)
        if ctx.account is None:
            ctx.out.wait(crn, ctx.account_wait or "waiting for the team's account")
            continue
        ctx.out.add(
            crn,
            aws.resource(
                ctx.claim,
                "iam",
                "Role",
                name=ctx.name(crn),
                labels=labels,
                external_name=role_name(ctx, level),
                provider_config=ctx.account.provider_config,
                for_provider={
                    "assumeRolePolicy": json.dumps(
                        trust_policy(ctx, level, ctx.account.id), sort_keys=True
                    ),
                    "description": f"{level.value} access to the namespaces of tenant "
                    f"{ctx.team} on the shared EKS clusters",
                    "maxSessionDuration": 3600 * 4,
                    "tags": tags,
                },
            ),
        )
    for p in ctx.placements:
        pc = ProviderConfigRef(p.cluster.aws_provider_config)
        for level in ctx.levels:
            entry = entry_crn(p, level)
            assoc = association_crn(p, level)
            if level not in arns:
                reason = ctx.account_wait or "waiting for the team's account"
                ctx.out.wait(entry, reason)
                ctx.out.wait(assoc, reason)
                continue
            if not ctx.observed.ready(role_crn(level)):
                reason = f"waiting for the IAM role {role_name(ctx, level)} before granting access"
                ctx.out.wait(entry, reason)
                ctx.out.wait(assoc, reason)
                continue
            ctx.out.add(
                entry,
                aws.resource(
                    ctx.claim,
                    "eks",
                    "AccessEntry",
                    name=ctx.name(entry),
                    labels=labels,
                    region=p.cluster.region,
                    provider_config=pc,
                    for_provider={
                        "clusterName": p.cluster.name,
                        "principalArn": arns[level],
                        "kubernetesGroups": [group_of(ctx.team, level)],
                        "type": "STANDARD",
                        "tags": tags,
                    },
                ),
            )
            if not ctx.observed.ready(entry):
                ctx.out.wait(assoc, f"waiting for the EKS access entry on {p.cluster.name}")
                continue
            ctx.out.add(
                assoc,
                aws.resource(
                    ctx.claim,
                    "eks",
                    "AccessPolicyAssociation",
                    name=ctx.name(assoc),
                    labels=labels,
                    region=p.cluster.region,
                    provider_config=pc,
                    for_provider={
                        "clusterName": p.cluster.name,
                        "principalArn": arns[level],
                        "policyArn": f"arn:{ctx.partition}:eks::aws:cluster-access-policy/"
                        f"{POLICIES[level]}",
                        # Namespace-scoped: never the whole cluster.
                        "accessScope": {"type": "namespace", "namespaces": list(p.namespaces)},
                    },
                ),
            )


def commands(ctx: Context, placement: Placement, level: MemberRole, arn: str) -> list[str]:
    """What a developer runs to reach the tenant's namespaces on one cluster.

    Not `aws eks update-kubeconfig`: it calls DescribeCluster as the tenant's role, which lives
    in the team's account and cannot describe a cluster in the platform's account. The
    endpoint and CA come from the platform config instead; `aws eks get-token` only presigns an
    STS call, so it works across accounts.
    """
    cluster = placement.cluster
    if cluster.endpoint is None or cluster.certificate_authority_data is None:
        return []
    context = f"{ctx.team}-{level.value}@{cluster.name}"
    token_args = ",".join(
        (
            "eks",
            "get-token",
            "--cluster-name",
            cluster.name,
            "--region",
            cluster.region,
            "--role-arn",
            arn,
        )
    )
    return [
        f"kubectl config set-cluster {cluster.name} --server={cluster.endpoint}",
        f"kubectl config set clusters.{cluster.name}.certificate-authority-data "
        f"{cluster.certificate_authority_data}",
        f"kubectl config set-credentials {context} "
        "--exec-api-version=client.authentication.k8s.io/v1beta1 --exec-command=aws "
        f"--exec-arg={token_args}",
        f"kubectl config set-context {context} --cluster={cluster.name} --user={context} "
        f"--namespace={placement.namespaces[0]}",
        f"kubectl config use-context {context}",
    ]


def missing_endpoints(ctx: Context) -> list[str]:
    """Clusters whose access commands cannot be written: the platform lacks their endpoint."""
    return sorted(
        {
            p.cluster.name
            for p in ctx.placements
            if p.cluster.endpoint is None or p.cluster.certificate_authority_data is None
        }
    )
