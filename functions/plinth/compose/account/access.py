"""Phase 2: IAM Identity Center account assignments, made in the management account."""

from __future__ import annotations

import hashlib

from plinth.builders import aws
from plinth.builders.common import ProviderConfigRef
from plinth.compose.account.context import Context, Planned
from plinth.core.composition import PlatformIncomplete


def crn_of(group_id: str, permission_set_arn: str) -> str:
    # Keyed by the pair, not its position: removing one pair must not re-target the others.
    digest = hashlib.sha256(f"{group_id}|{permission_set_arn}".encode()).hexdigest()[:10]
    return f"sso-{digest}"


def build(ctx: Context) -> list[Planned]:
    if not ctx.spec.access:
        return []
    center = ctx.platform.identity_center
    if center is None:
        raise PlatformIncomplete("data.identityCenter (needed for spec.access)")
    out = []
    for a in ctx.spec.access:
        crn = crn_of(a.group_id, a.permission_set_arn)
        body = aws.resource(
            ctx.claim,
            "ssoadmin",
            "AccountAssignment",
            name=ctx.name(crn),
            labels=ctx.labels,
            # Identity Center lives in the platform's home region, not the account's.
            region=ctx.platform.default_region,
            for_provider={
                "instanceArn": center.instance_arn,
                "permissionSetArn": a.permission_set_arn,
                "principalId": a.group_id,
                "principalType": "GROUP",
                "targetId": ctx.account_id,
                "targetType": "AWS_ACCOUNT",
            },
            provider_config=ProviderConfigRef(ctx.platform.provider_configs.aws_management),
        )
        out.append(Planned(crn, body))
    return out
