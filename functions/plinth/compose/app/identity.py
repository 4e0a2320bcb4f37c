"""The app's AWS identity: in each account its environments use, one workload role whose policy
names only this app's own resources there, reached from the shared clusters through EKS Pod
Identity.

The clusters live in the platform's accounts and the workload role in the team's, so Pod
Identity's cross-account form is used: per cluster account a small role that only
pods.eks.amazonaws.com may assume and that may only assume the workload role, and per cluster an
association naming both (`roleArn`, `targetRoleArn`). The External Secrets controller of a
cluster assumes the same workload role for the app's SecretStore, so secrets are read with the
app's own permissions and no more.

Phases: the roles wait for their account; an association waits for both roles.
"""

from __future__ import annotations

from typing import Any

from plinth.api.base import Environment
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


def workload_role_crn(ctx: Context, env: Environment) -> str:
    """One workload role per account the app's environments use (the home account's keeps its
    name of old)."""
    return WORKLOAD_ROLE + ctx.suffix(env)


def workload_role_arn(ctx: Context, env: Environment) -> str | None:
    account = ctx.account(env)
    return ctx.role_arn(ctx.aws("iam.Role", "workload"), account.id) if account else None


def source_role_arn(ctx: Context, account_id: str) -> str:
    return ctx.role_arn(ctx.aws("iam.Role", "pod-identity"), account_id)


def _cluster_accounts(ctx: Context) -> dict[str, tuple[ProviderConfigRef, list[Environment]]]:
    """Each account of the app's clusters, its ProviderConfig, and the environments it hosts."""
    found: dict[str, tuple[ProviderConfigRef, list[Environment]]] = {}
    for p in ctx.placements:
        _, envs = found.setdefault(
            p.cluster.account_id, (ProviderConfigRef(p.cluster.aws_provider_config), [])
        )
        if p.environment not in envs:
            envs.append(p.environment)
    return found


def build(ctx: Context, statements: dict[Environment, list[dict[str, Any]]]) -> None:
    envs = [e.name for e in ctx.spec.environments]
    groups = ctx.accounts.groups(envs) if ctx.accounts is not None else {"": envs}
    cluster_accounts = _cluster_accounts(ctx)
    for members in groups.values():
        _workload_role(ctx, members, cluster_accounts, statements)
    for account_id, (pc, hosted) in cluster_accounts.items():
        _source_role(ctx, account_id, pc, hosted)
    _associations(ctx)
    _service_accounts(ctx)


def _workload_role(
    ctx: Context,
    members: list[Environment],
    cluster_accounts: dict[str, tuple[ProviderConfigRef, list[Environment]]],
    statements: dict[Environment, list[dict[str, Any]]],
) -> None:
    env = members[0]
    crn = workload_role_crn(ctx, env)
    account = ctx.account(env)
    if account is None:
        ctx.out.wait(crn, ctx.account_wait(env))
        return
    callers = sorted(
        source_role_arn(ctx, a)
        for a, (_, hosted) in cluster_accounts.items()
        if set(hosted) & set(members)
    )
    callers += sorted(
        {
            p.cluster.external_secrets_role_arn
            for p in ctx.placements
            if p.cluster.external_secrets_role_arn and p.environment in members
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
    # Only the statements of the environments in this account: one account's role never names
    # another account's resources.
    own = [st for e in members for st in statements.get(e, [])]
    if own:
        body["inlinePolicy"] = [{"name": "own-resources", "policy": policy(*own)}]
    ctx.out.add(
        crn,
        aws.resource(
            ctx.claim,
            "iam",
            "Role",
            name=ctx.name(crn),
            labels=ctx.labels(),
            external_name=ctx.aws("iam.Role", "workload"),
            provider_config=account.provider_config,
            for_provider=body,
        ),
    )


def _source_role(
    ctx: Context, account_id: str, pc: ProviderConfigRef, hosted: list[Environment]
) -> None:
    crn = source_role_crn(account_id)
    targets = sorted({t for e in hosted if (t := workload_role_arn(ctx, e)) is not None})
    if not targets:
        ctx.out.wait(crn, ctx.account_wait(hosted[0]))
        return
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
                "workload roles in the team's accounts",
                "inlinePolicy": [
                    {
                        "name": "assume-workload-role",
                        "policy": policy(
                            {
                                "Effect": "Allow",
                                "Action": SESSION_ACTIONS,
                                "Resource": targets[0] if len(targets) == 1 else targets,
                            }
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


def _associations(ctx: Context) -> None:
    for p in ctx.placements:
        crn = association_crn(p)
        target = workload_role_arn(ctx, p.environment)
        if target is None:
            ctx.out.wait(crn, ctx.account_wait(p.environment))
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
            after=(workload_role_crn(ctx, p.environment), source_role_crn(p.cluster.account_id)),
            reason="waiting for the workload role and the Pod Identity role",
        )


def _service_accounts(ctx: Context) -> None:
    for p in ctx.placements:
        crn = service_account_crn(p)
        if not ctx.delivers(p):
            ctx.out.wait(crn, ctx.delivery_wait(p))
            continue
        ctx.in_namespace(crn, p, "v1", "ServiceAccount", service_account(ctx))
