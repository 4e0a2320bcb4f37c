"""What every part of an app's composition shares: the claim, its tenant, account and placements.

Gates, named once here and used by every module:

* `tenant` - the app's TenantClaim (same namespace) exists and its spec is valid;
* `account` - the tenant's account id, AWS ProviderConfig and region are known (AWS resources);
* `network` - the account's VPC and private subnets are known (databases, caches);
* `tenant_ready` - the tenant reports Ready, so its namespaces exist (in-cluster objects).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from plinth.api.app import AppEnvironment, AppSpec
from plinth.api.base import Environment
from plinth.api.platform import Cluster
from plinth.api.tenant import TenantSpec, namespace_names
from plinth.builders import aws
from plinth.builders import kubernetes as k8s
from plinth.compose.accounts import Account, Network
from plinth.core.composition import Claim, Composition, Observed
from plinth.core.labels import aws_tags, claim_labels
from plinth.core.naming import aws_name


@dataclass(frozen=True)
class Placement:
    """The app in one environment on one cluster, in one of the tenant's namespaces."""

    env: AppEnvironment
    cluster: Cluster
    namespace: str

    @property
    def environment(self) -> Environment:
        return self.env.name


@dataclass
class Context:
    claim: Claim
    spec: AppSpec
    observed: Observed
    out: Composition
    tenant: TenantSpec | None = None
    tenant_ready: bool = False
    tenant_wait: str = ""
    account: Account | None = None
    account_wait: str = ""
    network: Network | None = None
    network_wait: str = ""
    placements: list[Placement] = field(default_factory=list)
    # Per environment: ConfigMap keys, ExternalSecret entries, workload policy statements.
    config: dict[Environment, dict[str, str]] = field(default_factory=dict)
    secrets: dict[Environment, list[dict[str, Any]]] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)
    resource_status: list[dict[str, Any]] = field(default_factory=list)

    # --- names -----------------------------------------------------------------------------

    @property
    def team(self) -> str:
        """The team of the claim's namespace (plinth.core.tenancy), which is also its tenant's."""
        return self.claim.team.name

    @property
    def repo_name(self) -> str:
        """`<team>-<app>`: the names the tenant's AppProject admits (`<team>` and `<team>-*`),
        and the stem of every name the app has in a shared place."""
        return self.claim.shared_name(self.claim.name)

    def aws(self, resource: str, *parts: str, suffix: str = "") -> str:
        return aws_name(resource, self.repo_name, *parts, suffix=suffix)

    def name(self, crn: str) -> str:
        return self.claim.resource_name(crn)

    def labels(self, environment: Environment | None = None) -> dict[str, str]:
        return claim_labels(
            self.claim,
            team=self.team,
            app=self.claim.name,
            environment=environment.value if environment else None,
        )

    def tags(self, environment: Environment | None = None) -> dict[str, str]:
        return aws_tags(self.claim, self.labels(environment))

    @property
    def partition(self) -> str:
        return aws.partition(
            self.account.region if self.account else self.claim.platform.default_region
        )

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        assert self.account is not None
        where = self.account.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{self.account.id}:{resource}"

    def role_arn(self, name: str, account_id: str | None = None) -> str:
        assert self.account is not None
        return f"arn:{self.partition}:iam::{account_id or self.account.id}:role/{name}"

    # --- environments ----------------------------------------------------------------------

    def prod(self, env: Environment) -> bool:
        return env is Environment.PROD

    # --- adding resources behind gates -------------------------------------------------------

    def in_namespace(
        self,
        crn: str,
        p: Placement,
        api_version: str,
        kind: str,
        name: str,
        readiness: k8s.Readiness = k8s.Readiness.SUCCESSFUL_CREATE,
        **body: Any,
    ) -> None:
        """Add an Object carrying `kind/name` into the app's namespace on `p`'s cluster."""
        labels = self.labels(p.environment)
        self.out.add(
            crn,
            k8s.object_(
                self.claim,
                name=self.name(crn),
                labels=labels,
                provider_config=p.cluster.kubernetes_provider_config,
                readiness=readiness,
                manifest=k8s.manifest(
                    api_version, kind, name, namespace=p.namespace, labels=labels, **body
                ),
            ),
        )

    def ready(self, crn: str) -> bool:
        return self.observed.ready(crn)

    def at(self, crn: str, *path: str) -> Any:
        return self.observed.get(crn, "status", "atProvider", *path)


def placements_for(
    claim: Claim, spec: AppSpec, tenant: TenantSpec, out: Composition
) -> list[Placement]:
    """Where each environment runs: the tenant's clusters of that environment (its pins too)."""
    found: list[Placement] = []
    for env in spec.environments:
        index = next((i for i, e in enumerate(tenant.environments) if e.name == env.name), None)
        if index is None:
            out.warnings.append(
                f"tenant {spec.tenant!r} has no {env.name.value} environment; add it to the "
                "TenantClaim first"
            )
            continue
        namespaces = namespace_names(claim.team.name, tenant.environments[index])
        namespace = env.namespace or namespaces[0]
        if namespace not in namespaces:
            out.warnings.append(
                f"{env.name.value}: {namespace!r} is not one of tenant {spec.tenant!r}'s "
                f"namespaces ({', '.join(namespaces)})"
            )
            continue
        pins = tenant.environments[index].clusters
        for cluster in claim.platform.clusters_for(env.name):
            if not pins or cluster.name in pins:
                found.append(Placement(env, cluster, namespace))
    return found


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)
