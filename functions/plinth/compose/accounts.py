"""Which AWS account a claim acts in: its id, ProviderConfig, region and network.

One resolver for tenants and apps. An account is named either by an AccountClaim in the claim's
own namespace (its status reports id, ProviderConfig, region, VPC and private subnets) or by an
account id with a ProviderConfig that acts in it.

In the v2 flavor that ProviderConfig is namespaced and lives in the claim's namespace, so a
team can only act through ProviderConfigs of its own. Legacy ProviderConfigs are
cluster-scoped: any claim could name another team's, or the platform's own. So in the legacy
flavor the function reads the ProviderConfig and acts through it only when it is labelled
`plinth.dev/team: <the claim's team>` (AccountClaims label the ones they compose; the platform
labels those it makes for accounts given by id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plinth.api.catalog import ACCOUNT
from plinth.api.tenant import AccountRef
from plinth.builders.common import ProviderConfigRef
from plinth.core.composition import Claim, Required, Requirement
from plinth.core.labels import TEAM
from plinth.core.tenancy import Refused, describe

ACCOUNT_REQUIREMENT = "account"
PROVIDER_CONFIG_REQUIREMENT = "provider-config"
LEGACY_PROVIDER_CONFIG_API = "aws.upbound.io/v1beta1"


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class Account:
    """An AWS account a claim acts in, once known."""

    id: str
    provider_config: ProviderConfigRef
    region: str
    # The VPC and private subnets, when an AccountClaim reports them.
    network: Network | None = None

    def role_arn(self, partition: str, name: str) -> str:
        return f"arn:{partition}:iam::{self.id}:role/{name}"


def _account_claim(claim: Claim, required: Required) -> dict[str, Any] | None:
    found = required.get(ACCOUNT_REQUIREMENT)
    return found[0] if found else None


def _provider_config_name(ref: AccountRef, account: dict[str, Any] | None) -> str | None:
    if ref.provider_config:
        return ref.provider_config
    status = (account or {}).get("status") or {}
    pc = status.get("providerConfig")
    return str(pc) if pc else None


def requirements(claim: Claim, ref: AccountRef, required: Required) -> dict[str, Requirement]:
    """The resources Crossplane must fetch to resolve `ref` (they may depend on each other)."""
    out: dict[str, Requirement] = {}
    if ref.claim_name is not None:
        out[ACCOUNT_REQUIREMENT] = Requirement(
            api_version=ACCOUNT.api_version(claim.flavor.flavor),
            kind=ACCOUNT.kind,
            name=ref.claim_name,
            namespace=claim.namespace,
        )
    pc = _provider_config_name(ref, _account_claim(claim, required))
    if pc is not None and not claim.flavor.namespaced:
        out[PROVIDER_CONFIG_REQUIREMENT] = Requirement(
            api_version=LEGACY_PROVIDER_CONFIG_API, kind="ProviderConfig", name=pc
        )
    return out


def _check_legacy_owner(claim: Claim, name: str, required: Required) -> str | None:
    """None when the team may act through the cluster-scoped ProviderConfig `name`, else why
    it waits; Refused when it belongs to someone else."""
    found = required.get(PROVIDER_CONFIG_REQUIREMENT)
    if not found:
        return f"waiting for ProviderConfig {name!r}: it does not exist yet"
    labels = (found[0].get("metadata") or {}).get("labels") or {}
    owner = labels.get(TEAM)
    if owner == claim.team.name:
        return None
    if owner:
        raise Refused(f"ProviderConfig {name!r} belongs to {describe(claim.platform, owner)}")
    raise Refused(
        f"ProviderConfig {name!r} is not labelled {TEAM}={claim.team.name}: legacy "
        "ProviderConfigs are cluster-scoped, so the platform labels each with the one team that "
        "may act through it"
    )


def resolve(claim: Claim, ref: AccountRef, required: Required) -> Account | str:
    """The account, or a sentence saying what it waits for. Refused when it is another team's."""
    region = claim.platform.default_region
    account = _account_claim(claim, required)
    where = f"AccountClaim {ref.claim_name!r} in namespace {claim.namespace!r}"
    if ref.claim_name is not None:
        if account is None:
            return f"waiting for {where}: it does not exist yet"
        if (account.get("metadata") or {}).get("namespace") != claim.namespace:
            raise Refused(
                f"AccountClaim {ref.claim_name!r} handed over from namespace "
                f"{(account.get('metadata') or {}).get('namespace')!r}: a claim may only use an "
                "account of its own namespace"
            )
    pc = _provider_config_name(ref, account)
    status = (account or {}).get("status") or {}
    account_id = ref.account_id or status.get("accountId")
    if not account_id or not pc:
        return f"waiting for {where} to report its account id and ProviderConfig"
    if not claim.flavor.namespaced and (wait := _check_legacy_owner(claim, pc, required)):
        return wait
    network = None
    subnets = (status.get("subnetIds") or {}).get("private") or []
    if status.get("vpcId") and subnets:
        network = Network(str(status["vpcId"]), tuple(str(s) for s in subnets))
    return Account(
        str(account_id),
        ProviderConfigRef(pc, kind="ProviderConfig"),
        str(status.get("region") or region),
        network,
    )
