"""Pull request previews: every open pull request with the app's preview label runs in an
ephemeral namespace `<team>-<app>-pr-<number>` on the app's first dev cluster.

* An Argo CD ApplicationSet (pull request generator) in the management cluster makes one
  Application per such pull request, deploying the chart at the pull request's head commit;
  when the pull request closes (or loses the label) Argo CD deletes the Application and, by
  its finalizer, everything it deployed.
* An AppProject of the app's previews, `<team>-<app>-previews`, admits exactly those
  namespaces on that cluster and exactly the app's repository: the tenant's own AppProject
  knows the tenant's namespaces, not its apps' pull requests.
* A Kyverno ClusterPolicy `<team>-<app>-previews` on the dev cluster gives each preview
  namespace what the tenant's namespaces get from Plinth: the tenant's ResourceQuota and
  LimitRange, the same NetworkPolicies, the deployer ServiceAccount Argo CD syncs as, and the
  app's ConfigMap (no secrets, no AWS identity: a preview is code nobody reviewed yet). The
  namespace carries `plinth.dev/team`, so the tenant's guardrails (and dedicated-pool
  placement) apply to it as to the tenant's own.
"""

from __future__ import annotations

from typing import Any

from plinth.api.base import Environment
from plinth.builders import argocd, kyverno
from plinth.builders import kubernetes as k8s
from plinth.compose.app import config, delivery, repository
from plinth.compose.app.context import Context, Placement
from plinth.compose.tenant import network_policies, quotas
from plinth.compose.tenant.context import Context as TenantContext
from plinth.compose.tenant.context import Placement as TenantPlacement
from plinth.compose.tenant.rbac import DEPLOYER
from plinth.core.labels import APP, TEAM
from plinth.core.naming import DNS_LABEL_MAX
from plinth.core.tenancy import Refused

APPSET_CRN = "previews-applicationset"
PROJECT_CRN = "previews-appproject"
POLICY_CRN = "previews-policy"
PREVIEW = "plinth.dev/preview"
PSA = "pod-security.kubernetes.io"
# Pull request numbers of up to 7 digits fit the namespace name.
NUMBER_DIGITS = 7


def namespace_prefix(ctx: Context) -> str:
    """`<team>-<app>-pr-`: derived from the team and the claim's name only."""
    return ctx.claim.shared_name(ctx.claim.name) + "-pr-"


def namespace_pattern(ctx: Context) -> str:
    return namespace_prefix(ctx) + "*"


def project_name(ctx: Context) -> str:
    return ctx.claim.shared_name(ctx.claim.name, "previews")


def placement(ctx: Context) -> Placement | None:
    """The first dev cluster of the app: one cluster, so a pull request has one preview."""
    return next((p for p in ctx.placements if p.environment is Environment.DEV), None)


def _check(ctx: Context) -> None:
    prefix = namespace_prefix(ctx)
    if len(prefix) + NUMBER_DIGITS > DNS_LABEL_MAX:
        raise Refused(
            f"previews: the preview namespaces {prefix}<number> would be longer than "
            f"{DNS_LABEL_MAX} characters; previews need a shorter app name"
        )


def _namespace_labels(ctx: Context) -> dict[str, str]:
    assert ctx.tenant is not None
    return {
        **ctx.labels(Environment.DEV),
        PREVIEW: "true",
        f"{PSA}/enforce": ctx.tenant.pod_security.value,
        f"{PSA}/enforce-version": "latest",
        f"{PSA}/warn": "restricted",
        f"{PSA}/audit": "restricted",
    }


