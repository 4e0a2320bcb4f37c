"""Argo CD manifests (Application, AppProject), delivered into the management cluster's Argo CD
namespace through provider-kubernetes Objects."""

from __future__ import annotations

from typing import Any

from plinth.builders.kubernetes import manifest

API_VERSION = "argoproj.io/v1alpha1"

# Argo CD should not treat a failed sync as final for resources whose CRDs arrive later.
DEFAULT_SYNC_OPTIONS = ["CreateNamespace=false", "ServerSideApply=true"]


def application(
    name: str,
    *,
    namespace: str,
    project: str,
    repo_url: str,
    path: str,
    target_revision: str,
    destination_name: str,
    destination_namespace: str,
    helm_values: dict[str, Any],
    automated: bool,
    labels: dict[str, str],
    value_files: list[str] | None = None,
) -> dict[str, Any]:
    """An Argo CD Application syncing a Helm chart from a repository into one namespace.

    `helm_values` (valuesObject) override `value_files`, which may be missing from the chart.
    """
    helm: dict[str, Any] = {"valuesObject": helm_values}
    if value_files:
        helm = {"valueFiles": value_files, "ignoreMissingValueFiles": True, **helm}
    sync_policy: dict[str, Any] = {
        "syncOptions": list(DEFAULT_SYNC_OPTIONS),
        "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
    }
    if automated:
        sync_policy["automated"] = {"prune": True, "selfHeal": True}
    return manifest(
        API_VERSION,
        "Application",
        name,
        namespace=namespace,
        labels=labels,
        spec={
            "project": project,
            "source": {
                "repoURL": repo_url,
                "path": path,
                "targetRevision": target_revision,
                "helm": helm,
            },
            "destination": {"name": destination_name, "namespace": destination_namespace},
            "syncPolicy": sync_policy,
        },
    )


def app_project(
    name: str,
    *,
    namespace: str,
    description: str,
    source_repos: list[str],
    destinations: list[dict[str, str]],
    labels: dict[str, str],
) -> dict[str, Any]:
    """An AppProject that admits only the given sources and destinations, nothing cluster-wide."""
    return manifest(
        API_VERSION,
        "AppProject",
        name,
        namespace=namespace,
        labels=labels,
        spec={
            "description": description,
            "sourceRepos": source_repos,
            "destinations": destinations,
            # Empty whitelist: a tenant's apps may create no cluster-scoped resource.
            "clusterResourceWhitelist": [],
            # Namespaces and quotas belong to the TenantClaim, not to the tenant's apps.
            "namespaceResourceBlacklist": [
                {"group": "", "kind": "ResourceQuota"},
                {"group": "", "kind": "LimitRange"},
                {"group": "networking.k8s.io", "kind": "NetworkPolicy"},
            ],
        },
    )


def pull_request_application_set(
    name: str,
    *,
    namespace: str,
    labels: dict[str, str],
    owner: str,
    repo: str,
    pr_labels: list[str],
    requeue_after_seconds: int,
    token_secret: str | None,
    template: dict[str, Any],
) -> dict[str, Any]:
    """An ApplicationSet whose pull request generator makes one Application per open pull
    request with the labels; Argo CD deletes it when the pull request closes."""
    github: dict[str, Any] = {"owner": owner, "repo": repo, "labels": pr_labels}
    if token_secret:
        github["tokenRef"] = {"secretName": token_secret, "key": "token"}
    return manifest(
        API_VERSION,
        "ApplicationSet",
        name,
        namespace=namespace,
        labels=labels,
        spec={
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [
                {
                    "pullRequest": {
                        "github": github,
                        "requeueAfterSeconds": requeue_after_seconds,
                    }
                }
            ],
            # Only the generator's Applications, never ones edited by hand: the ApplicationSet
            # is Plinth's, and so is what it generates.
            "syncPolicy": {"applicationsSync": "sync", "preserveResourcesOnDeletion": False},
            "template": template,
        },
    )
