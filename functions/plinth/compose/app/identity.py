"""The app's AWS identity: one workload role in the team's account whose policy names only this
app's own resources, reached from the shared clusters through EKS Pod Identity.

The clusters live in the platform's accounts and the workload role in the team's, so Pod
Identity's cross-account form is used: per cluster account a small role that only
pods.eks.amazonaws.com may assume and that may only assume the workload role, and per cluster an
association naming both (`roleArn`, `targetRoleArn`). The External Secrets controller of a
cluster assumes the same workload role for the app's SecretStore, so secrets are read with the
app's own permissions and no more.

Phases: the roles wait for the team's account; an association waits for both roles.
"""

from __future__ import annotations

from typing import Any

from plinth.builders import aws
from plinth.builders.common import ProviderConfigRef
from plinth.compose.app.context import Context, Placement, policy

WORKLOAD_ROLE = "workload-role"
SESSION_ACTIONS = ["sts:AssumeRole", "sts:TagSession"]


def source_role_crn(account_id: str) -> str:
    return f"pod-identity-role-{account_id}"


def association_crn(p: Placement) -> str:
    return f"pod-identity-{p.cluster.name}"


def service_account_crn(p: Placement) -> str:
    return f"serviceaccount-{p.cluster.name}"


def service_account(ctx: Context) -> str:
    return ctx.claim.name


def workload_role_arn(ctx: Context) -> str | None:
    return ctx.role_arn(ctx.aws("iam.Role", "workload")) if ctx.account else None


def source_role_arn(ctx: Context, account_id: str) -> str:
    return ctx.role_arn(ctx.aws("iam.Role", "pod-identity"), account_id)


def _cluster_accounts(ctx: Context) -> dict[str, ProviderConfigRef]:
    found: dict[str, ProviderConfigRef] = {}
    for p in ctx.placements:
        found.setdefault(p.cluster.account_id, ProviderConfigRef(p.cluster.aws_provider_config))
    return found


def build(ctx: Context) -> None:
    accounts = _cluster_accounts(ctx)
    target = workload_role_arn(ctx)
    if target is None:
        ctx.out.wait(WORKLOAD_ROLE, ctx.account_wait)
        for account_id in accounts:
            ctx.out.wait(source_role_crn(account_id), ctx.account_wait)
        for p in ctx.placements:
            ctx.out.wait(association_crn(p), ctx.account_wait)
    else:
        _roles(ctx, accounts, target)
        _associations(ctx, target)
    _service_accounts(ctx)


def _roles(ctx: Context, accounts: dict[str, ProviderConfigRef], target: str) -> None:
    assert ctx.account is not None
    callers = sorted(source_role_arn(ctx, a) for a in accounts)
    callers += sorted(
        {
            p.cluster.external_secrets_role_arn
            for p in ctx.placements
            if p.cluster.external_secrets_role_arn
        }
    )
    trust: list[dict[str, Any]] = []
    if callers:
        # By account root with a condition, not by role ARN: IAM rejects a trust policy that
        # names a role that does not exist yet, and the source roles are created alongside.
        trust.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": sorted({_root(ctx, arn) for arn in callers})},
                "Action": SESSION_ACTIONS,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": callers}},
            }
        )
    body: dict[str, Any] = {
        "assumeRolePolicy": policy(*trust)
        if trust
        else policy({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        "description": f"workload of {ctx.repo_name}: its own buckets, queues, caches, secrets",
        "maxSessionDuration": 3600,
        "tags": ctx.tags(),
    }
    if ctx.statements:
        body["inlinePolicy"] = [{"name": "own-resources", "policy": policy(*ctx.statements)}]
    ctx.out.add(
        WORKLOAD_ROLE,
        aws.resource(
            ctx.claim,
            "iam",
            "Role",
            name=ctx.name(WORKLOAD_ROLE),
            labels=ctx.labels(),
            external_name=ctx.aws("iam.Role", "workload"),
            provider_config=ctx.account.provider_config,
            for_provider=body,
        ),
    )
    for account_id, pc in accounts.items():
        crn = source_role_crn(account_id)
        ctx.out.add(
            crn,
            aws.resource(
                ctx.claim,
                "iam",
                "Role",
                name=ctx.name(crn),
                labels=ctx.labels(),
                external_name=ctx.aws("iam.Role", "pod-identity"),
                provider_config=pc,
                for_provider={
                    "assumeRolePolicy": policy(
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "pods.eks.amazonaws.com"},
                            "Action": SESSION_ACTIONS,
                            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                        }
                    ),
                    "description": f"EKS Pod Identity of {ctx.repo_name}: may only assume its "
                    "workload role in the team's account",
                    "inlinePolicy": [
                        {
                            "name": "assume-workload-role",
                            "policy": policy(
                                {"Effect": "Allow", "Action": SESSION_ACTIONS, "Resource": target}
                            ),
                        }
                    ],
                    "tags": ctx.tags(),
                },
            ),
        )


def _root(ctx: Context, role_arn: str) -> str:
    account_id = role_arn.split(":")[4]
    return f"arn:{ctx.partition}:iam::{account_id}:root"


def _associations(ctx: Context, target: str) -> None:
    for p in ctx.placements:
        crn = association_crn(p)
        source = source_role_crn(p.cluster.account_id)
        if not (ctx.ready(WORKLOAD_ROLE) and ctx.ready(source)):
            ctx.out.wait(crn, "waiting for the workload role and the Pod Identity role")
            continue
        ctx.out.add(
            crn,
            aws.resource(
                ctx.claim,
                "eks",
                "PodIdentityAssociation",
                name=ctx.name(crn),
                labels=ctx.labels(p.environment),
                region=p.cluster.region,
                provider_config=ProviderConfigRef(p.cluster.aws_provider_config),
                for_provider={
                    "clusterName": p.cluster.name,
                    "namespace": p.namespace,
                    "serviceAccount": service_account(ctx),
                    "roleArn": source_role_arn(ctx, p.cluster.account_id),
                    "targetRoleArn": target,
                    "tags": ctx.tags(p.environment),
                },
            ),
        )


def _service_accounts(ctx: Context) -> None:
    for p in ctx.placements:
        crn = service_account_crn(p)
        if not ctx.tenant_ready:
            ctx.out.wait(crn, ctx.tenant_wait)
            continue
        ctx.in_namespace(crn, p, "v1", "ServiceAccount", service_account(ctx))
