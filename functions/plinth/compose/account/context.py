"""What every part of an account's composition needs: the claim, its spec, names and tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from plinth.api.account import AccountSpec, NatMode, Tier
from plinth.api.base import Environment
from plinth.api.platform import PlatformConfig
from plinth.builders import aws
from plinth.builders.common import ProviderConfigRef
from plinth.core.bodies import Body
from plinth.core.composition import Claim
from plinth.core.labels import aws_tags, claim_labels

# The organizations Account's composition-resource-name; kept from the first release so an
# existing account is never re-created.
ACCOUNT = "account"
PROVIDER_CONFIG = "provider-config"


@dataclass(frozen=True)
class Planned:
    """A resource the spec implies."""

    crn: str
    body: Body
    # Resources that must be ready first (Composition.add's gate), and why it waits.
    after: tuple[str, ...] = ()
    after_reason: str = ""


@dataclass
class Context:
    claim: Claim
    spec: AccountSpec
    region: str
    # Empty until AWS Organizations reports the account; bodies built without it are only
    # used for their composition-resource-names (what the spec implies), never applied.
    account_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, claim: Claim, spec: AccountSpec, account_id: str = "") -> Context:
        return cls(
            claim=claim,
            spec=spec,
            region=spec.region or claim.platform.default_region,
            account_id=account_id,
            labels=claim_labels(claim, team=claim.team.name, environment=spec.environment.value),
        )

    @property
    def platform(self) -> PlatformConfig:
        return self.claim.platform

    @property
    def partition(self) -> str:
        return aws.partition(self.region)

    @cached_property
    def provider_config_name(self) -> str:
        # Short and predictable: the team's other claims name it in their providerConfigRef.
        return self.claim.resource_name("aws")

    def name(self, crn: str) -> str:
        """metadata.name of the resource `crn`: derived from the crn alone, so it never changes."""
        return self.claim.resource_name(crn)

    @cached_property
    def _tags(self) -> dict[str, str]:
        """aws_tags of the labels, which every AWS resource of the account starts from."""
        return aws_tags(self.claim, self.labels)

    def tags(self, name_tag: str | None = None, **extra: str) -> dict[str, str]:
        tags = dict(self._tags)
        tags.update(extra)
        if name_tag:
            tags["Name"] = name_tag
        return tags

    def ref(self, crn: str) -> dict[str, Any]:
        """A cross-resource reference to another composed managed resource."""
        return {"name": self.name(crn)}

    @cached_property
    def account_provider_config(self) -> ProviderConfigRef:
        """The account's own ProviderConfig: namespaced in v2, so its kind is ProviderConfig."""
        return ProviderConfigRef(self.provider_config_name, kind="ProviderConfig")

    @property
    def nat_mode(self) -> NatMode:
        nat = self.spec.network.nat
        if nat is None:
            if Tier.PUBLIC not in self.spec.network.tiers:
                return NatMode.NONE
            return NatMode.PER_AZ if self.spec.environment is Environment.PROD else NatMode.SINGLE
        return nat

    @property
    def backup_enabled(self) -> bool:
        enabled = self.spec.backup.enabled
        return self.spec.environment is Environment.PROD if enabled is None else enabled
