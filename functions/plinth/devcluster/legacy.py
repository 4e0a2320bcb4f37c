"""The legacy flavor beside v2 in the dev cluster (`plinth dev up --legacy`): the
`claims.plinth.dev` XRDs and Compositions, the cluster-scoped kinds their composites compose,
and provider-kubernetes' cluster-scoped ProviderConfigs, so a team mid-migration (the claim
repository example's `search`) composes here as it would in a real management cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from plinth.api.catalog import CLAIMS
from plinth.api.flavor import Flavor
from plinth.api.platform import PlatformConfig
from plinth.generators.crossplane import composition, xrd

# What legacy tenants and apps compose before (and just after) their account is known, as
# CRD file prefixes; provider-kubernetes' cluster-scoped Object is in the v2 set already.
CRD_SETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "provider-upjet-aws",
        (
            "iam.aws.upbound.io_roles.",
            "eks.aws.upbound.io_accessentries.",
            "eks.aws.upbound.io_accesspolicyassociations.",
        ),
    ),
    (
        "provider-upjet-github",
        (
            "repo.github.upbound.io_repositories.",
            "repo.github.upbound.io_branchprotections.",
            "actions.github.upbound.io_actionsvariables.",
        ),
    ),
)


# The Secret `plinth dev up` gives every provider-kubernetes config (cluster.py, _bootstrap).
KUBECONFIG_SECRET = {
    "namespace": "crossplane-system",
    "name": "dev-cluster-kubeconfig",
    "key": "kubeconfig",
}


def provider_configs(platform_path: Path) -> list[str]:
    docs = [d for d in yaml.safe_load_all(platform_path.read_text()) if d]
    platform = PlatformConfig.model_validate(docs[0]["data"])
    return sorted(
        {platform.provider_configs.kubernetes_management}
        | {c.kubernetes_provider_config for c in platform.clusters}
    )


def install_docs(platform_path: Path) -> list[dict[str, Any]]:
    """The legacy XRDs and Compositions, and a cluster-scoped provider-kubernetes ProviderConfig
    per name the platform gives its clusters (legacy Objects reference those, not
    ClusterProviderConfigs), reaching this API server through the same kubeconfig Secret."""
    docs = [xrd(api, Flavor.LEGACY) for api in CLAIMS]
    docs += [composition(api, Flavor.LEGACY) for api in CLAIMS]
    docs += [
        {
            "apiVersion": "kubernetes.crossplane.io/v1alpha1",
            "kind": "ProviderConfig",
            "metadata": {"name": name},
            "spec": {"credentials": {"source": "Secret", "secretRef": dict(KUBECONFIG_SECRET)}},
        }
        for name in provider_configs(platform_path)
    ]
    return docs
