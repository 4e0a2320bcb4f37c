"""Phase 3: no public S3 anywhere in the account.

The account-level public access block overrides every bucket's own settings and access point
policies, so nothing in the account can be made public by a bucket policy or ACL, whoever
writes it: the Config rules S3_BUCKET_PUBLIC_READ/WRITE_PROHIBITED then only confirm it.
"""

from __future__ import annotations

from plinth.builders import aws
from plinth.compose.account.context import Context, Planned

S3_PUBLIC_ACCESS_BLOCK = "s3-account-public-access-block"


def build(ctx: Context) -> list[Planned]:
    body = aws.resource(
        ctx.claim,
        "s3control",
        "AccountPublicAccessBlock",
        name=ctx.name(S3_PUBLIC_ACCESS_BLOCK),
        labels=ctx.labels,
        for_provider={
            # The account the ProviderConfig acts in; named so the block can never land in
            # another (say, the management) account.
            "accountId": ctx.account_id,
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
        provider_config=ctx.account_provider_config,
    )
    return [Planned(S3_PUBLIC_ACCESS_BLOCK, body)]
