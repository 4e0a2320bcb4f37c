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
from plinth.core.tenancy import Refused, check_name

CRN = "appproject"


GLOB = frozenset("*?[")


def _in_organization(url: str, owner: str | None) -> str | None:
    """The repository name when `url` points into the platform's GitHub organization."""
    rest = url.split("://", 1)[1] if "://" in url else url.split("@", 1)[-1].replace(":", "/", 1)
    rest = rest.split("@", 1)[-1].lower()
    host, _, path = rest.partition("/")
    host = host.split(":", 1)[0].removeprefix("www.")
    parts = [p for p in path.split("/") if p]
    if owner is None or host != "github.com" or not parts or parts[0] != owner.lower():
        return None
    return "/".join(parts[1:]).removesuffix(".git")


def source_repos(ctx: Context) -> list[str]:
    """The tenant's repositories as Argo CD source globs. A team may name only its own
    repositories (`<team>`, `<team>-*`) in the platform's organization, and repositories
    elsewhere by exact URL: a glob there could admit another team's."""
    platform = ctx.claim.platform
    github = platform.github
    owner = github.owner if github else None
    wanted = list(ctx.spec.repositories) or [ctx.team, f"{ctx.team}-*"]
    out = []
    for repo in wanted:
        if "://" in repo or repo.startswith("git@"):
            name = _in_organization(repo, owner)
            if name is not None:
                check_name(platform, ctx.claim.team, name, "repositories: repository")
            elif GLOB & set(repo):
                raise Refused(
                    f"repositories: {repo!r}: a repository outside the platform's GitHub "
                    "organization is named by its exact URL, not a glob"
                )
            out.append(repo)
        elif "/" in repo:
            raise Refused(
                f"repositories: {repo!r}: a name is a repository in the platform's GitHub "
                "organization; give a URL for one elsewhere"
            )
        elif owner is not None:
            check_name(platform, ctx.claim.team, repo, "repositories: repository")
            out.append(f"https://github.com/{owner}/{repo}.git")
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
        ctx.team,
        namespace=platform.argocd.namespace,
        description=f"Tenant {ctx.team} (TenantClaim {ctx.claim.namespace}/{ctx.claim.name})",
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
