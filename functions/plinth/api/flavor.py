"""The two API flavors Plinth serves from one set of models and one function.

* `v2` (default): Crossplane v2 namespaced composites in `platform.plinth.dev`; they compose
  namespaced managed resources (`*.m.upbound.io`, `kubernetes.m.crossplane.io`) that point
  at `ClusterProviderConfig`s.
* `legacy`: `apiextensions.crossplane.io/v1` XRDs with claims in `claims.plinth.dev`; they
  compose the cluster-scoped managed resource APIs that point at `ProviderConfig`s.

They live in two API groups because a claim's CRD name is `<plural>.<group>`: one group can
hold only one flavor, and a platform migrating its teams runs both at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Flavor(StrEnum):
    V2 = "v2"
    LEGACY = "legacy"


@dataclass(frozen=True)
class FlavorInfo:
    flavor: Flavor
    group: str
    xrd_api_version: str
    aws_group_suffix: str
    github_group_suffix: str
    object_api_version: str
    usage_kind: str
    namespaced: bool

    def aws_api_version(self, service: str, version: str = "v1beta1") -> str:
        return f"{service}.{self.aws_group_suffix}/{version}"

    def github_api_version(self, service: str, version: str = "v1alpha1") -> str:
        return f"{service}.{self.github_group_suffix}/{version}"

    def provider_config_ref(
        self, name: str, *, kind: str = "ClusterProviderConfig"
    ) -> dict[str, str]:
        """A providerConfigRef: v2 MRs name the kind, legacy MRs only the name."""
        if self.namespaced:
            return {"kind": kind, "name": name}
        return {"name": name}


API_VERSION = "v1alpha1"

FLAVORS: dict[Flavor, FlavorInfo] = {
    Flavor.V2: FlavorInfo(
        flavor=Flavor.V2,
        group="platform.plinth.dev",
        xrd_api_version="apiextensions.crossplane.io/v2",
        aws_group_suffix="aws.m.upbound.io",
        github_group_suffix="github.m.upbound.io",
        object_api_version="kubernetes.m.crossplane.io/v1alpha1",
        usage_kind="Usage",
        namespaced=True,
    ),
    Flavor.LEGACY: FlavorInfo(
        flavor=Flavor.LEGACY,
        group="claims.plinth.dev",
        xrd_api_version="apiextensions.crossplane.io/v1",
        aws_group_suffix="aws.upbound.io",
        github_group_suffix="github.upbound.io",
        object_api_version="kubernetes.crossplane.io/v1alpha2",
        usage_kind="ClusterUsage",
        namespaced=False,
    ),
}

GROUP_TO_FLAVOR = {info.group: info for info in FLAVORS.values()}
