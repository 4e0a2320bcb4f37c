"""cert-manager manifests, delivered into workload clusters through provider-kubernetes Objects."""

from __future__ import annotations

from typing import Any

from plinth.builders.kubernetes import manifest

API_VERSION = "cert-manager.io/v1"


def certificate(
    name: str,
    *,
    namespace: str,
    labels: dict[str, str],
    dns_names: list[str],
    secret_name: str,
    cluster_issuer: str,
) -> dict[str, Any]:
    return manifest(
        API_VERSION,
        "Certificate",
        name,
        namespace=namespace,
        labels=labels,
        spec={
            "secretName": secret_name,
            "dnsNames": dns_names,
            "issuerRef": {
                "group": "cert-manager.io",
                "kind": "ClusterIssuer",
                "name": cluster_issuer,
            },
        },
    )
