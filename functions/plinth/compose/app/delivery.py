"""Delivery: per environment and cluster an Argo CD Application in the tenant's AppProject that
syncs the repository's chart into the app's namespace, with the Helm values of the service
template's contract (templates/service/chart/values.yaml).

Argo CD tracks the deploy branch, which only CI writes (main plus the image tag bump), so main
stays protected. Non-prod syncs and heals itself; prod waits for a human to sync.
"""

from __future__ import annotations

from typing import Any

from plinth.builders import argocd
from plinth.builders import kubernetes as k8s
from plinth.compose.app import config, identity, images, repository
from plinth.compose.app.context import Context, Placement

CHART_PATH = "chart"
VALUE_FILES = ["values.yaml", "values-image.yaml"]
HEALTHY = "has(object.status.health) && object.status.health.status == 'Healthy'"


def crn(p: Placement) -> str:
    return f"application-{p.environment.value}-{p.cluster.name}"


def application_name(ctx: Context, p: Placement) -> str:
    """`<team>-<app>-<env>-<cluster>`: Applications of every team share Argo CD's namespace."""
    return ctx.claim.shared_name(ctx.claim.name, p.environment.value, p.cluster.name)


def host(ctx: Context, p: Placement) -> str | None:
    """The claim's host, else `<app>.<env>.<team>.<domain>`: inside the team's own subdomain,
    so two teams' apps of the same name never share a host on the shared ingress."""
    if p.env.host:
        return p.env.host
    domain = ctx.claim.platform.domain
    return f"{ctx.claim.name}.{p.environment.value}.{ctx.team}.{domain}" if domain else None


def tls_secret(ctx: Context, hostname: str | None) -> str:
    """The tenant's wildcard certificate, when it covers the host."""
    cert = ctx.tenant.certificate if ctx.tenant else None
    covered = (
        cert is not None
        and hostname is not None
        and hostname.endswith(f".{cert.domain}")
        and hostname.count(".") == cert.domain.count(".") + 1
    )
    return "wildcard-tls" if covered else ""


def values(ctx: Context, p: Placement) -> dict[str, Any]:
    """Exactly the keys of the service template's values contract, except image.tag (CI's)."""
    res = ctx.spec.resources
    limits = {"memory": res.memory, **({"cpu": res.cpu_limit} if res.cpu_limit else {})}
    hostname = host(ctx, p)
    return {
        "app": ctx.claim.name,
        "environment": p.environment.value,
        "image": {"repository": images.image_repository(ctx)},
        "replicaCount": p.env.replicas,
        "port": ctx.spec.port,
        "healthPath": ctx.spec.health_path,
        "resources": {"requests": {"cpu": res.cpu, "memory": res.memory}, "limits": limits},
        "serviceAccountName": identity.service_account(ctx),
        "configMapName": config.configmap_name(ctx),
        "secretName": config.secret_name(ctx) if config.has_secrets(ctx, p) else "",
        "ingress": {
            "enabled": hostname is not None,
            "host": hostname or "",
            "className": p.cluster.ingress_class,
            "tlsSecretName": tls_secret(ctx, hostname),
        },
        "autoscaling": {
            "enabled": p.env.max_replicas is not None,
            "minReplicas": p.env.replicas,
            "maxReplicas": p.env.max_replicas or p.env.replicas,
            "targetCPUUtilizationPercentage": 75,
        },
    }


def build(ctx: Context) -> None:
    platform = ctx.claim.platform
    gh = ctx.github
    for p in ctx.placements:
        if not ctx.delivers(p) or ctx.account(p.environment) is None or ctx.account(None) is None:
            ctx.out.wait(
                crn(p),
                ctx.delivery_wait(p) or ctx.account_wait(p.environment) or ctx.account_wait(None),
            )
            continue
        labels = ctx.labels(p.environment)
        ctx.out.add(
            crn(p),
            k8s.object_(
                ctx.claim,
                name=ctx.name(crn(p)),
                labels=labels,
                provider_config=platform.provider_configs.kubernetes_management,
                readiness=k8s.Readiness.DERIVE_FROM_CEL,
                cel_query=HEALTHY,
                manifest=argocd.application(
                    application_name(ctx, p),
                    namespace=platform.argocd.namespace,
                    project=ctx.team,
                    repo_url=f"{repository.url(ctx)}.git",
                    path=CHART_PATH,
                    target_revision=gh.deploy_branch,
                    destination_name=p.cluster.destination,
                    destination_namespace=p.namespace,
                    helm_values=values(ctx, p),
                    value_files=VALUE_FILES,
                    automated=not ctx.prod(p.environment),
                    labels=labels,
                ),
            ),
        )
