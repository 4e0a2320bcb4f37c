"""What every managed resource has, whichever provider reconciles it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plinth.core.bodies import Body
from plinth.core.composition import Claim

EXTERNAL_NAME = "crossplane.io/external-name"

# Without "Delete", Crossplane leaves the external resource in place when the managed resource
# goes away: the v2 way to orphan (namespaced MRs have no deletionPolicy).
ORPHAN_POLICIES = ["Observe", "Create", "Update", "LateInitialize"]


@dataclass(frozen=True)
class ProviderConfigRef:
    """A provider config by name. In v2, `kind` says ClusterProviderConfig or ProviderConfig."""

    name: str
    kind: str = "ClusterProviderConfig"


def metadata(
    claim: Claim,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if claim.flavor.namespaced:
        meta["namespace"] = claim.namespace
    meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def managed(
    claim: Claim,
    *,
    api_version: str,
    kind: str,
    name: str,
    labels: dict[str, str],
    spec: dict[str, Any],
    provider_config: ProviderConfigRef | None,
    external_name: str | None = None,
    orphan: bool = False,
    annotations: dict[str, str] | None = None,
) -> Body:
    """A managed resource body with Plinth's metadata, providerConfigRef and deletion policy."""
    if external_name:
        annotations = {EXTERNAL_NAME: external_name, **(annotations or {})}
    full_spec = dict(spec)
    if provider_config is not None:
        full_spec["providerConfigRef"] = claim.flavor.provider_config_ref(
            provider_config.name, kind=provider_config.kind
        )
    if orphan:
        if claim.flavor.namespaced:
            full_spec["managementPolicies"] = list(ORPHAN_POLICIES)
        else:
            full_spec["deletionPolicy"] = "Orphan"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata(claim, name, labels, annotations),
        "spec": full_spec,
    }
