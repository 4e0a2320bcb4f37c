"""Phase 2: the AWS ProviderConfig through which the baseline acts in the new account.

It assumes the role AWS Organizations creates in every new account. In the v2 flavor it is
namespaced and lives in the claim's namespace, so only claims in the team's own namespace can
act in the team's account: tenancy in AWS follows tenancy in the management cluster.
"""

from __future__ import annotations

from plinth.builders import aws
from plinth.compose.account.context import PROVIDER_CONFIG, Context, Planned


def build(ctx: Context) -> list[Planned]:
    org = ctx.platform.organization
    assert org is not None  # organization.build checked it first
    role = f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{org.access_role_name}"
    body = aws.provider_config(
        ctx.claim,
        name=ctx.provider_config_name,
        labels=ctx.labels,
        role_arn=role,
        credentials=ctx.platform.provider_configs.aws_credentials.to_wire(),
    )
    return [Planned(PROVIDER_CONFIG, body)]
