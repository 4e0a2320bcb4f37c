"""What every part of an app's composition shares: the claim, its tenant, its accounts and
placements, and what the resource modules contribute to the rest.

Gates, named once here and used by every module:

* `tenant` - the app's TenantClaim (same namespace) exists and its spec is valid;
* `account(env)` - the account of an environment (id, AWS ProviderConfig, region) is known
  (AWS resources of that environment); `account(None)` is the tenant's home account, where
  the image repository and the CI role live;
* `network(env)` - that account's VPC and private subnets are known (databases, caches);
* `delivers(p)` - the tenant reports the placement's namespace ready on its cluster (isolated,
  bound, guardrails and AppProject in place: `status.namespaces[].ready`), or reports Ready as a
  whole (a tenant composed before it said so per namespace): the app's in-cluster objects;
* `github` - the platform's GitHub organization (repository, delivery, images, previews): a
  platform config without one is incomplete for apps, a Fatal result naming `data.github`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from plinth.api.app import AppEnvironment, AppSpec
from plinth.api.base import Environment
from plinth.api.platform import Cluster, GitHub
from plinth.api.tenant import TenantSpec, namespace_names
from plinth.builders import aws
from plinth.builders import kubernetes as k8s
from plinth.compose.accounts import Account, Accounts, Network
from plinth.core.composition import Claim, Composition, Observed, PlatformIncomplete
from plinth.core.labels import aws_tags, claim_labels
from plinth.core.naming import aws_name


@dataclass
class Contribution:
    """What a resource module hands the rest of the app: ConfigMap keys and ExternalSecret
    entries per environment (config.py), workload policy statements per environment
    (identity.py), and status entries."""

    config: dict[Environment, dict[str, str]] = field(default_factory=dict)
    secrets: dict[Environment, list[dict[str, Any]]] = field(default_factory=dict)
    statements: dict[Environment, list[dict[str, Any]]] = field(default_factory=dict)
    status: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, *others: Contribution) -> Contribution:
        out = Contribution(
            {k: dict(v) for k, v in self.config.items()},
            {k: list(v) for k, v in self.secrets.items()},
            {k: list(v) for k, v in self.statements.items()},
            list(self.status),
        )
        for o in others:
            for env, kv in o.config.items():
                out.config.setdefault(env, {}).update(kv)
            for env, items in o.secrets.items():
                out.secrets.setdefault(env, []).extend(items)
            for env, items in o.statements.items():
                out.statements.setdefault(env, []).extend(items)
            out.status.extend(o.status)
        return out


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
    # (cluster, namespace) the tenant reports ready for apps to deliver into.
    tenant_namespaces: frozenset[tuple[str, str]] = frozenset()
    accounts: Accounts | None = None
    placements: list[Placement] = field(default_factory=list)

    # --- the tenant ----------------------------------------------------------------------------

    def delivers(self, p: Placement) -> bool:
        """Whether the app may put objects into `p`'s namespace (the `delivers(p)` gate)."""
        return self.tenant_ready or (p.cluster.name, p.namespace) in self.tenant_namespaces

    def delivery_wait(self, p: Placement) -> str:
        if self.tenant is None or self.tenant_ready:
            return self.tenant_wait
        return (
            f"waiting for TenantClaim {self.spec.tenant!r} in namespace {self.claim.namespace!r} "
            f"to make namespace {p.namespace!r} on cluster {p.cluster.name} ready (isolation, "
            "RBAC, guardrails and AppProject)"
        )

    # --- accounts --------------------------------------------------------------------------

    def account(self, env: Environment | None) -> Account | None:
        """The account of `env` (None: the tenant's home account), once known."""
        return self.accounts.of(env) if self.accounts is not None else None

    def account_wait(self, env: Environment | None) -> str:
        if self.accounts is None:
            return self.tenant_wait
        return self.accounts.wait(env)

    def suffix(self, env: Environment | None) -> str:
        """What names a per-account resource (workload role, subnet groups) of `env`'s
        account: '' in the home account (the names of old), else the account's key."""
        return self.accounts.suffix(env) if self.accounts is not None else ""

    def network(self, env: Environment) -> Network | None:
        """Where the databases and caches of `env` go: the environment's own network, else the
        app's, else the VPC and private subnets its account's AccountClaim reports."""
        spec_env = next(e for e in self.spec.environments if e.name is env)
        given = spec_env.network or self.spec.network
        if given is not None:
            return Network(given.vpc_id, tuple(given.subnet_ids))
        account = self.account(env)
        return account.network if account is not None else None

    def network_wait(self, env: Environment) -> str:
        if self.account(env) is None:
            return self.account_wait(env)
        ref = self.accounts.refs.get(env) if self.accounts is not None else None
        if ref is not None and ref.claim_name:
            return (
                "waiting for the account's VPC and private subnets (AccountClaim status.vpcId "
                "and status.subnetIds.private)"
            )
        return (
            "databases and caches need a network: the account of the "
            f"{env.value} environment is given by id, so set spec.network or "
            f"environments[{env.value}].network (vpcId, subnetIds)"
        )

    # --- the platform ----------------------------------------------------------------------

    @property
    def github(self) -> GitHub:
        """The platform's GitHub organization; every app has a repository there."""
        if self.claim.platform.github is None:
            raise PlatformIncomplete("data.github (where app repositories are created)")
        return self.claim.platform.github

    # --- names -----------------------------------------------------------------------------

    @property
    def team(self) -> str:
        """The team of the claim's namespace (plinth.core.tenancy), which is also its tenant's."""
        return self.claim.team.name

    @cached_property
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
        home = self.account(None)
        return aws.partition(home.region if home else self.claim.platform.default_region)

    def arn(
        self, env: Environment | None, service: str, resource: str, *, region: bool = True
    ) -> str:
        """An ARN in the account of `env` (None: the home account)."""
        account = self.account(env)
        assert account is not None
        where = account.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{account.id}:{resource}"

    def role_arn(self, name: str, account_id: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{name}"

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
