"""The three phases of an account, the gates between them, and the claim's status.

1. The Account, in the management account.
2. Once AWS Organizations reports the account id: the ProviderConfig that reaches into the
   account, and the Identity Center assignments.
3. Once that ProviderConfig exists: the baseline inside the account, and the Usages that keep
   the Account while the baseline exists.

Every resource the spec implies is listed in every phase: those whose gate is closed are
declared pending with the reason, so the function edge keeps any that already exist.
"""

from __future__ import annotations

from plinth.api.account import AccountSpec, Tier
from plinth.api.base import ApiModel
from plinth.compose.account import (
    access,
    backup,
    budget,
    ci_identity,
    config_rules,
    encryption,
    network,
    organization,
    protection,
    provider_config,
    public_access,
)
from plinth.compose.account.cidrs import ZONE_LETTERS
from plinth.compose.account.context import ACCOUNT, PROVIDER_CONFIG, Context, Planned
from plinth.core.composition import Claim, Composition, Observed, Required

WAIT_ACCOUNT = "waiting for AWS Organizations to create the account"
WAIT_PROVIDER_CONFIG = "waiting for the AWS ProviderConfig of the new account to be created"


def plan(ctx: Context) -> tuple[list[Planned], list[Planned], list[Planned]]:
    """Every resource the spec implies, by phase. Depends on the spec and platform only."""
    first = organization.build(ctx)
    second = provider_config.build(ctx) + access.build(ctx)
    baseline = (
        network.build(ctx)
        + encryption.build(ctx)
        + public_access.build(ctx)
        + backup.build(ctx)
        + config_rules.build(ctx)
        + budget.build(ctx)
        + ci_identity.build(ctx)
    )
    anchors = [network.VPC, backup.VAULT, budget.BUDGET]
    third = baseline + protection.build(ctx, first[0].body, baseline, anchors)
    return first, second, third


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, AccountSpec)
    account_id = observed.get(ACCOUNT, "status", "atProvider", "id") or ""
    if not observed.ready(ACCOUNT):
        account_id = ""  # an id without Ready: the account is still being created
    ctx = Context.of(claim, spec, account_id)
    first, second, third = plan(ctx)
    out = Composition(claim, observed)

    def stage(items: list[Planned], gate: str | None) -> None:
        for p in items:
            if gate is not None:
                out.wait(p.crn, gate)
            else:
                out.add(p.crn, p.body, after=p.after, reason=p.after_reason)

    stage(first, None)
    stage(second, None if account_id else WAIT_ACCOUNT)
    connected = bool(account_id) and PROVIDER_CONFIG in observed
    stage(third, None if connected else (WAIT_PROVIDER_CONFIG if account_id else WAIT_ACCOUNT))

    out.status.update(_status(ctx, observed))
    if not account_id:
        out.phase = "CreatingAccount"
        out.status["message"] = WAIT_ACCOUNT
    elif not connected:
        out.phase = "ConnectingAccount"
        out.status["message"] = WAIT_PROVIDER_CONFIG
    else:
        unready = [p.crn for p in (*first, *second, *third) if not observed.ready(p.crn)]
        if unready:
            out.phase = "Baselining"
            shown = ", ".join(unready[:5]) + (
                f" (+{len(unready) - 5} more)" if len(unready) > 5 else ""
            )
            out.status["message"] = (
                f"baselining the account: waiting for {len(unready)} resource(s) to become "
                f"ready: {shown}"
            )
    return out


def _status(ctx: Context, observed: Observed) -> dict[str, object]:
    def at(crn: str, key: str = "id") -> str | None:
        value = observed.get(crn, "status", "atProvider", key)
        return value if isinstance(value, str) and value else None

    status: dict[str, object] = {
        "providerConfig": ctx.provider_config_name,
        "region": ctx.region,
        "vpcCidr": network.vpc_cidr(ctx),
    }
    if ctx.account_id:
        status["accountId"] = ctx.account_id
    if vpc := at(network.VPC):
        status["vpcId"] = vpc
    net = ctx.spec.network
    subnets: dict[str, list[str]] = {}
    for tier in net.tiers:
        ids = [at(network.subnet_crn(tier, z)) for z in ZONE_LETTERS[: net.availability_zones]]
        found = [i for i in ids if i]
        if found:
            subnets[Tier(tier).value] = found
    if subnets:
        status["subnetIds"] = subnets
    if attachment := at(network.TGW_ATTACHMENT):
        status["transitGatewayAttachmentId"] = attachment
    return status
