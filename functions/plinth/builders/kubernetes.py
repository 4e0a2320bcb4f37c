"""provider-kubernetes `Object`s and the Kubernetes manifests they carry.

Anything that lives in a cluster other than the management cluster, or in a namespace other
than the claim's own (a v2 composite composes only into its own namespace), is wrapped in an
`Object` and reconciled by provider-kubernetes through the named provider config.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from plinth.builders.common import ProviderConfigRef, managed
from plinth.composition import Body, Claim


class Readiness(StrEnum):
    """How provider-kubernetes decides that an Object is ready."""

    # The embedded kind never reports conditions (Namespace, NetworkPolicy, RoleBinding, ...).
    SUCCESSFUL_CREATE = "SuccessfulCreate"
    # The embedded kind reports a Ready condition (cert-manager Certificate, ExternalSecret).
    DERIVE_FROM_OBJECT = "DeriveFromObject"
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
    """A provider-kubernetes Object that creates `manifest` in the cluster `provider_config` reaches."""
    ready: dict[str, Any] = {"policy": readiness.value}
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
    )


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return manifest("v1", "Namespace", name, labels=labels)