def _values(ctx: Context, p: Placement) -> dict[str, Any]:
    assert ctx.spec.previews is not None
    values = delivery.values(ctx, p)
    domain = ctx.claim.platform.domain
    host = f"{ctx.claim.name}-pr-{{{{.number}}}}.dev.{ctx.team}.{domain}" if domain else ""
    values.update(
        {
            "image": {"repository": values["image"]["repository"], "tag": "{{.head_sha}}"},
            "replicaCount": ctx.spec.previews.replicas,
            # A preview runs as the namespace's default ServiceAccount: no AWS identity, no
            # secrets of the dev environment.
            "serviceAccountName": "default",
            "secretName": "",
            "ingress": {
                **values["ingress"],
                "enabled": bool(host),
                "host": host,
                "tlsSecretName": "",
            },
            "autoscaling": {**values["autoscaling"], "enabled": False},
        }
    )
    return values


def _application_template(ctx: Context, p: Placement) -> dict[str, Any]:
    labels = {**ctx.labels(Environment.DEV), PREVIEW: "true"}
    namespace = namespace_prefix(ctx) + "{{.number}}"
    return {
        "metadata": {
            "name": namespace,
            "labels": labels,
            # Argo CD deletes what a preview deployed before its Application goes.
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": project_name(ctx),
            "source": {
                "repoURL": f"{repository.url(ctx)}.git",
                "path": delivery.CHART_PATH,
                "targetRevision": "{{.head_sha}}",
                "helm": {"valuesObject": _values(ctx, p)},
            },
            "destination": {"name": p.cluster.destination, "namespace": namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                "managedNamespaceMetadata": {"labels": _namespace_labels(ctx)},
                "retry": {
                    "limit": 5,
                    "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
                },
            },
        },
    }


def _generate(name: str, kind: str, api_version: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "namespace": "{{request.object.metadata.name}}",
        # Kept as generated: a tenant that edits or deletes one gets it back.
        "synchronize": True,
        "data": data,
    }


def generate_rules(ctx: Context, p: Placement) -> list[dict[str, Any]]:
    """What each preview namespace gets, as the tenant's namespaces get it from Plinth."""
    assert ctx.tenant is not None
    assert ctx.accounts is not None
    tctx = TenantContext(
        claim=ctx.claim,
        spec=ctx.tenant,
        observed=ctx.observed,
        out=ctx.out,
        placements=[],
        accounts=ctx.accounts,
    )
    tplacement = TenantPlacement(Environment.DEV, p.cluster, ())
    labels = {**ctx.labels(Environment.DEV), PREVIEW: "true"}
    meta = {"metadata": {"labels": labels}}
    generated: list[tuple[str, dict[str, Any]]] = [
        (
            "resource-quota",
            _generate(
                "tenant-quota", "ResourceQuota", "v1", {**meta, "spec": {"hard": quotas.hard(tctx)}}
            ),
        ),
        (
            "limit-range",
            _generate(
                "tenant-limits", "LimitRange", "v1", {**meta, "spec": {"limits": quotas.LIMITS}}
            ),
        ),
        (
            "netpol-default-deny",
            _generate(
                network_policies.DENY,
                "NetworkPolicy",
                "networking.k8s.io/v1",
                {**meta, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
            ),
        ),
    ]
    for name, spec in network_policies.policies(tctx, tplacement).items():
        generated.append(
            (
                f"netpol-{name}",
                _generate(name, "NetworkPolicy", "networking.k8s.io/v1", {**meta, "spec": spec}),
            )
        )
    generated += [
        ("deployer", _generate(DEPLOYER, "ServiceAccount", "v1", dict(meta))),
        (
            "deployer-binding",
            _generate(
                DEPLOYER,
                "RoleBinding",
                "rbac.authorization.k8s.io/v1",
                {
                    **meta,
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "edit",
                    },
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "name": DEPLOYER,
                            "namespace": "{{request.object.metadata.name}}",
                        }
                    ],
                },
            ),
        ),
        (
            "config",
            _generate(
                config.configmap_name(ctx),
                "ConfigMap",
                "v1",
                {
                    **meta,
                    "data": {
                        "PLINTH_APP": ctx.claim.name,
                        "PLINTH_ENVIRONMENT": Environment.DEV.value,
                        "PLINTH_PREVIEW": "true",
                    },
                },
            ),
        ),
    ]
    match = {
        "any": [
            {
                "resources": {
                    "kinds": ["Namespace"],
                    "names": [namespace_pattern(ctx)],
                    "selector": {
                        "matchLabels": {TEAM: ctx.team, APP: ctx.claim.name, PREVIEW: "true"}
                    },
                }
            }
        ]
    }
    return [{"name": name, "match": match, "generate": gen} for name, gen in generated]


