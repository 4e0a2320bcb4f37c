"""Phase 1: the AWS account itself, created by AWS Organizations in the management account."""

from __future__ import annotations

from plinth.api.account import DeletionPolicy
from plinth.builders import aws
from plinth.builders.common import ProviderConfigRef
from plinth.compose.account.context import ACCOUNT, Context, Planned
from plinth.core.composition import PlatformIncomplete
from plinth.core.naming import aws_name


def build(ctx: Context) -> list[Planned]:
    spec, platform = ctx.spec, ctx.platform
    if platform.organization is None:
        raise PlatformIncomplete("data.organization (root id and OU per environment)")
    ou = spec.organizational_unit or platform.organization.organizational_units.get(
        spec.environment
    )
    if ou is None:
        raise PlatformIncomplete(f"data.organization.organizationalUnits.{spec.environment.value}")
    display = spec.account_name or aws_name(
        "organizations.Account", ctx.claim.team.name, spec.environment
    )
    body = aws.resource(
        ctx.claim,
        "organizations",
        "Account",
        name=ctx.claim.resource_name("account"),
        labels=ctx.labels,
        for_provider={
            "name": display,
            "email": spec.email,
            "parentId": ou,
            "closeOnDeletion": spec.deletion_policy is DeletionPolicy.DELETE,
            "iamUserAccessToBilling": "ALLOW",
            "tags": ctx.tags(),
        },
        provider_config=ProviderConfigRef(platform.provider_configs.aws_management),
        orphan=spec.deletion_policy is DeletionPolicy.ORPHAN,
    )
    return [Planned(ACCOUNT, body)]
