"""What the app reads at runtime, in its namespace on every cluster of an environment:

* a ConfigMap `<app>-config` with endpoints and other non-secret settings;
* a SecretStore `<app>` (External Secrets) that reads Secrets Manager as the app's workload
  role, and an ExternalSecret that materialises `<app>-credentials` from it.

The keys are the contract documented in docs/app.md; they are written here and nowhere else.
"""

from __future__ import annotations

from plinth.builders import kubernetes as k8s
from plinth.compose.app import databases, identity
from plinth.compose.app.context import Context, Contribution, Placement

ESO_API = "external-secrets.io/v1"
REFRESH = "1h"


def configmap_name(ctx: Context) -> str:
    return f"{ctx.claim.name}-config"


def secret_name(ctx: Context) -> str:
    return f"{ctx.claim.name}-credentials"


def has_secrets(ctx: Context, p: Placement) -> bool:
    """Whether the app gets a credentials Secret on this cluster."""
    return bool(ctx.spec.databases) and p.cluster.external_secrets_role_arn is not None


def configmap_crn(p: Placement) -> str:
    return f"configmap-{p.cluster.name}"


def secretstore_crn(p: Placement) -> str:
    return f"secretstore-{p.cluster.name}"


def externalsecret_crn(p: Placement) -> str:
    return f"externalsecret-{p.cluster.name}"


def build(ctx: Context, contributed: Contribution) -> None:
    """`contributed`: the ConfigMap keys and ExternalSecret entries of the resource modules."""
    for p in ctx.placements:
        _one(ctx, p, contributed)


def _one(ctx: Context, p: Placement, contributed: Contribution) -> None:
    wants_secrets = has_secrets(ctx, p)
    if ctx.spec.databases and not wants_secrets:
        ctx.out.warnings.append(
            f"cluster {p.cluster.name} has no externalSecretsRoleArn in the platform config: the "
            "app's database credentials are not delivered there"
        )
    crns = [configmap_crn(p)] + (
        [secretstore_crn(p), externalsecret_crn(p)] if wants_secrets else []
    )
    account = ctx.account(p.environment)
    if not ctx.delivers(p) or account is None:
        for crn in crns:
            ctx.out.wait(crn, ctx.delivery_wait(p) or ctx.account_wait(p.environment))
        return
    data = {
        "PLINTH_APP": ctx.claim.name,
        "PLINTH_ENVIRONMENT": p.environment.value,
        "AWS_REGION": account.region,
        **contributed.config.get(p.environment, {}),
    }
    ctx.in_namespace(
        configmap_crn(p), p, "v1", "ConfigMap", configmap_name(ctx), data=dict(sorted(data.items()))
    )
    if not wants_secrets:
        return
    role = identity.workload_role_arn(ctx, p.environment)
    assert role is not None
    store = {
        "aws": {
            "service": "SecretsManager",
            "region": account.region,
            # The controller's own identity assumes the app's role: the store reads exactly
            # what the app may read.
            "role": role,
        }
    }
    ctx.in_namespace(
        secretstore_crn(p),
        p,
        ESO_API,
        "SecretStore",
        ctx.claim.name,
        readiness=k8s.Readiness.DERIVE_FROM_OBJECT,
        spec={"provider": store},
    )
    pending = databases.secrets_pending(ctx, p.environment)
    if pending:
        ctx.out.wait(
            externalsecret_crn(p),
            f"waiting for RDS to report the secret of database(s) {', '.join(pending)}",
        )
        return
    ctx.in_namespace(
        externalsecret_crn(p),
        p,
        ESO_API,
        "ExternalSecret",
        secret_name(ctx),
        readiness=k8s.Readiness.DERIVE_FROM_OBJECT,
        spec={
            "refreshInterval": REFRESH,
            "secretStoreRef": {"kind": "SecretStore", "name": ctx.claim.name},
            "target": {"name": secret_name(ctx), "creationPolicy": "Owner"},
            "data": contributed.secrets.get(p.environment, []),
        },
    )
