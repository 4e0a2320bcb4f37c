"""Phase 3: encryption defaults of the account's region."""

from __future__ import annotations

from plinth.builders import aws
from plinth.compose.account.context import Context, Planned

EBS_ENCRYPTION = "ebs-encryption-by-default"


def build(ctx: Context) -> list[Planned]:
    body = aws.resource(
        ctx.claim,
        "ec2",
        "EBSEncryptionByDefault",
        name=ctx.name(EBS_ENCRYPTION),
        labels=ctx.labels,
        region=ctx.region,
        for_provider={"enabled": True},
        provider_config=ctx.account_provider_config,
    )
    return [Planned(EBS_ENCRYPTION, body)]
