"""The legacy flavor beside v2 in the dev cluster (`plinth dev up --legacy`).

Its XRDs, Compositions and the activation of the cluster-scoped managed resource kinds its
composites compose come with the legacy Configuration package, which `plinth dev up` installs
through the package manager like the v2 one (`install.apply_configuration`). What no package
carries is the cluster-scoped provider-kubernetes ProviderConfigs legacy Objects reference: a
platform team creates those for its clusters, and this module does it for the dev cluster, so a
team mid-migration (the claim repository example's `search`) composes here as it would in a
real management cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from plinth.api.platform import PlatformConfig
from plinth.devcluster import workload


def provider_configs_docs(platform_path: Path) -> list[dict[str, Any]]:
    """A cluster-scoped provider-kubernetes ProviderConfig per name the platform gives its
    clusters (legacy Objects reference those, not ClusterProviderConfigs), each reaching its
    cluster through the kubeconfig Secret its v2 ClusterProviderConfig reads."""
    docs = [d for d in yaml.safe_load_all(platform_path.read_text()) if d]
    platform = PlatformConfig.model_validate(docs[0]["data"])
    return [
        {
            "apiVersion": "kubernetes.crossplane.io/v1alpha1",
            "kind": "ProviderConfig",
            "metadata": {"name": name},
            "spec": {
                "credentials": {
                    "source": "Secret",
                    "secretRef": {
                        "namespace": "crossplane-system",
                        "name": workload.kubeconfig_secret(platform, name),
                        "key": "kubeconfig",
                    },
                }
            },
        }
        for name in workload.provider_configs(platform)
    ]
