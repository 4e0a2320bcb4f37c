"""Kyverno manifests (ClusterPolicy), delivered to a workload cluster through
provider-kubernetes Objects."""

from __future__ import annotations

from typing import Any

from plinth.builders.kubernetes import manifest

API_VERSION = "kyverno.io/v1"


def cluster_policy(
    name: str,
    *,
    labels: dict[str, str],
    rules: list[dict[str, Any]],
    description: str,
    background: bool = True,
    autogen: bool = True,
) -> dict[str, Any]:
    annotations = {"policies.kyverno.io/description": description}
    if not autogen:
        # Mutations of Pods only, at admission: rewriting controllers' templates too would
        # make Argo CD see drift on every Deployment it syncs.
        annotations["pod-policies.kyverno.io/autogen-controllers"] = "none"
    return manifest(
        API_VERSION,
        "ClusterPolicy",
        name,
        labels=labels,
        annotations=annotations,
        spec={"background": background, "rules": rules},
    )


def match_pods_in(namespace_labels: dict[str, str]) -> dict[str, Any]:
    """Pods in namespaces with these labels (set only by Plinth on the namespaces it composes)."""
    return {
        "any": [
            {
                "resources": {
                    "kinds": ["Pod"],
                    "namespaceSelector": {"matchLabels": dict(namespace_labels)},
                }
            }
        ]
    }
