"""Which AWS account each environment acts in: its id, ProviderConfig, region and network.

One resolver for tenants and apps. An account is named either by an AccountClaim in the claim's
own namespace (its status reports id, ProviderConfig, region, VPC and private subnets) or by an
account id with a ProviderConfig that acts in it. Each environment of a TenantClaim names its
own, or uses the tenant's default (`spec.account`).

In the v2 flavor that ProviderConfig is namespaced and lives in the claim's namespace, so a
team can only act through ProviderConfigs of its own. Legacy ProviderConfigs are
cluster-scoped: any claim could name another team's, or the platform's own. So in the legacy
flavor the function reads the ProviderConfig and acts through it only when it is labelled
`plinth.dev/team: <the claim's team>` (AccountClaims label the ones they compose; the platform
labels those it makes for accounts given by id).

Per-account resources (a tenant's IAM roles, an app's workload role and subnet groups) are
named after the account they live in; those of the tenant's home account keep the names they
had before accounts per environment (`Accounts.suffix`), so an existing claim renames nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plinth.api.base import Environment
from plinth.api.catalog import ACCOUNT
from plinth.api.tenant import (
    ENVIRONMENT_ORDER,
    AccountRef,
    TenantSpec,
    account_refs,
    home_ref,
    ref_key,
)
from plinth.builders.common import ProviderConfigRef
from plinth.core.bodies import at, objects_at
from plinth.core.composition import Claim, Required, Requirement
from plinth.core.labels import TEAM
from plinth.core.tenancy import Refused, describe

LEGACY_PROVIDER_CONFIG_API = "aws.upbound.io/v1beta1"
MOVE_HINT = (
    "Plinth never moves AWS resources between accounts (it would create them anew there and "
    "delete them here). To move an environment, remove it from the apps and the tenant first "
    "(prod databases and buckets are kept in the old account), then add it back with its new "
    "account; or keep its old account (docs/tenant.md)"
)
SHARING_HINT = (
    "dev and prod never share an account: give prod an account of its own, or set "
    "spec.allowSharedProdAccount on purpose (docs/tenant.md)"
)


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


def account_requirement(ref: AccountRef) -> str:
    return f"account-{ref.claim_name}"


def provider_config_requirement(name: str) -> str:
    return f"provider-config-{name}"


def _account_claim(ref: AccountRef, required: Required) -> dict[str, Any] | None:
    if ref.claim_name is None:
        return None
    found = required.get(account_requirement(ref))
    return found[0] if found else None


def _provider_config_name(ref: AccountRef, account: dict[str, Any] | None) -> str | None:
    if ref.provider_config:
        return ref.provider_config
    pc = at(account, "status", "providerConfig")
    return pc if isinstance(pc, str) and pc else None


def _distinct(refs: list[AccountRef]) -> list[AccountRef]:
    seen: dict[tuple[str | None, str | None, str | None], AccountRef] = {}
    for r in refs:
        seen.setdefault((r.claim_name, r.account_id, r.provider_config), r)
    return list(seen.values())


def requirements(claim: Claim, spec: TenantSpec, required: Required) -> dict[str, Requirement]:
    """The resources Crossplane must fetch to resolve every account of `spec` (they may depend
    on each other: a legacy ProviderConfig is named by its AccountClaim's status)."""
    out: dict[str, Requirement] = {}
    for ref in _distinct(list(account_refs(spec).values())):
        if ref.claim_name is not None:
            out[account_requirement(ref)] = Requirement(
                api_version=ACCOUNT.api_version(claim.flavor.flavor),
                kind=ACCOUNT.kind,
                name=ref.claim_name,
                namespace=claim.namespace,
            )
        pc = _provider_config_name(ref, _account_claim(ref, required))
        if pc is not None and not claim.flavor.namespaced:
            out[provider_config_requirement(pc)] = Requirement(
                api_version=LEGACY_PROVIDER_CONFIG_API, kind="ProviderConfig", name=pc
            )
    return out


def _check_legacy_owner(claim: Claim, name: str, required: Required) -> str | None:
    """None when the team may act through the cluster-scoped ProviderConfig `name`, else why
    it waits; Refused when it belongs to someone else."""
    found = required.get(provider_config_requirement(name))
    if not found:
        return f"waiting for ProviderConfig {name!r}: it does not exist yet"
    owner = at(found[0], "metadata", "labels", TEAM)
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
    account = _account_claim(ref, required)
    where = f"AccountClaim {ref.claim_name!r} in namespace {claim.namespace!r}"
    if ref.claim_name is not None:
        if account is None:
            return f"waiting for {where}: it does not exist yet"
        namespace = at(account, "metadata", "namespace")
        if namespace != claim.namespace:
            raise Refused(
                f"AccountClaim {ref.claim_name!r} handed over from namespace {namespace!r}: a "
                "claim may only use an account of its own namespace"
            )
    pc = _provider_config_name(ref, account)
    status = at(account, "status")
    account_id = ref.account_id or at(status, "accountId")
    if not isinstance(account_id, str) or not account_id or not pc:
        return f"waiting for {where} to report its account id and ProviderConfig"
    if not claim.flavor.namespaced and (wait := _check_legacy_owner(claim, pc, required)):
        return wait
    network = None
    vpc, subnets = at(status, "vpcId"), at(status, "subnetIds", "private")
    if isinstance(vpc, str) and vpc and isinstance(subnets, list) and subnets:
        network = Network(vpc, tuple(str(s) for s in subnets))
    reported = at(status, "region")
    return Account(
        account_id,
        ProviderConfigRef(pc, kind="ProviderConfig"),
        reported if isinstance(reported, str) and reported else region,
        network,
    )


@dataclass(frozen=True)
class Accounts:
    """Which account each environment of a tenant acts in, resolved or waited for."""

    refs: dict[Environment, AccountRef]
    home: AccountRef
    resolved: dict[str, Account | str]  # by ref_key

    def _ref(self, env: Environment | None) -> AccountRef | None:
        return self.home if env is None else self.refs.get(env)

    def key(self, env: Environment) -> str:
        """'' for the home account (and an environment the tenant lacks), else the first
        environment (dev, staging, prod) in the same account. Named after an environment, not
        the account, so a change of an environment's account keeps the names and is seen as
        the move it is."""
        ref = self._ref(env)
        if ref is None or ref_key(ref) == ref_key(self.home):
            return ""
        key = ref_key(ref)
        return next(
            e.value for e in ENVIRONMENT_ORDER if e in self.refs and ref_key(self.refs[e]) == key
        )

    def suffix(self, env: Environment | None) -> str:
        """What a per-account resource's composition-resource-name ends with."""
        key = self.key(env) if env is not None else ""
        return f"-{key}" if key else ""

    def of(self, env: Environment | None) -> Account | None:
        """The account of `env` (None: the home account), once known."""
        ref = self._ref(env)
        found = self.resolved[ref_key(ref)] if ref is not None else None
        return found if isinstance(found, Account) else None

    def wait(self, env: Environment | None) -> str:
        """Why the account of `env` (None: the home account) is not known ('' if it is)."""
        ref = self._ref(env)
        if ref is None:
            return f"the tenant has no {env.value if env else ''} environment, so no account for it"
        found = self.resolved[ref_key(ref)]
        return found if isinstance(found, str) else ""

    def groups(self, envs: list[Environment]) -> dict[str, list[Environment]]:
        """The environments of `envs` by the key of the account they share."""
        out: dict[str, list[Environment]] = {}
        for env in envs:
            out.setdefault(self.key(env), []).append(env)
        return out


def plan(
    claim: Claim,
    spec: TenantSpec,
    required: Required,
    previous: Mapping[Environment, str] | None = None,
) -> Accounts:
    """Resolve every account of `spec`; Refused where prod would share one with non-prod in a
    way the schema cannot see (an AccountClaim vended for another environment, or two
    references that turn out to be the same account), unless the claim allows it on purpose,
    and where an environment's account changed from the one it was composed in (`previous`,
    from the claim's status): moving an environment is a deliberate step (docs/tenant.md)."""
    refs = account_refs(spec)
    home = home_ref(spec)
    assert home is not None  # the model requires an account for every environment
    resolved: dict[str, Account | str] = {}
    for ref in _distinct([*refs.values(), home]):
        resolved.setdefault(ref_key(ref), resolve(claim, ref, required))
    accounts = Accounts(refs, home, resolved)
    if not spec.allow_shared_prod_account:
        _check_separation(claim, accounts, required)
    moved = {
        env: (before, now.id)
        for env, before in (previous or {}).items()
        if (now := accounts.of(env)) is not None and now.id != before
    }
    if moved:
        shown = ", ".join(f"{e.value} from {a} to {b}" for e, (a, b) in moved.items())
        raise Refused(
            f"the account of environment(s) {shown} changed while they have AWS resources "
            f"there: {MOVE_HINT}"
        )
    return accounts


def _environment(value: Any) -> Environment | None:
    return (
        Environment(value)
        if isinstance(value, str) and value in Environment._value2member_map_
        else None
    )


def previous_accounts(status: Mapping[str, Any] | None) -> dict[Environment, str]:
    """The account each environment was composed in, as the claim's status reports it: a
    tenant's `accounts`, an app's `environments[].accountId`; a tenant from before accounts per
    environment reports one `accountId` for all of them."""
    out: dict[Environment, str] = {}
    legacy = at(status, "accountId")
    if at(status, "accounts") is None and isinstance(legacy, str):
        for item in objects_at(status, "namespaces"):
            if (env := _environment(item.get("environment"))) is not None:
                out[env] = legacy
    for item in [*objects_at(status, "accounts"), *objects_at(status, "environments")]:
        env, account = (
            _environment(item.get("environment") or item.get("name")),
            item.get("accountId"),
        )
        if env is not None and isinstance(account, str) and account:
            out[env] = account
    return out


def _check_separation(claim: Claim, accounts: Accounts, required: Required) -> None:
    for env, ref in accounts.refs.items():
        vended = at(_account_claim(ref, required), "spec", "environment")
        prod_env, prod_account = env is Environment.PROD, vended == Environment.PROD.value
        if vended and prod_env != prod_account:
            raise Refused(
                f"environment {env.value} uses AccountClaim {ref.claim_name!r}, which is a "
                f"{vended} account: {SHARING_HINT}"
            )
    prod = accounts.of(Environment.PROD) if Environment.PROD in accounts.refs else None
    if prod is None:
        return
    for env in accounts.refs:
        other = accounts.of(env)
        if env is not Environment.PROD and other is not None and other.id == prod.id:
            raise Refused(
                f"environments prod and {env.value} are both in account {prod.id}: {SHARING_HINT}"
            )
