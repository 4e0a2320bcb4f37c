"""Phase 3: the GitHub Actions OIDC identity provider, so app pipelines get short-lived roles.

One per account (IAM allows one provider per issuer URL), so it belongs to the account's
baseline rather than to any app: every AppClaim's CI role in this account trusts it.
"""

from __future__ import annotations

from plinth.builders import aws
from plinth.compose.account.context import Context, Planned

GITHUB_OIDC = "github-oidc-provider"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def build(ctx: Context) -> list[Planned]:
    if ctx.claim.platform.github is None:
        return []
    body = aws.resource(
        ctx.claim,
        "iam",
        "OpenIDConnectProvider",
        name=ctx.name(GITHUB_OIDC),
        labels=ctx.labels,
        # AWS trusts GitHub's OIDC certificate through its own root CA store; no thumbprint.
        for_provider={
            "url": f"https://{GITHUB_OIDC_HOST}",
            "clientIdList": ["sts.amazonaws.com"],
            "tags": ctx.tags(),
        },
        provider_config=ctx.account_provider_config,
    )
    return [Planned(GITHUB_OIDC, body)]
