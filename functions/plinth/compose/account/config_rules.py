"""Phase 3: AWS Config managed rules.

Config rules need a configuration recorder in the account; Plinth assumes the organization
records every account (Control Tower or an organization-wide StackSet does).
"""

from __future__ import annotations

from plinth.builders import aws
from plinth.compose.account.context import Context, Planned
from plinth.core.naming import aws_name


def crn_of(rule: str) -> str:
    return "config-rule-" + rule.lower().replace("_", "-")


def build(ctx: Context) -> list[Planned]:
    if not ctx.spec.config.enabled:
        return []
    out = []
    for rule in ctx.spec.config.rules:
        crn = crn_of(rule)
        body = aws.resource(
            ctx.claim,
            "configservice",
            "ConfigRule",
            name=ctx.name(crn),
            labels=ctx.labels,
            region=ctx.region,
            for_provider={
                "description": f"AWS managed rule {rule}, from the Plinth account baseline",
                "source": {"owner": "AWS", "sourceIdentifier": rule},
                "tags": ctx.tags(),
            },
            provider_config=ctx.account_provider_config,
            external_name=aws_name("configservice.ConfigRule", "plinth", rule.lower()),
        )
        out.append(Planned(crn, body))
    return out
