"""What every part of a tenant's composition shares: the claim, where it lands, its account."""

from __future__ import annotations

from dataclasses import dataclass, field

from plinth.api.base import Environment
from plinth.api.platform import Cluster
from plinth.api.tenant import MemberRole, TenantSpec
from plinth.builders import aws
from plinth.compose.accounts import Account
from plinth.core.composition import Claim, Composition, Observed
from plinth.core.labels import claim_labels


@dataclass(frozen=True)
class Placement:
    """The tenant's namespaces on one cluster of one environment."""

    environment: Environment
    cluster: Cluster
    namespaces: tuple[str, ...]


@dataclass
class Context:
    claim: Claim
    spec: TenantSpec
    observed: Observed
    out: Composition
    placements: list[Placement]
    account: Account | None
    # Why the account is not known yet; None when it is.
    account_wait: str | None
    levels: tuple[MemberRole, ...] = field(default=())

    @property
    def team(self) -> str:
        """The team of the claim's namespace (never spec.team: see plinth.core.tenancy)."""
        return self.claim.team.name

    def labels(self, environment: Environment | None = None) -> dict[str, str]:
        return claim_labels(
            self.claim,
            team=self.team,
            tenant=self.claim.name,
            environment=environment.value if environment else None,
        )

    def name(self, crn: str) -> str:
        return self.claim.resource_name(crn)

    @property
    def partition(self) -> str:
        return aws.partition(self.claim.platform.default_region)


def crn(kind: str, placement: Placement, namespace: str, *rest: str) -> str:
    """A composition resource name keyed by cluster and namespace, never by position, so that
    removing one environment or namespace never re-targets another's resources."""
    return "-".join((kind, placement.cluster.name, namespace, *rest))
