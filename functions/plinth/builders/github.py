"""provider-upjet-github managed resources (`*.github.m.upbound.io` in v2, `*.github.upbound.io`
legacy)."""

from __future__ import annotations

from typing import Any

from plinth.builders.common import ProviderConfigRef, managed
from plinth.core.bodies import Body
from plinth.core.composition import Claim


def resource(
    claim: Claim,
    service: str,
    kind: str,
    *,
    name: str,
    labels: dict[str, str],
    for_provider: dict[str, Any],
    provider_config: ProviderConfigRef,
    external_name: str | None = None,
    orphan: bool = False,
) -> Body:
    return managed(
        claim,
        api_version=claim.flavor.github_api_version(service),
        kind=kind,
        name=name,
        labels=labels,
        spec={"forProvider": dict(for_provider)},
        provider_config=provider_config,
        external_name=external_name,
        orphan=orphan,
    )
