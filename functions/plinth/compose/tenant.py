"""Compose a TenantClaim: the team's namespaces on every cluster of its environments."""

from __future__ import annotations

from plinth.api.base import ApiModel
from plinth.api.tenant import TenantSpec
from plinth.builders import kubernetes as k8s
from plinth.composition import Claim, Composition, Observed, Required
from plinth.labels import claim_labels


def namespaces_of(spec: TenantSpec, env_index: int) -> list[str]:
    env = spec.environments[env_index]
    return [f"{spec.team}-{s}" for s in env.namespaces] or [spec.team]


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, TenantSpec)
    out = Composition(claim)
    platform = claim.platform
    status_ns: list[dict[str, str]] = []
    for i, env in enumerate(spec.environments):
        clusters = platform.clusters_for(env.name)
        if not clusters:
            out.warnings.append(f"the platform has no cluster for environment {env.name.value}")
        for cluster in clusters:
            for ns in namespaces_of(spec, i):
                labels = claim_labels(claim, team=spec.team, environment=env.name.value)
                crn = f"namespace-{cluster.name}-{ns}"
                out.add(
                    crn,
                    k8s.object_(
                        claim,
                        name=claim.resource_name(crn),
                        labels=labels,
                        manifest=k8s.namespace(ns, labels),
                        provider_config=cluster.kubernetes_provider_config,
                    ),
                )
                status_ns.append(
                    {
                        "environment": env.name.value,
                        "cluster": cluster.name,
                        "region": cluster.region,
                        "namespace": ns,
                    }
                )
    out.status["namespaces"] = status_ns
    return out
