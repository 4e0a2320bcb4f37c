"""Compose an AppClaim: repository, image and CI, cloud resources, identity, runtime config,
delivery and observability for one service of a tenant.

Where each thing is built: repository.py (GitHub), images.py (ECR, CI role), network.py
(subnet groups, security groups), databases.py, buckets.py, queues.py, caches.py,
identity.py (workload role, Pod Identity, ServiceAccount), config.py (ConfigMap, SecretStore,
ExternalSecret), delivery.py (Argo CD Applications), observability.py (ServiceMonitor,
PrometheusRule), protection.py (prod Usages). The gates they share are named in context.py.
"""

from __future__ import annotations

from typing import Any

from plinth.api.app import AppSpec
from plinth.api.base import ApiModel
from plinth.api.catalog import ACCOUNT, TENANT
from plinth.api.tenant import TenantSpec
from plinth.builders.common import ProviderConfigRef
from plinth.compose.app import (
    buckets,
    caches,
    config,
    databases,
    delivery,
    identity,
    images,
    network,
    observability,
    protection,
    queues,
    repository,
)
from plinth.compose.app.context import Account, Context, Network, placements_for
from plinth.composition import (
    Claim,
    Composition,
    Observed,
    Required,
    Requirement,
    condition_of,
    user_spec,
)

TENANT_REQUIREMENT = "tenant"
ACCOUNT_REQUIREMENT = "account"


def _same_namespace(claim: Claim, body: dict[str, Any]) -> bool:
    return (body.get("metadata") or {}).get("namespace") == claim.namespace


def _tenant_body(claim: Claim, required: Required) -> dict[str, Any] | None:
    found = required.get(TENANT_REQUIREMENT)
    return found[0] if found and _same_namespace(claim, found[0]) else None


def requirements(claim: Claim, spec: ApiModel, required: Required) -> dict[str, Requirement]:
    assert isinstance(spec, AppSpec)
    out = {
        TENANT_REQUIREMENT: Requirement(
            api_version=TENANT.api_version(claim.flavor.flavor),
            kind=TENANT.kind,
            name=spec.tenant,
            namespace=claim.namespace,
        )
    }
    tenant = _tenant_body(claim, required)
    account = ((tenant or {}).get("spec") or {}).get("account") or {}
    if isinstance(account, dict) and isinstance(account.get("claimName"), str):
        # The account's region, VPC and subnets are in the AccountClaim's status.
        out[ACCOUNT_REQUIREMENT] = Requirement(
            api_version=ACCOUNT.api_version(claim.flavor.flavor),
            kind=ACCOUNT.kind,
            name=account["claimName"],
            namespace=claim.namespace,
        )
    return out