def build(ctx: Context) -> None:
    previews = ctx.spec.previews
    if previews is None:
        return
    _check(ctx)
    gh = ctx.github
    p = placement(ctx)
    crns = (PROJECT_CRN, APPSET_CRN, POLICY_CRN)
    if p is None:
        if ctx.tenant is not None:
            ctx.out.warnings.append("previews: the app has no dev cluster to run previews on")
        for crn in crns:
            ctx.out.wait(crn, ctx.tenant_wait or "waiting for the app's dev placement")
        return
    if not ctx.delivers(p) or ctx.account(None) is None:
        for crn in crns:
            ctx.out.wait(crn, ctx.delivery_wait(p) or ctx.account_wait(None))
        return
    platform = ctx.claim.platform
    labels = ctx.labels(Environment.DEV)
    pattern = namespace_pattern(ctx)
    project = argocd.app_project(
        project_name(ctx),
        namespace=platform.argocd.namespace,
        description=f"Pull request previews of app {ctx.claim.name} of team {ctx.team}",
        source_repos=[f"{repository.url(ctx)}.git"],
        destinations=[{"name": p.cluster.destination, "namespace": pattern}],
        labels=labels,
    )
    # CreateNamespace needs Namespace admitted; the destinations above admit only preview names.
    project["spec"]["clusterResourceWhitelist"] = [{"group": "", "kind": "Namespace"}]
    project["spec"]["destinationServiceAccounts"] = [
        {"server": "*", "namespace": pattern, "defaultServiceAccount": DEPLOYER}
    ]
    appset = argocd.pull_request_application_set(
        ctx.claim.shared_name(ctx.claim.name, "previews"),
        namespace=platform.argocd.namespace,
        labels=labels,
        owner=gh.owner,
        repo=ctx.repo_name,
        pr_labels=[previews.label],
        requeue_after_seconds=previews.requeue_after_seconds,
        token_secret=gh.pull_request_token_secret,
        template=_application_template(ctx, p),
    )
    policy = kyverno.cluster_policy(
        ctx.claim.shared_name(ctx.claim.name, "previews"),
        labels=labels,
        rules=generate_rules(ctx, p),
        description=f"Preview namespaces of app {ctx.claim.name} of team {ctx.team} get the "
        "tenant's quota, limits, network policies and deployer.",
    )
    mgmt = platform.provider_configs.kubernetes_management
    # The namespace policy first: no preview namespace may exist before it gets its quota.
    ctx.out.add(
        POLICY_CRN,
        k8s.object_(
            ctx.claim,
            name=ctx.name(POLICY_CRN),
            labels=labels,
            manifest=policy,
            provider_config=p.cluster.kubernetes_provider_config,
            readiness=k8s.Readiness.DERIVE_FROM_OBJECT,
        ),
    )
    ctx.out.add(
        PROJECT_CRN,
        k8s.object_(
            ctx.claim,
            name=ctx.name(PROJECT_CRN),
            labels=labels,
            manifest=project,
            provider_config=mgmt,
        ),
    )
    ctx.out.add(
        APPSET_CRN,
        k8s.object_(
            ctx.claim,
            name=ctx.name(APPSET_CRN),
            labels=labels,
            manifest=appset,
            provider_config=mgmt,
        ),
        after=(POLICY_CRN, PROJECT_CRN),
        reason="waiting for the previews' namespace policy and AppProject before any preview",
    )
