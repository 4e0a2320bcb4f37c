"""The tenant's Argo CD AppProject in the management cluster.

It admits only the tenant's own namespaces on its own clusters as destinations and only its
own repositories as sources, and syncs as the namespace's deployer ServiceAccount. Argo CD's
namespace is not the claim's, so the AppProject goes through a provider-kubernetes Object.
"""

from __future__ import annotations

from plinth.builders import argocd
from plinth.builders import kubernetes as k8s
from plinth.compose.tenant.context import Context
from plinth.compose.tenant.rbac import DEPLOYER

CRN = "appproject"


def source_repos(ctx: Context) -> list[str]:
    github = ctx.claim.platform.github
    base = f"https://github.com/{github.owner}" if github else None
    wanted = list(ctx.spec.repositories) or [ctx.spec.team, f"{ctx.spec.team}-*"]
    out = []
    for repo in wanted:
        if "://" in repo or repo.startswith("git@"):
            out.append(repo)
        elif base:
            out.append(f"{base}/{repo}.git")
        else:
            ctx.out.warnings.append(
                f"repository {repo!r} is not a URL and the platform names no GitHub owner"
            )
    return out


def build(ctx: Context) -> None:
    platform = ctx.claim.platform
    destinations = []
    service_accounts = []
    for p in ctx.placements:
        for ns in p.namespaces:
            destinations.append({"name": p.cluster.destination, "namespace": ns})
            service_accounts.append(
                {"server": "*", "namespace": ns, "defaultServiceAccount": DEPLOYER}
            )
    labels = ctx.labels()
    project = argocd.app_project(
        ctx.spec.team,
        namespace=platform.argocd.namespace,
        description=f"Tenant {ctx.spec.team} (TenantClaim {ctx.claim.namespace}/{ctx.claim.name})",
        source_repos=source_repos(ctx),
        destinations=destinations,
        labels=labels,
    )
    # Argo CD syncs as the namespace's deployer, so an app can do no more than the tenant may.
    project["spec"]["destinationServiceAccounts"] = service_accounts
    ctx.out.add(
        CRN,
        k8s.object_(
            ctx.claim,
            name=ctx.name(CRN),
            labels=labels,
            manifest=project,
            provider_config=platform.provider_configs.kubernetes_management,
        ),
    )
