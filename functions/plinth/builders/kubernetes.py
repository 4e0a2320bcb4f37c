"""provider-kubernetes `Object`s and the Kubernetes manifests they carry.

Anything that lives in a cluster other than the management cluster, or in a namespace other
than the claim's own (a v2 composite composes only into its own namespace), is wrapped in an
`Object` and reconciled by provider-kubernetes through the named provider config.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from plinth.builders.common import ProviderConfigRef, managed
from plinth.core import readiness as rules
from plinth.core.bodies import Body
from plinth.core.composition import Claim


class Readiness(StrEnum):
    """How provider-kubernetes decides that an Object is ready."""

    # The embedded kind never reports conditions (Namespace, NetworkPolicy, RoleBinding, ...).
    SUCCESSFUL_CREATE = rules.SUCCESSFUL_CREATE
    # The embedded kind reports a Ready condition (cert-manager Certificate, ExternalSecret).
    # Stated with SuccessfulCreate until the provider created it (plinth.core.readiness).
    DERIVE_FROM_OBJECT = rules.DERIVE_FROM_OBJECT
    DERIVE_FROM_CEL = "DeriveFromCelQuery"


def manifest(
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    """A Kubernetes manifest: apiVersion, kind, metadata, and the rest of `body` as given."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def object_(
    claim: Claim,
    *,
    name: str,
    labels: dict[str, str],
    manifest: dict[str, Any],
    provider_config: str,
    readiness: Readiness = Readiness.SUCCESSFUL_CREATE,
    cel_query: str | None = None,
) -> Body:
    """A provider-kubernetes Object that creates `manifest` in the cluster `provider_config` reaches.

    Its external name is its own name, as provider-kubernetes would set it: stated here, the
    provider has one write less to make (and Crossplane one watch event less to count against
    the XR's circuit breaker) for every Object it takes over."""
    ready: dict[str, Any] = {"policy": readiness.value}
    derived = readiness is Readiness.DERIVE_FROM_OBJECT
    if readiness is Readiness.DERIVE_FROM_CEL:
        if not cel_query:
            raise ValueError("a CEL readiness query is required")
        ready["celQuery"] = cel_query
    return managed(
        claim,
        api_version=claim.flavor.object_api_version,
        kind="Object",
        name=name,
        labels=labels,
        spec={"forProvider": {"manifest": manifest}, "readiness": ready},
        provider_config=ProviderConfigRef(provider_config),
        external_name=name,
        annotations={rules.DERIVED_READINESS: readiness.value} if derived else None,
    )


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return manifest("v1", "Namespace", name, labels=labels)


def network_policy(
    name: str, namespace: str, labels: dict[str, str], spec: dict[str, Any]
) -> dict[str, Any]:
    return manifest(
        "networking.k8s.io/v1", "NetworkPolicy", name, namespace=namespace, labels=labels, spec=spec
    )


def resource_quota(
    name: str, namespace: str, labels: dict[str, str], hard: dict[str, str]
) -> dict[str, Any]:
    return manifest(
        "v1", "ResourceQuota", name, namespace=namespace, labels=labels, spec={"hard": hard}
    )


def limit_range(
    name: str, namespace: str, labels: dict[str, str], limits: list[dict[str, Any]]
) -> dict[str, Any]:
    return manifest(
        "v1", "LimitRange", name, namespace=namespace, labels=labels, spec={"limits": limits}
    )


def service_account(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return manifest("v1", "ServiceAccount", name, namespace=namespace, labels=labels)


def role_binding(
    name: str,
    namespace: str,
    labels: dict[str, str],
    *,
    cluster_role: str,
    subjects: list[dict[str, str]],
) -> dict[str, Any]:
    """A RoleBinding of a ClusterRole: the grant stays inside `namespace`."""
    return manifest(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        name,
        namespace=namespace,
        labels=labels,
        roleRef={
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": cluster_role,
        },
        subjects=subjects,
    )


def group_subject(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def service_account_subject(name: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}
