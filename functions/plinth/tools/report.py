"""Sprawl and cost attribution across the platform: `plinth report`'s engine.

`build_report` is pure: from the claims, managed resources and Argo CD Applications of the
management cluster (and the namespaces and pods of each cluster that can be read) to a
`Report`: per team its accounts, tenants, apps and environments, then what deserves a look:
tenants without apps, accounts without tenants, apps whose delivery is unhealthy, namespaces
with no workloads, and AWS resources lacking the cost-allocation tags. A claim's team is the
namespace it lives in (the platform maps each team to its management namespace), never a
field of the claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plinth.api.catalog import find_claim_api
from plinth.api.flavor import Flavor
from plinth.tools.trace import Kubectl

Body = dict[str, Any]
TEAM_LABEL = "plinth.dev/team"
CLAIM_NAMESPACE_LABEL = "plinth.dev/claim-namespace"
MANAGED_BY = "app.kubernetes.io/managed-by"
# The tag every AWS resource Plinth composes carries (plinth.core.labels.aws_tags) and Cost
# Explorer groups by; the platform's own tags (data.tags of plinth-platform) are required too.
COST_TAGS = (TEAM_LABEL,)
UNATTRIBUTED = "(unattributed)"
HEALTHY = "Healthy"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class ClaimSummary(_Model):
    kind: str
    name: str
    flavor: str
    phase: str | None = None
    ready: bool = False
    environments: list[str] = Field(default_factory=list)
    account_id: str | None = Field(default=None, alias="accountId")


class Team(_Model):
    name: str
    accounts: list[ClaimSummary] = Field(default_factory=list)
    tenants: list[ClaimSummary] = Field(default_factory=list)
    apps: list[ClaimSummary] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    managed_resources: int = Field(default=0, alias="managedResources")
    untagged_resources: int = Field(default=0, alias="untaggedResources")


class ClaimRef(_Model):
    team: str
    kind: str
    name: str
    detail: str = ""


class Delivery(_Model):
    team: str
    app: str
    application: str
    environment: str | None = None
    health: str
    sync: str
    message: str = ""


class IdleNamespace(_Model):
    cluster: str
    namespace: str
    team: str


class Untagged(_Model):
    team: str
    api_version: str = Field(alias="apiVersion")
    kind: str
    namespace: str | None = None
    name: str
    missing: list[str]


class Report(_Model):
    teams: list[Team] = Field(default_factory=list)
    required_tags: list[str] = Field(default_factory=list, alias="requiredTags")
    tenants_without_apps: list[ClaimRef] = Field(default_factory=list, alias="tenantsWithoutApps")
    accounts_without_tenants: list[ClaimRef] = Field(
        default_factory=list, alias="accountsWithoutTenants"
    )
    unhealthy_deliveries: list[Delivery] = Field(default_factory=list, alias="unhealthyDeliveries")
    idle_namespaces: list[IdleNamespace] = Field(default_factory=list, alias="idleNamespaces")
    clusters_read: list[str] = Field(default_factory=list, alias="clustersRead")
    untagged: list[Untagged] = Field(default_factory=list)

    def to_dict(self) -> Body:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _meta(body: Body) -> Body:
    m = body.get("metadata")
    return m if isinstance(m, dict) else {}


def _labels(body: Body) -> dict[str, str]:
    labels = _meta(body).get("labels")
    return labels if isinstance(labels, dict) else {}


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _ready(body: Body) -> bool:
    for c in (body.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _claims(objects: Iterable[Body]) -> list[tuple[Body, str]]:
    """(claim, flavor): the namespaced claims, not the legacy composites they are bound to."""
    out = []
    for body in objects:
        found = find_claim_api(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if found is None or body.get("kind") == found[0].legacy_xr_kind:
            continue
        out.append((body, "v2" if found[1] is Flavor.V2 else "legacy"))
    return out


def _env_names(spec: Body) -> list[str]:
    envs = spec.get("environments") or []
    return [str(e["name"]) for e in envs if isinstance(e, dict) and e.get("name")]


def _summary(body: Body, flavor: str) -> ClaimSummary:
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    envs = _env_names(spec)
    if body.get("kind") == "AccountClaim" and spec.get("environment"):
        envs = [str(spec["environment"])]
    account = status.get("accountId")
    return ClaimSummary(
        kind=str(body.get("kind")),
        name=str(_meta(body).get("name", "")),
        flavor=flavor,
        phase=status.get("phase"),
        ready=_ready(body),
        environments=envs,
        account_id=str(account) if account else None,
    )


def _accounts_used(tenant: Body) -> set[str]:
    spec = tenant.get("spec") or {}
    names = {(spec.get("account") or {}).get("claimName")}
    for env in spec.get("environments") or []:
        if isinstance(env, dict):
            names.add((env.get("account") or {}).get("claimName"))
    return {str(n) for n in names if n}


def team_of(body: Body) -> str:
    """The team of a composed resource: Plinth's labels (set from the claim's namespace)."""
    labels = _labels(body)
    return labels.get(TEAM_LABEL) or labels.get(CLAIM_NAMESPACE_LABEL) or UNATTRIBUTED


def _is_aws(api_version: str) -> bool:
    group = _group(api_version)
    return group.endswith((".aws.upbound.io", ".aws.m.upbound.io"))


def _manifest(body: Body) -> Body:
    m = ((body.get("spec") or {}).get("forProvider") or {}).get("manifest")
    return m if isinstance(m, dict) else {}


def _observed_manifest(body: Body) -> Body:
    m = ((body.get("status") or {}).get("atProvider") or {}).get("manifest")
    return m if isinstance(m, dict) else {}


def _applications(objects: list[Body]) -> list[tuple[Body, Body]]:
    """(Application as observed, its labels' source): Argo CD Applications Plinth composed,
    read directly or through the provider-kubernetes Object that carries each."""
    out: list[tuple[Body, Body]] = []
    seen: set[tuple[str, str]] = set()
    for body in objects:
        if (
            body.get("kind") == "Application"
            and _group(str(body.get("apiVersion"))) == "argoproj.io"
        ) and _labels(body).get(MANAGED_BY) == "plinth":
            seen.add((str(_meta(body).get("namespace")), str(_meta(body).get("name"))))
            out.append((body, body))
    for body in objects:
        if body.get("kind") != "Object" or _manifest(body).get("kind") != "Application":
            continue
        desired = _manifest(body)
        key = (str(_meta(desired).get("namespace")), str(_meta(desired).get("name")))
        if key in seen:
            continue
        out.append((_observed_manifest(body) or desired, desired))
    return out


def build_report(
    objects: Iterable[Body],
    *,
    clusters: dict[str, list[Body]] | None = None,
    required_tags: Iterable[str] = (),
    taggable: Callable[[Body], bool] | None = None,
) -> Report:
    """`objects`: what the management cluster holds (claims, managed resources, Applications);
    `clusters`: per cluster that could be read, its namespaces and pods; `taggable(body)`: whether
    a resource's kind takes tags (default: it has spec.forProvider.tags)."""
    objects = list(objects)
    tags = sorted({*COST_TAGS, *required_tags})
    teams: dict[str, Team] = {}

    def team(name: str) -> Team:
        return teams.setdefault(name, Team(name=name))

    claims = _claims(objects)
    by_kind: dict[str, list[tuple[Body, str]]] = {}
    for body, flavor in claims:
        by_kind.setdefault(str(body.get("kind")), []).append((body, flavor))
        t = team(str(_meta(body).get("namespace") or "default"))
        s = _summary(body, flavor)
        {"AccountClaim": t.accounts, "TenantClaim": t.tenants, "AppClaim": t.apps}[s.kind].append(s)

    report = Report(required_tags=tags)
    for body, _ in by_kind.get("TenantClaim", []):
        ns, name = str(_meta(body).get("namespace") or "default"), str(_meta(body).get("name"))
        apps = [
            a
            for a, _ in by_kind.get("AppClaim", [])
            if _meta(a).get("namespace", "default") == ns
            and (a.get("spec") or {}).get("tenant") == name
        ]
        if not apps:
            report.tenants_without_apps.append(ClaimRef(team=ns, kind="TenantClaim", name=name))
    for body, _ in by_kind.get("AccountClaim", []):
        ns, name = str(_meta(body).get("namespace") or "default"), str(_meta(body).get("name"))
        used = any(
            name in _accounts_used(t)
            for t, _ in by_kind.get("TenantClaim", [])
            if _meta(t).get("namespace", "default") == ns
        )
        if not used:
            account = (body.get("status") or {}).get("accountId")
            report.accounts_without_tenants.append(
                ClaimRef(
                    team=ns,
                    kind="AccountClaim",
                    name=name,
                    detail=f"account {account}" if account else "",
                )
            )

    for app, source in _applications(objects):
        labels = _labels(source)
        status = app.get("status") or {}
        health = str((status.get("health") or {}).get("status") or "Unknown")
        sync = str((status.get("sync") or {}).get("status") or "Unknown")
        if health == HEALTHY:
            continue
        message = str((status.get("health") or {}).get("message") or "")
        conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        if not message and conditions:
            message = str(conditions[0].get("message", ""))
        report.unhealthy_deliveries.append(
            Delivery(
                team=labels.get(TEAM_LABEL, UNATTRIBUTED),
                app=labels.get("plinth.dev/app", ""),
                application=str(_meta(source).get("name", "")),
                environment=labels.get("plinth.dev/environment"),
                health=health,
                sync=sync,
                message=message,
            )
        )

    is_taggable = taggable or (lambda b: "tags" in ((b.get("spec") or {}).get("forProvider") or {}))
    for body in objects:
        api_version = str(body.get("apiVersion", ""))
        if not _is_aws(api_version) or _group(api_version).startswith("aws."):
            continue  # ProviderConfigs and the like are not AWS resources
        owner = team_of(body)
        if owner != UNATTRIBUTED or _labels(body).get(MANAGED_BY) == "plinth":
            team(owner).managed_resources += 1
        if not is_taggable(body):
            continue
        fp = (body.get("spec") or {}).get("forProvider") or {}
        at = (body.get("status") or {}).get("atProvider") or {}
        present = {**(fp.get("tags") or {}), **(at.get("tagsAll") or {})}
        missing = [t for t in tags if not present.get(t)]
        if missing:
            meta = _meta(body)
            report.untagged.append(
                Untagged(
                    team=owner,
                    api_version=api_version,
                    kind=str(body.get("kind", "")),
                    namespace=meta.get("namespace"),
                    name=str(meta.get("name", "")),
                    missing=missing,
                )
            )
            team(owner).untagged_resources += 1

    for cluster, items in sorted((clusters or {}).items()):
        report.clusters_read.append(cluster)
        pods: dict[str, int] = {}
        for o in items:
            if o.get("kind") == "Pod":
                ns = str(_meta(o).get("namespace"))
                phase = (o.get("status") or {}).get("phase")
                if phase not in ("Succeeded", "Failed"):
                    pods[ns] = pods.get(ns, 0) + 1
        for o in items:
            if o.get("kind") != "Namespace" or _labels(o).get(MANAGED_BY) != "plinth":
                continue
            name = str(_meta(o).get("name"))
            if not pods.get(name):
                report.idle_namespaces.append(
                    IdleNamespace(cluster=cluster, namespace=name, team=team_of(o))
                )

    for t in teams.values():
        envs = {
            e for group in (t.accounts, t.tenants, t.apps) for c in group for e in c.environments
        }
        t.environments = sorted(envs)
        for group in (t.accounts, t.tenants, t.apps):
            group.sort(key=lambda c: c.name)
    report.teams = sorted(teams.values(), key=lambda t: (t.name == UNATTRIBUTED, t.name))
    return report


def format_text(report: Report) -> str:
    rows = [["TEAM", "ACCOUNTS", "TENANTS", "APPS", "ENVIRONMENTS", "AWS RESOURCES", "UNTAGGED"]]
    for t in report.teams:
        rows.append(
            [
                t.name,
                str(len(t.accounts)),
                str(len(t.tenants)),
                str(len(t.apps)),
                ",".join(t.environments) or "-",
                str(t.managed_resources),
                str(t.untagged_resources),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]

    def section(title: str, items: list[str], none: str = "none") -> None:
        lines.append("")
        lines.append(f"{title}: {len(items)}" if items else f"{title}: {none}")
        lines.extend(f"  {i}" for i in items)

    for t in report.teams:
        parts = [
            *(
                f"account {c.name}{' (' + c.account_id + ')' if c.account_id else ''}"
                for c in t.accounts
            ),
            *(f"tenant {c.name}" for c in t.tenants),
            *(f"app {c.name}" for c in t.apps),
        ]
        not_ready = [c for g in (t.accounts, t.tenants, t.apps) for c in g if not c.ready]
        if parts:
            lines.append("")
            lines.append(f"{t.name}: {', '.join(parts)}")
            for c in not_ready:
                lines.append(f"  {c.kind} {c.name} is not ready ({c.phase or 'no phase'})")
    section(
        "tenants without apps",
        [f"{r.team}/{r.name}" for r in report.tenants_without_apps],
    )
    section(
        "accounts without tenants",
        [
            f"{r.team}/{r.name}" + (f" ({r.detail})" if r.detail else "")
            for r in report.accounts_without_tenants
        ],
    )
    section(
        "apps whose delivery is unhealthy",
        [
            f"{d.team}/{d.app} {d.application}: {d.health}, {d.sync}"
            + (f": {d.message}" if d.message else "")
            for d in report.unhealthy_deliveries
        ],
    )
    section(
        "namespaces without workloads",
        [f"{n.cluster}: {n.namespace} (team {n.team})" for n in report.idle_namespaces],
        none="none" if report.clusters_read else "no cluster could be read",
    )
    section(
        f"AWS resources without the cost-allocation tags ({', '.join(report.required_tags)})",
        [
            f"{u.team}: {u.kind}.{_group(u.api_version)} "
            f"{u.namespace + '/' if u.namespace else ''}{u.name} lacks {', '.join(u.missing)}"
            for u in report.untagged
        ],
    )
    return "\n".join(lines) + "\n"


# --- a live cluster -------------------------------------------------------------------------

CLAIM_TYPES = [
    f"{kind}.{group}"
    for group in ("platform.plinth.dev", "claims.plinth.dev")
    for kind in ("accountclaims", "tenantclaims", "appclaims")
]


def read_management(kube: Kubectl) -> tuple[list[Body], list[str]]:
    """(objects, the platform's tag keys): claims, every managed resource, Plinth's Argo CD
    Applications, and data.tags of the plinth-platform EnvironmentConfig."""
    objects: list[Body] = []
    for kind in CLAIM_TYPES:
        objects += kube.get(kind, "-A")
    objects += kube.get("managed", "-A")
    objects += kube.get("applications.argoproj.io", "-A", "-l", f"{MANAGED_BY}=plinth")
    platform = kube.get("environmentconfigs.apiextensions.crossplane.io", "plinth-platform")
    tags: list[str] = []
    if platform:
        tags = sorted(((platform[0].get("data") or {}).get("tags") or {}).keys())
    return objects, tags


def read_cluster(kube: Kubectl) -> list[Body]:
    """A cluster's Plinth namespaces and its pods (what tells a namespace has workloads)."""
    return [
        *kube.get("namespaces", "-l", f"{MANAGED_BY}=plinth"),
        *kube.get("pods", "-A"),
    ]


def schema_taggable() -> Callable[[Body], bool]:
    """Whether a resource's kind takes AWS tags, from its upstream schema (the bundle), else
    from whether it sets spec.forProvider.tags."""
    from plinth.tools.schemas import SchemaBundle

    bundle = SchemaBundle()
    known: dict[tuple[str, str], bool | None] = {}

    def taggable(body: Body) -> bool:
        key = (str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if key not in known:
            crd = bundle.get(*key)
            props: Any = crd.schema if crd is not None else None
            for step in ("spec", "forProvider"):
                props = ((props or {}).get("properties") or {}).get(step)
            known[key] = "tags" in ((props or {}).get("properties") or {}) if props else None
        found = known[key]
        if found is None:
            return "tags" in ((body.get("spec") or {}).get("forProvider") or {})
        return found

    return taggable
