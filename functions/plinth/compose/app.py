"""Compose an AppClaim: delivery through Argo CD into the tenant's namespaces."""

from __future__ import annotations

from typing import Any

from plinth.api.app import AppSpec
from plinth.api.base import ApiModel
from plinth.api.catalog import TENANT
from plinth.api.tenant import TenantSpec
from plinth.builders import argocd
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant import namespaces_of
from plinth.composition import Claim, Composition, Observed, Required, Requirement
from plinth.labels import claim_labels

TENANT_REQUIREMENT = "tenant"


def requirements(claim: Claim, spec: ApiModel) -> dict[str, Requirement]:
    assert isinstance(spec, AppSpec)
    return {
        TENANT_REQUIREMENT: Requirement(
            api_version=TENANT.api_version(claim.flavor.flavor),
            kind=TENANT.kind,
            name=spec.tenant,
            namespace=claim.namespace,
        )
    }


def _tenant(claim: Claim, spec: AppSpec, required: Required) -> TenantSpec | str:
    """The tenant's spec, or why it cannot be used yet."""
    found = required.get(TENANT_REQUIREMENT)
    where = f"TenantClaim {spec.tenant!r} in namespace {claim.namespace!r}"
    if not found:
        return f"waiting for {where}: it does not exist yet"
    tenant: dict[str, Any] = found[0]
    if tenant.get("metadata", {}).get("namespace") != claim.namespace:
        return f"{where} is not in this namespace; an app may only use its own namespace's tenant"
    try:
        return TenantSpec.model_validate(tenant.get("spec", {}))
    except ValueError:
        return f"waiting for {where}: its spec is not valid yet"


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, AppSpec)
    out = Composition(claim)
    platform = claim.platform
    tenant = _tenant(claim, spec, required)
    envs = []
    for env in spec.environments:
        for cluster in platform.clusters_for(env.name):
            crn = f"application-{env.name.value}-{cluster.name}"
            if isinstance(tenant, str):
                out.wait(crn, tenant)
                continue
            env_index = next(
                (i for i, e in enumerate(tenant.environments) if e.name == env.name), None
            )
            if env_index is None:
                out.wait(crn, f"tenant {spec.tenant!r} has no {env.name.value} environment")
                continue
            namespace = namespaces_of(tenant, env_index)[0]
            labels = claim_labels(
                claim, team=tenant.team, app=claim.name, environment=env.name.value
            )
            app_name = claim.resource_name(env.name.value, cluster.name)
            owner = platform.github.owner if platform.github else "example"
            out.add(
                crn,
                k8s.object_(
                    claim,
                    name=claim.resource_name(crn),
                    labels=labels,
                    provider_config=platform.provider_configs.kubernetes_management,
                    readiness=k8s.Readiness.DERIVE_FROM_CEL,
                    cel_query="has(object.status.health) && "
                    "object.status.health.status == 'Healthy'",
                    manifest=argocd.application(
                        app_name,
                        namespace=platform.argocd.namespace,
                        project=tenant.team,
                        repo_url=f"https://github.com/{owner}/{claim.name}.git",
                        path="chart",
                        target_revision="HEAD",
                        destination_name=cluster.destination,
                        destination_namespace=namespace,
                        helm_values={"replicaCount": env.replicas, "port": spec.port},
                        automated=True,
                        labels=labels,
                    ),
                ),
            )
            envs.append({"name": env.name.value, "application": app_name})
    if out.pending:
        out.phase = "WaitingForTenant"
        out.status["message"] = next(iter(out.pending.values()))
    out.status["environments"] = envs
    return out
