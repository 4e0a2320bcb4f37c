"""Compose an AppClaim: repository, image and CI, cloud resources, identity, runtime config,
delivery and observability for one service of a tenant.

Where each thing is built: repository.py (GitHub), images.py (ECR, CI role), network.py
(subnet groups, security groups), databases.py, buckets.py, queues.py, caches.py,
identity.py (workload role, Pod Identity, ServiceAccount), config.py (ConfigMap, SecretStore,
ExternalSecret), delivery.py (Argo CD Applications), observability.py (ServiceMonitor,
PrometheusRule), protection.py (prod Usages), previews.py (pull request previews). The gates
they share are named in context.py. The claim's overrides (plinth.core.overrides) are applied
last, as in every claim.
"""

from __future__ import annotations

from typing import Any

from plinth.api.app import AppSpec
from plinth.api.base import ApiModel
from plinth.api.catalog import TENANT
from plinth.api.tenant import TenantSpec
from plinth.compose import accounts
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
    previews,
    protection,
    queues,
    repository,
)
from plinth.compose.app.context import Context, Contribution, placements_for
from plinth.core import overrides
from plinth.core.composition import (
    Claim,
    Composition,
    Observed,
    Required,
    Requirement,
    condition_of,
    user_spec,
)
from plinth.core.tenancy import Refused, check_host, check_name

TENANT_REQUIREMENT = "tenant"


def _tenant_body(claim: Claim, required: Required) -> dict[str, Any] | None:
    found = required.get(TENANT_REQUIREMENT)
    if not found:
        return None
    namespace = (found[0].get("metadata") or {}).get("namespace")
    if namespace != claim.namespace:
        raise Refused(
            f"TenantClaim {(found[0].get('metadata') or {}).get('name')!r} handed over from "
            f"namespace {namespace!r}: an app may only use the tenant of its own namespace"
        )
    return found[0]


def _tenant_spec(body: dict[str, Any] | None) -> TenantSpec | None:
    if body is None:
        return None
    try:
        return TenantSpec.model_validate(user_spec(body))
    except ValueError:
        return None


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
    tenant = _tenant_spec(_tenant_body(claim, required))
    if tenant is not None:
        # The account's region, VPC and subnets are in the AccountClaim's status.
        out.update(accounts.requirements(claim, tenant, required))
    return out


def _ready_namespaces(body: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """(cluster, namespace) the tenant's status reports ready for apps; malformed entries
    (anyone can write a claim's status through its own API) count as not ready."""
    entries = (body.get("status") or {}).get("namespaces")
    if not isinstance(entries, list):
        return frozenset()
    return frozenset(
        (e["cluster"], e["namespace"])
        for e in entries
        if isinstance(e, dict)
        and e.get("ready") is True
        and isinstance(e.get("cluster"), str)
        and isinstance(e.get("namespace"), str)
    )


def _resolve_tenant(ctx: Context, required: Required) -> None:
    where = f"TenantClaim {ctx.spec.tenant!r} in namespace {ctx.claim.namespace!r}"
    body = _tenant_body(ctx.claim, required)
    if body is None:
        ctx.tenant_wait = f"waiting for {where}: it does not exist yet"
        return
    ctx.tenant = _tenant_spec(body)
    if ctx.tenant is None:
        ctx.tenant_wait = f"waiting for {where}: its spec is not valid"
        return
    ready = condition_of(body, "Ready")
    ctx.tenant_ready = ready is not None and ready.get("status") == "True"
    ctx.tenant_namespaces = _ready_namespaces(body)
    if not ctx.tenant_ready:
        ctx.tenant_wait = f"waiting for {where} to become Ready (its namespaces and AppProject)"
    previous = accounts.previous_accounts(ctx.observed.composite.get("status"))
    ctx.accounts = accounts.plan(ctx.claim, ctx.tenant, required, previous)


def _check_ownership(claim: Claim, spec: AppSpec) -> None:
    """Hosts land on shared ingress controllers and templates are read with the platform's
    GitHub credentials: both must be the team's own (Refused names the owner)."""
    for env in spec.environments:
        if env.host:
            check_host(claim.platform, claim.team, env.host, f"environments[{env.name.value}].host")
    gh = claim.platform.github
    template = spec.repository.template
    if gh is None or template is None:
        return
    owner, name = template.split("/", 1)
    platform_template = ((gh.template_owner or gh.owner).lower(), gh.template_repository)
    if (owner.lower(), name) != platform_template and owner.lower() == gh.owner.lower():
        check_name(claim.platform, claim.team, name, "repository.template")


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, AppSpec)
    out = Composition(claim, observed)
    _check_ownership(claim, spec)
    ctx = Context(claim=claim, spec=spec, observed=observed, out=out)
    _resolve_tenant(ctx, required)
    if ctx.tenant is not None:
        ctx.placements = placements_for(claim, spec, ctx.tenant, out)
    network.build(ctx)
    # What the resources contribute (config and secret keys, policy statements) feeds the
    # workload roles, the runtime config and the status.
    contributed = Contribution().merge(
        databases.build(ctx), buckets.build(ctx), queues.build(ctx), caches.build(ctx)
    )
    images.build(ctx)
    identity.build(ctx, contributed.statements)
    config.build(ctx, contributed)
    delivery.build(ctx)
    observability.build(ctx)
    previews.build(ctx)
    repository.build(ctx, _variables(ctx))
    # Last, once everything is planned: the guard looks at what exists and is no longer
    # planned, and reads (converts) each of those whole.
    protection.build(ctx)
    _status(ctx, contributed)
    overrides.apply(out, spec.overrides)
    return out


def _variables(ctx: Context) -> dict[str, str | None]:
    """The Actions variables the template's workflow reads; None while not known."""
    account = ctx.account(None)
    return {
        "PLINTH_APP": ctx.claim.name,
        "PLINTH_ENVIRONMENTS": ",".join(e.name.value for e in ctx.spec.environments),
        "PLINTH_AWS_REGION": account.region if account else None,
        "PLINTH_IMAGE_REPOSITORY": images.image_repository(ctx),
        "PLINTH_CI_ROLE_ARN": images.ci_role_arn(ctx),
    }


def _status(ctx: Context, contributed: Contribution) -> None:
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
        if account := ctx.account(env.name):
            entry["accountId"] = account.id
        envs.append(entry)
    out.status["environments"] = envs
    out.status["resources"] = contributed.status
    if ctx.tenant is None or ctx.account(None) is None:
        out.phase = "WaitingForTenant"
        out.status["message"] = ctx.tenant_wait or ctx.account_wait(None)
    elif waiting := [p for p in ctx.placements if not ctx.delivers(p)]:
        out.phase = "WaitingForTenant"
        out.status["message"] = ctx.delivery_wait(waiting[0])