def _resolve_tenant(ctx: Context, required: Required) -> None:
    where = f"TenantClaim {ctx.spec.tenant!r} in namespace {ctx.claim.namespace!r}"
    found = required.get(TENANT_REQUIREMENT)
    if not found:
        ctx.tenant_wait = f"waiting for {where}: it does not exist yet"
        return
    body: dict[str, Any] = found[0]
    if not _same_namespace(ctx.claim, body):
        ctx.tenant_wait = (
            f"{where} is not in this namespace; an app may only use its own namespace's tenant"
        )
        return
    try:
        ctx.tenant = TenantSpec.model_validate(user_spec(body))
    except ValueError:
        ctx.tenant_wait = f"waiting for {where}: its spec is not valid"
        return
    ready = condition_of(body, "Ready")
    ctx.tenant_ready = ready is not None and ready.get("status") == "True"
    if not ctx.tenant_ready:
        ctx.tenant_wait = f"waiting for {where} to become Ready (its namespaces and AppProject)"
    status = body.get("status") or {}
    ref = ctx.tenant.account
    region = ctx.claim.platform.default_region
    if ref.account_id is not None:
        assert ref.provider_config is not None
        ctx.account = Account(
            ref.account_id, ProviderConfigRef(ref.provider_config, kind="ProviderConfig"), region
        )
    else:
        accounts = required.get(ACCOUNT_REQUIREMENT) or []
        account = accounts[0] if accounts and _same_namespace(ctx.claim, accounts[0]) else {}
        astatus = account.get("status") or {}
        account_id = status.get("accountId") or astatus.get("accountId")
        pc = ref.provider_config or astatus.get("providerConfig")
        if not account_id or not pc:
            ctx.account_wait = (
                f"waiting for the tenant's AccountClaim {ref.claim_name!r} to report its account "
                "id and ProviderConfig"
            )
            return
        ctx.account = Account(
            str(account_id),
            ProviderConfigRef(str(pc), kind="ProviderConfig"),
            str(astatus.get("region") or region),
        )
        subnets = (astatus.get("subnetIds") or {}).get("private") or []
        if astatus.get("vpcId") and subnets:
            ctx.network = Network(str(astatus["vpcId"]), tuple(str(s) for s in subnets))
    if ctx.spec.network is not None:
        ctx.network = Network(ctx.spec.network.vpc_id, tuple(ctx.spec.network.subnet_ids))
    if ctx.network is None:
        ctx.network_wait = (
            "waiting for the account's VPC and private subnets (AccountClaim status.vpcId and "
            "status.subnetIds.private)"
            if ref.claim_name
            else "databases and caches need a network: the tenant's account is given by id, so "
            "set spec.network (vpcId, subnetIds)"
        )


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, AppSpec)
    out = Composition(claim)
    ctx = Context(claim=claim, spec=spec, observed=observed, out=out)
    _resolve_tenant(ctx, required)
    if not ctx.account_wait and ctx.account is None:
        ctx.account_wait = ctx.tenant_wait
    if ctx.tenant is not None:
        ctx.placements = placements_for(claim, spec, ctx.tenant, out)
    # Resources first: they fill in the config, secrets and policy the rest consumes.
    network.build(ctx)
    databases.build(ctx)
    buckets.build(ctx)
    queues.build(ctx)
    caches.build(ctx)
    images.build(ctx)
    identity.build(ctx)
    config.build(ctx)
    delivery.build(ctx)
    observability.build(ctx)
    protection.build(ctx)
    repository.build(ctx, _variables(ctx))
    _status(ctx)
    return out


def _variables(ctx: Context) -> dict[str, str | None]:
    """The Actions variables the template's workflow reads; None while not known."""
    account = ctx.account
    return {
        "PLINTH_APP": ctx.claim.name,
        "PLINTH_ENVIRONMENTS": ",".join(e.name.value for e in ctx.spec.environments),
        "PLINTH_AWS_REGION": account.region if account else None,
        "PLINTH_IMAGE_REPOSITORY": images.image_repository(ctx),
        "PLINTH_CI_ROLE_ARN": images.ci_role_arn(ctx),
    }


def _status(ctx: Context) -> None:
    out = ctx.out
    if ctx.claim.platform.github is not None:
        out.status["repositoryUrl"] = repository.url(ctx)
    if image := images.image_repository(ctx):
        out.status["imageRepository"] = image
    envs = []
    for env in ctx.spec.environments:
        mine = [p for p in ctx.placements if p.environment is env.name]
        entry: dict[str, Any] = {
            "name": env.name.value,
            "applications": [delivery.application_name(ctx, p) for p in mine],
        }
        if mine:
            entry["namespace"] = mine[0].namespace
            if host := delivery.host(ctx, mine[0]):
                entry["url"] = f"https://{host}"
        envs.append(entry)
    out.status["environments"] = envs
    out.status["resources"] = ctx.resource_status
    if ctx.tenant is None or ctx.account is None:
        out.phase = "WaitingForTenant"
        out.status["message"] = ctx.tenant_wait or ctx.account_wait
    elif not ctx.tenant_ready:
        out.phase = "WaitingForTenant"
        out.status["message"] = ctx.tenant_wait
